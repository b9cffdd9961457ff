"""Success per task family of one or more VLA checkpoints on the same episodes, each against the first.

    python examples/compare_by_family.py runs/pretrain3/last runs/pretrain4/last runs/quickstart/last \
        --episodes 1000 --json runs/by_family_1000.json

Every checkpoint plays seeds 0..N-1 of every `MinVLA-Synthetic-<Family>-v0` (`evaluate_by_family`); the table
gives the rates, their mean (families weigh equally, as in MinVLA-Synthetic-v0), and for the later checkpoints
the paired change from the first with its 95% interval (`paired_change_interval`).
"""

import argparse
import json
from pathlib import Path

from minvla_gym.evaluation import evaluate_by_family, paired_change_interval
from minvla_gym.policies.model import VLA

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoints", nargs="+", help="VLA checkpoint directories; the first is the reference")
parser.add_argument("--episodes", type=int, default=200, help="episodes per family (seeds 0..N-1)")
parser.add_argument("--json", default=None,
                    help="write the rates, the changes and every episode's outcome (a 0/1 string per family) here")  # fmt: skip
args = parser.parse_args()

outcomes, rates = {}, {}  # checkpoint -> family -> [success per episode] / success rate
for checkpoint in args.checkpoints:
    policy = VLA.from_pretrained(checkpoint)  # a checkpoint or run folder, or "small"
    results = evaluate_by_family(
        policy, args.episodes, env_id="MinVLA-Synthetic-v0", env_kwargs={"size": policy.config.image_size}
    )
    outcomes[checkpoint] = {family: [e.success for e in result.records] for family, result in results.items()}
    rates[checkpoint] = {family: result.success_rate for family, result in results.items()}
    print(f"{checkpoint}: {sum(rates[checkpoint].values()) / len(results):.1%} on average", flush=True)
mean = {checkpoint: sum(r.values()) / len(r) for checkpoint, r in rates.items()}
first, families = args.checkpoints[0], list(rates[args.checkpoints[0]])
changes = {checkpoint: {f: paired_change_interval(outcomes[first][f], outcomes[checkpoint][f]) for f in families}
           for checkpoint in args.checkpoints[1:]}  # fmt: skip

print(f"{'family':12s}" + "".join(f"{'/'.join(Path(c).parts[-2:]):>32s}" for c in args.checkpoints))
for family in families:
    cells = [f"{100 * rates[first][family]:.1f}"]
    for checkpoint, change in changes.items():
        d, low, high = (100 * v for v in change[family])
        cells.append(f"{100 * rates[checkpoint][family]:.1f} ({d:+.1f} [{low:+.1f}, {high:+.1f}])")
    print(f"{family:12s}" + "".join(f"{cell:>32s}" for cell in cells))
print(f"{'mean':12s}" + "".join(f"{100 * mean[c]:>32.1f}" for c in args.checkpoints))
if args.json:
    report = {"episodes_per_family": args.episodes, "seeds": f"0-{args.episodes - 1} of each MinVLA-Synthetic-<Family>-v0",
              "rates": rates, "mean": mean, "change_from_first_95ci": changes,
              "outcomes": {c: {f: "".join("01"[w] for w in won) for f, won in o.items()} for c, o in outcomes.items()}}  # fmt: skip
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.json}")
