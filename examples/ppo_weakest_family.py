"""PPO fine-tunes a behaviour-cloned VLA on its weakest family; success before and after.

    python examples/ppo_weakest_family.py runs/quickstart/last --minutes 20 --only --lr 5e-5 --bc-steps 4 \
        --bc-batch-size 32 --bc-target start --bc-families others --episodes 1000 --seed 1 \
        --out runs/ppo-anchor-seed1                       # PPO with the KL anchor on the other nine (docs/rl.md)
    python examples/ppo_weakest_family.py runs/quickstart/last --reevaluate --episodes 1000 --out runs/ppo-anchor

1. Evaluate the checkpoint on every family (MinVLA-Synthetic-<Family>-v0, --episodes each, seeds 0..N-1).
2. Fine-tune it with PPO (`minvla finetune`) for --minutes: half the envs run the family it is worst at, half
   run every family (MinVLA-Synthetic-v0), so the other families keep a say in the policy gradient
   (--only: the weakest family alone). --trainable limits what PPO updates (e.g. the family's own head);
   --bc-steps N adds N supervised steps after each PPO update: on the expert's actions (PPO-ptx), or with
   --bc-target start on the checkpoint's own action distribution (a KL anchor); --bc-families others draws
   them from the families PPO does not run.
3. Evaluate the fine-tuned VLA on exactly the same episodes (same seeds), chart both, and count per family the
   episodes gained and lost, with a 95% interval of the paired change. --reevaluate skips PPO and evaluates
   an earlier run's OUT/ppo again (e.g. on more --episodes).
Writes OUT/before_after.json and OUT/before_after.png.
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from minvla_gym.envs.synthetic.tasks import FAMILIES  # noqa: E402
from minvla_gym.evaluation import evaluate_by_family, paired_change_interval  # noqa: E402
from minvla_gym.policies.finetune import FinetuneConfig, finetune  # noqa: E402
from minvla_gym.policies.model import VLA  # noqa: E402


def success_by_family(checkpoint, episodes: int) -> tuple[dict[str, float], dict[str, list[bool]]]:
    """Success rate per family on seeds 0..episodes-1 of its env, and each episode's outcome (for pairing)."""
    policy = VLA.from_pretrained(checkpoint)
    results = evaluate_by_family(
        policy, episodes, env_id="MinVLA-Synthetic-v0", env_kwargs={"size": policy.config.image_size}
    )
    outcomes = {family: [episode.success for episode in result.records] for family, result in results.items()}
    return {family: result.success_rate for family, result in results.items()}, outcomes


