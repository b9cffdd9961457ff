"""`minvla quickstart`: train the default policy on synthetic expert demos, then report its success.

    minvla quickstart                 # 30 minutes on a laptop CPU, collection (on the fly) included
    minvla quickstart --minutes 5     # a shorter look
    minvla quickstart --from-scratch  # random weights instead of the shipped pretrained checkpoint
    minvla quickstart --preset tiny   # other presets start from scratch (the shipped checkpoint is small)

Behaviour cloning of the `small` VLA straight from the scripted expert (no dataset on disk), with the
schedule sized to the time budget, then an evaluation of the final weights (`last/`) on held-out seeds of
MinVLA-Synthetic-v0: success overall and per task family, with 95% intervals.

By default training starts from the shipped weights (`--init small`, minvla_gym/checkpoints/small): a `small`
VLA behaviour-cloned on the same synthetic expert (other seeds), then fine-tuned with PPO on Scroll, by
`examples/pretrain.py`, because reading labels takes more optimizer steps than 30 CPU minutes hold. From it the
quickstart clones the expert on the nine other families and holds Scroll at the checkpoint's own actions (a KL
anchor), so that behaviour cloning does not undo what PPO found there.

The run folder (--out) is `minvla train`'s, plus quickstart.json (the final evaluation).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

EVAL_SEED = 0  # training episodes use seeds >= 2**62, in-training checks 1_000_000 + k: these are held out
FINAL_EVAL_RESERVE = 0.04  # share of the budget kept back from training for the final evaluation (~1 min of 30)
PRETRAINED = Path(__file__).parent / "checkpoints" / "small"  # made by examples/pretrain.py
# From the pretrained weights: PPO's learning rate, a short warmup, then cosine decay all the way. The shipped
# weights end with PPO stages on Scroll (examples/pretrain.py); behaviour cloning at the from-scratch rate (3e-4)
# takes Scroll back to its behaviour-cloned level within minutes, at 5e-5 it fine-tunes the families and keeps it.
FINETUNE_SCHEDULE = {"lr": 5e-5, "warmup": 0.02, "decay": 0.9}
# The training mix on MinVLA-Synthetic-v0: a family named k times is drawn k times as often. The five that
# behaviour cloning from scratch learns slowest get 2-3x the samples, Scroll 19% of them instead of 10%.
# The second pretraining stage (examples/pretrain.py) trains on it too; evaluation weighs every family equally.
WEAK_FAMILIES_FIRST = ("Scroll,Scroll,Scroll,Type,Type,Icon,Icon,Slider,Slider,RightClick,RightClick,"
                       "Menu,Click,DoubleClick,Drag,Hotkey")  # fmt: skip
# Fine-tuning the shipped checkpoint: the same mix without Scroll, whose screens instead hold the checkpoint's own
# action distribution (FINETUNE_ANCHOR, `minvla train --anchor-families`). The checkpoint's last stages are PPO on
# Scroll, and behaviour cloning on Scroll takes that back, even at 5e-5.
FINETUNE_FAMILIES = ",".join(family for family in WEAK_FAMILIES_FIRST.split(",") if family != "Scroll")
FINETUNE_ANCHOR = "Scroll"


def training_mix(env_id: str, init: str | None) -> tuple[str | None, str | None]:
    """The quickstart's "auto" mix and anchor: FINETUNE_FAMILIES and FINETUNE_ANCHOR from the shipped checkpoint,
    WEAK_FAMILIES_FIRST and no anchor otherwise on MinVLA-Synthetic-v0; every family equally (None) for other envs."""
    if env_id != "MinVLA-Synthetic-v0":
        return None, None
    if init is not None and Path(init).resolve() == PRETRAINED.resolve():
        return FINETUNE_FAMILIES, FINETUNE_ANCHOR
    return WEAK_FAMILIES_FIRST, None


def configure_cli(parser: argparse.ArgumentParser) -> None:
    from minvla_gym.cli import DEVICE_HELP

    parser.add_argument("--minutes", type=float, default=30.0, help="wall-time budget, evaluation included")
    parser.add_argument("--preset", default="small", help="model size: tiny, small or base")
    parser.add_argument("--out", default="runs/quickstart", help="run folder (refused if it holds a run)")
    parser.add_argument("--episodes", type=int, default=200, help="final evaluation episodes")
    parser.add_argument("--check-episodes", type=int, default=200, help="episodes per in-training check")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the data")
    parser.add_argument("--env", default="MinVLA-Synthetic-v0", help="env id to train for and evaluate on")
    parser.add_argument("--families", default="auto",
                        help="training mix, comma-separated, repeats weigh (auto: on MinVLA-Synthetic-v0 "
                             "FINETUNE_FAMILIES from the shipped checkpoint, else WEAK_FAMILIES_FIRST; every family "
                             "on other envs; all: every family equally)")  # fmt: skip
    parser.add_argument("--anchor-families", default="auto",
                        help="families held at the starting checkpoint's action distribution (minvla train's; auto: "
                             "FINETUNE_ANCHOR from the shipped checkpoint, else none; none: none)")  # fmt: skip
    parser.add_argument("--short-scrolls", type=float, default=0.0,
                        help="probability that an expert scroll is executed short while collecting (minvla train's)")  # fmt: skip
    parser.add_argument("--dagger", type=float, default=0.0,
                        help="share of --dagger-families samples from episodes the policy plays (minvla train's)")  # fmt: skip
    parser.add_argument("--dagger-families", default="Scroll", help="families --dagger applies to")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--init", default="auto", help="checkpoint or run folder to start from (auto: small, the "
                       "shipped VLA, for --preset small; from scratch for the others)")  # fmt: skip
    start.add_argument("--from-scratch", dest="init", action="store_const", const=None,
                       help="start from random weights of --preset instead")  # fmt: skip
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    parser.set_defaults(func=run_cli)


def quickstart(minutes: float = 30.0, preset: str = "small", out: str = "runs/quickstart", episodes: int = 200,
               device: str = "auto", seed: int = 0, env_id: str = "MinVLA-Synthetic-v0", progress: bool = True,
               check_episodes: int = 200, init: str | None = "auto", families: str | None = "auto",
               short_scrolls: float = 0.0, dagger: float = 0.0, dagger_families: str | None = "Scroll",
               anchor_families: str | None = "auto"):  # fmt: skip
    """Train within `minutes` of wall time and evaluate; returns (EvalResult, training summary).

    `init`: a checkpoint to fine-tune (its architecture wins over `preset`); None trains `preset` from scratch;
    "auto" is the shipped checkpoint for `small` (the default preset) and from scratch for the other presets.
    `families`: the training mix (`minvla train --families`), `anchor_families` the families held at `init`'s
    action distribution (`--anchor-families`); "auto" is `training_mix(env_id, init)`'s for each; "all" or None
    families is every family equally, "none" or None anchor is none. `short_scrolls`, `dagger`,
    `dagger_families`: see `TrainConfig`.
    """
    from minvla_gym.evaluation import evaluate
    from minvla_gym.policies.model import VLA, find_checkpoint, resolve_device
    from minvla_gym.policies.train import TrainConfig, train

    if minutes <= 0 or episodes < 1:
        raise ValueError(f"--minutes must be positive and --episodes >= 1, got {minutes} and {episodes}")
    if init == "auto":
        init = str(PRETRAINED) if preset == "small" else None
    if init is not None:
        init = str(find_checkpoint(init, announce=True))
    auto_families, auto_anchor = training_mix(env_id, init)
    families = auto_families if families == "auto" else families
    anchor_families = auto_anchor if anchor_families == "auto" else anchor_families
    began = time.time()
    schedule = FINETUNE_SCHEDULE if init else {}
    cfg = TrainConfig(synthetic=True, preset=preset, max_iters=10**9, out=out, device=device, seed=seed,
                      time_budget=minutes * (1 - FINAL_EVAL_RESERVE), eval_env=env_id, progress=progress,
                      eval_episodes=check_episodes, eval_minutes=max(0.5, minutes / 6), init=init,
                      families=None if families == "all" else families, short_scrolls=short_scrolls,
                      dagger=dagger, dagger_families=dagger_families,
                      anchor_families=None if anchor_families == "none" else anchor_families, **schedule)  # fmt: skip
    summary = train(cfg)
    # last/, not best/: the schedule decays to the end, and picking the best of noisy in-training checks
    # (a few hundred episodes: several points either way) selects noise.
    summary["checkpoint"] = str(Path(out) / "last")
    model = VLA.from_checkpoint(summary["checkpoint"], device=resolve_device(device))
    result = evaluate(model, env_id, episodes, EVAL_SEED, num_envs=16, progress=False)
    summary["wall_minutes"], summary["init"] = (time.time() - began) / 60, init
    (Path(out) / "quickstart.json").write_text(json.dumps({**result.to_dict(), "training": summary}, indent=2) + "\n")
    return result, summary


def learning_curve(out: str) -> str:
    """The in-training evaluations as 'minutes -> success' lines."""
    path = Path(out) / "eval.csv"
    if not path.exists():
        return ""
    lines = []
    for row in csv.DictReader(path.open()):
        families = " ".join(f"{k[7:]} {float(v):.0%}" for k, v in row.items() if k.startswith("family:") and v)
        lines.append(
            f"  {float(row['minutes']):5.1f} min  step {int(row['step']):6d}  {float(row['success_rate']):6.1%}  {families}"
        )
    return "\n".join(lines)


def run_cli(args: argparse.Namespace) -> int:
    result, summary = quickstart(args.minutes, args.preset, args.out, args.episodes, args.device, args.seed,
                                 args.env, args.progress, args.check_episodes, args.init, args.families,
                                 args.short_scrolls, args.dagger, args.dagger_families,
                                 args.anchor_families)  # fmt: skip
    print(f"\nlearning curve (in-training checks, {args.env}):\n{learning_curve(args.out)}")
    start = f"fine-tuned from {summary['init']}" if summary["init"] else f"{args.preset} from scratch"
    print(f"\n{args.env}, {result.episodes} held-out episodes, {start}, final checkpoint {summary['checkpoint']} "
          f"({summary['steps']} steps, {summary['wall_minutes']:.1f} min wall):")  # fmt: skip
    print(result.table())
    print(f"\nsuccess: {result.success_rate:.1%}  (details: {args.out}/quickstart.json, curves: {args.out}/curves.png)")
    return 0