def main() -> None:  # a function: SubprocVecEnv's workers re-import this file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="behaviour-cloned VLA: a checkpoint or run folder, or small")
    parser.add_argument("--minutes", type=float, default=30.0, help="PPO wall time")
    parser.add_argument("--episodes", type=int, default=200, help="evaluation episodes per family")
    parser.add_argument("--family", default=None, help="fine-tune on this family instead of the weakest")
    parser.add_argument("--only", action="store_true", help="fine-tune on the weakest family alone (no mix)")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--trainable", default="all", help="VLA parameters PPO updates (minvla finetune --trainable)")
    parser.add_argument("--bc-steps", type=int, default=0, help="behaviour-cloning steps after each PPO update")
    parser.add_argument("--bc-batch-size", type=int, default=16, help="samples per behaviour-cloning step")
    parser.add_argument("--bc-lr", type=float, default=0.0, help="behaviour-cloning learning rate (0: --lr)")
    parser.add_argument("--bc-target", default="expert", help="expert, or start: a KL anchor to the checkpoint")
    parser.add_argument("--bc-families", default="all", help="families of those steps: all, others, or names")
    parser.add_argument("--seed", type=int, default=0, help="seed of PPO, its envs and the rehearsal batches")
    parser.add_argument("--out", default="runs/ppo-weakest")
    parser.add_argument("--reevaluate", action="store_true",
                        help="no PPO: evaluate OUT/ppo again (e.g. with more --episodes) and rewrite the report")  # fmt: skip
    args = parser.parse_args()
    out = Path(args.out)
    before, won_before = success_by_family(args.model, args.episodes)
    previous = json.loads((out / "before_after.json").read_text()) if args.reevaluate else {}
    weakest = args.family or previous.get("family") or min(before, key=before.get)
    print("before:", {k: f"{v:.1%}" for k, v in before.items()}, "-> fine-tuning on", weakest)
    envs = f"MinVLA-Synthetic-{weakest}-v0" + ("" if args.only else ",MinVLA-Synthetic-v0")
    cfg = FinetuneConfig(model=args.model, env=envs, timesteps=10**7,
                         minutes=args.minutes, out=str(out / "ppo"), lr=args.lr, n_epochs=2,
                         eval_episodes=0, threads=2, seed=args.seed, trainable=args.trainable,
                         bc_steps=args.bc_steps, bc_batch_size=args.bc_batch_size, bc_lr=args.bc_lr,
                         bc_target=args.bc_target, bc_families=args.bc_families)  # fmt: skip
    summary = previous["ppo"] if args.reevaluate else finetune(cfg)
    after, won_after = success_by_family(out / "ppo" / "last", args.episodes)  # the final policy, not a best-of pick
    # Same seeds before and after, so the change in a family is episodes gained minus episodes lost.
    flips = {f: {"gained": sum(a and not b for b, a in zip(won_before[f], won_after[f], strict=True)),
                 "lost": sum(b and not a for b, a in zip(won_before[f], won_after[f], strict=True))} for f in FAMILIES}  # fmt: skip
    change_interval = {f: paired_change_interval(won_before[f], won_after[f])[1:] for f in FAMILIES}

    mean = lambda rates: sum(rates.values()) / len(rates)  # noqa: E731  (families weigh equally, as in MinVLA-Synthetic-v0)
    report = {"model": args.model, "seed": args.seed, "family": weakest, "ppo_envs": envs, "lr": args.lr, "trainable": args.trainable, "bc_steps": args.bc_steps, "bc_batch_size": args.bc_batch_size, "bc_lr": cfg.bc_lr, "bc_target": args.bc_target, "bc_families": cfg.rehearsal_families() or "all", "episodes_per_family": args.episodes, "before": before,
              "after": after, "episodes_gained_lost": flips, "change_95ci": change_interval, "overall_before": mean(before), "overall_after": mean(after),
              "ppo": {k: summary[k] for k in ("timesteps", "steps_per_s", "seconds")}}  # fmt: skip
    (out / "before_after.json").write_text(json.dumps(report, indent=2) + "\n")
    for family in FAMILIES:
        print(
            f"{family:12s} {before[family]:6.1%} -> {after[family]:6.1%}  ({100 * (after[family] - before[family]):+.1f} pt;"
            f" 95% CI [{100 * change_interval[family][0]:+.1f}, {100 * change_interval[family][1]:+.1f}];"
            f" episodes gained {flips[family]['gained']}, lost {flips[family]['lost']})"
        )
    print(f"{'overall':12s} {mean(before):6.1%} -> {mean(after):6.1%}; PPO: {summary['timesteps']} steps, "
          f"{summary['steps_per_s']:.1f} steps/s")  # fmt: skip

    fig, ax = plt.subplots(figsize=(10, 3.8))
    x = range(len(FAMILIES))
    ax.bar([i - 0.2 for i in x], [before[f] for f in FAMILIES], 0.4, label="behaviour cloning")
    ax.bar([i + 0.2 for i in x], [after[f] for f in FAMILIES], 0.4, label=f"+ PPO on {weakest} ({args.minutes:g} min)")
    ax.set(xticks=list(x), ylabel="success rate", ylim=(0, 1),
           title=f"success by family, {args.episodes} episodes each, same seeds before and after")  # fmt: skip
    ax.set_xticklabels(FAMILIES, rotation=20)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "before_after.png", dpi=90)
    print(f"wrote {out}/before_after.json and {out}/before_after.png")


if __name__ == "__main__":
    main()
