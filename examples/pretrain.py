"""Reproduce the pretrained checkpoint that `minvla quickstart` fine-tunes (minvla_gym/checkpoints/small).

    python examples/pretrain.py                                # 90 + 75 + 70 + 75 + 60 + 45 + 4 x 25 minutes on a
                                                               # 2-core CPU, then copies stage 11's VLA into the package
    python examples/pretrain.py --minutes 10 --more-minutes 5 --last-minutes 5 --final-minutes 5 --word-minutes 5 \
        --scroll-minutes 5 --ppo-minutes 2                     # a shorter look (does not replace the shipped one)
    python examples/pretrain.py --from-stage 7                 # stages 7-11 only, from runs/pretrain6/last

Stage 1 (runs/pretrain): plain behaviour cloning of the `small` VLA from scratch on the synthetic expert,
every family equally, data seed 1, 90 minutes.
Stage 2 (runs/pretrain2): 75 more minutes from stage 1's final weights, with a fresh schedule (lr 5e-4, 2%
warmup, cosine decay over the second half) and data seed 2, drawing the families that stage 1 left weakest
more often (`WEAK_FAMILIES_FIRST`).
Stage 3 (runs/pretrain3): 70 more minutes from stage 2's final weights, lr 3e-4 (stage 2's checks stalled at
its 5e-4 peak), 2% warmup, cosine decay over the last 60%, data seed 3, on `STAGE3_FAMILIES`: the families
stage 2 left weakest drawn 2-4x as often again.
Stage 4 (runs/pretrain4): 75 more minutes from stage 3's final weights, stage 3's schedule with data seed 4,
on `STAGE4_FAMILIES` (Icon raised to Scroll's 4/20), with the Scroll expert's middle-row scrolls and the look
losses (each icon's colour and shape, which field is focused). The quickstart uses seed 0; evaluations use small seeds and
training seeds are >= 2**62, so no evaluation episode is ever trained on.
Stage 5 (runs/pretrain5): 60 more minutes from stage 4's final weights, stage 4's schedule with data seed 5, with
the word loss (which vocabulary label each patch shows, and the target's), on `STAGE5_FAMILIES`.
Stage 6 (runs/pretrain6): 45 more minutes from stage 5's final weights, stage 5's schedule with data seed 6, on
`STAGE6_FAMILIES`: Scroll, the weakest family, drawn for 8 of every 19 samples.
Stage 7 (runs/pretrain7): 25 minutes of PPO on Scroll from stage 6's final weights (`minvla finetune`: lr 5e-5,
2 epochs, seed 1), with 4 anchor steps after each update that hold the other nine families at stage 6's action
distribution (--bc-target start --bc-families others; docs/rl.md). Behaviour cloning treats a
wrong click and a wrong scroll alike, though only the click ends the episode; PPO learns from the outcome.
Stage 8 (runs/pretrain8): the same for 25 more minutes from stage 7's VLA (seed 2; the anchor holds stage 7's).
Stages 9 and 10 (runs/pretrain9, runs/pretrain10): the same twice more, each from stage 8's VLA (seeds 3 and 4).
Stage 11 (runs/pretrain11): the uniform average of stages 9 and 10 (`SOUP_STAGES`, a model soup), the shipped
checkpoint (runs from the same weights stay in one basin, so their average is a working VLA).
The same as:
    minvla train --synthetic --preset small --max-iters 1000000 --time-budget 90 --eval-minutes 10
                 --eval-episodes 60 --seed 1 --out runs/pretrain
    minvla train --synthetic --init runs/pretrain/last --max-iters 1000000 --time-budget 75 --eval-minutes 10
                 --eval-episodes 200 --seed 2 --lr 5e-4 --warmup 0.02 --decay 0.5
                 --families Scroll,Scroll,Scroll,Type,Type,Icon,Icon,Slider,Slider,RightClick,RightClick,
                            Menu,Click,DoubleClick,Drag,Hotkey --out runs/pretrain2
    minvla train --synthetic --init runs/pretrain2/last --max-iters 1000000 --time-budget 70 --eval-minutes 10
                 --eval-episodes 200 --seed 3 --lr 3e-4 --warmup 0.02 --decay 0.6
                 --families Scroll,Scroll,Scroll,Scroll,Icon,Icon,Icon,Type,Type,Type,Slider,Slider,
                            RightClick,RightClick,Menu,Click,DoubleClick,Drag,Hotkey --out runs/pretrain3
    minvla train --synthetic --init runs/pretrain3/last --max-iters 1000000 --time-budget 75 --eval-minutes 15
                 --eval-episodes 200 --seed 4 --lr 3e-4 --warmup 0.02 --decay 0.6
                 --families Scroll,Scroll,Scroll,Scroll,Icon,Icon,Icon,Icon,Type,Type,Type,Slider,Slider,
                            RightClick,RightClick,Menu,Click,DoubleClick,Drag,Hotkey --out runs/pretrain4
    minvla train --synthetic --init runs/pretrain4/last --max-iters 1000000 --time-budget 60 --eval-minutes 15
                 --eval-episodes 200 --seed 5 --lr 3e-4 --warmup 0.02 --decay 0.6
                 --families Scroll,Scroll,Scroll,Scroll,Type,Type,Icon,Icon,DoubleClick,DoubleClick,RightClick,
                            RightClick,Slider,Slider,Click,Click,Menu,Drag,Hotkey --out runs/pretrain5
    minvla train --synthetic --init runs/pretrain5/last --max-iters 1000000 --time-budget 45 --eval-minutes 15
                 --eval-episodes 200 --seed 6 --lr 3e-4 --warmup 0.02 --decay 0.6
                 --families Scroll,Scroll,Scroll,Scroll,Scroll,Scroll,Scroll,Scroll,Type,Type,RightClick,
                            RightClick,Icon,Slider,DoubleClick,Click,Menu,Drag,Hotkey --out runs/pretrain6
    minvla finetune --model runs/pretrain6/last --env MinVLA-Synthetic-Scroll-v0 --minutes 25 --timesteps 10000000
                    --lr 5e-5 --n-epochs 2 --threads 2 --seed 1 --eval-episodes 0 --bc-steps 4 --bc-batch-size 32
                    --bc-target start --bc-families others --out runs/pretrain7
    minvla finetune --model runs/pretrain7/last ... --seed 2 --out runs/pretrain8  (the rest as stage 7)
    minvla finetune --model runs/pretrain8/last ... --seed 3 --out runs/pretrain9  (and --seed 4 ... pretrain10)
"""

import argparse
import shutil
from pathlib import Path

from minvla_gym.policies.finetune import FinetuneConfig, finetune
from minvla_gym.policies.model import VLA
from minvla_gym.policies.train import TrainConfig, train
from minvla_gym.quickstart import PRETRAINED, WEAK_FAMILIES_FIRST

# Each stage draws the families that the previous one left weakest more often. Stage 3: Scroll 4/19 of the
# samples, Icon and Type 3/19, Slider and RightClick 2/19.
STAGE3_FAMILIES = ("Scroll,Scroll,Scroll,Scroll,Icon,Icon,Icon,Type,Type,Type,Slider,Slider,RightClick,RightClick,"
                   "Menu,Click,DoubleClick,Drag,Hotkey")  # fmt: skip
# Stage 4: Icon as many samples as Scroll.
STAGE4_FAMILIES = ("Scroll,Scroll,Scroll,Scroll,Icon,Icon,Icon,Icon,Type,Type,Type,Slider,Slider,RightClick,"
                   "RightClick,Menu,Click,DoubleClick,Drag,Hotkey")  # fmt: skip
# Stage 5: Scroll keeps 4/19; Icon falls back to 2/19, DoubleClick and Click rise to 2/19.
STAGE5_FAMILIES = ("Scroll,Scroll,Scroll,Scroll,Type,Type,Icon,Icon,DoubleClick,DoubleClick,RightClick,RightClick,"
                   "Slider,Slider,Click,Click,Menu,Drag,Hotkey")  # fmt: skip
# Stage 6: Scroll takes 8/19; Type and RightClick keep 2/19, the rest 1/19 each.
STAGE6_FAMILIES = ("Scroll,Scroll,Scroll,Scroll,Scroll,Scroll,Scroll,Scroll,Type,Type,RightClick,RightClick,Icon,"
                   "Slider,DoubleClick,Click,Menu,Drag,Hotkey")  # fmt: skip

# The shipped checkpoint: the uniform average of these PPO stages' VLAs (stage 11).
SOUP_STAGES = (9, 10)


def later_stage(stage: int, previous: TrainConfig, minutes: float, families: str, out: str, eval_minutes: float = 15):
    """Stages 3-6: the previous stage's final weights, lr 3e-4, 2% warmup, cosine decay over the last 60%."""
    return TrainConfig(synthetic=True, init=str(Path(previous.out) / "last"), max_iters=10**6, time_budget=minutes,
                       eval_minutes=eval_minutes, eval_episodes=200, seed=stage, lr=3e-4, warmup=0.02, decay=0.6,
                       families=families, out=out + str(stage))  # fmt: skip


def ppo_stage(stage: int, model: str, minutes: float, out: str) -> FinetuneConfig:
    """Stages 7-10: PPO on Scroll (lr 5e-5, 2 epochs), 4 anchor steps after each update holding the other nine
    families at the starting VLA's action distribution (docs/rl.md)."""
    return FinetuneConfig(model=model, env="MinVLA-Synthetic-Scroll-v0", timesteps=10**7, minutes=minutes,
                          out=out + str(stage), lr=5e-5, n_epochs=2, eval_episodes=0, threads=2, seed=stage - 6,
                          bc_steps=4, bc_batch_size=32, bc_target="start", bc_families="others")  # fmt: skip


def average_weights(checkpoints: list[str], out: str) -> VLA:
    """The uniform average of the VLAs in `checkpoints` (a model soup: runs from the same weights stay in one basin,
    so their average is a working VLA; Wortsman et al. 2022), saved to `out`."""
    models = [VLA.from_pretrained(path) for path in checkpoints]  # checkpoint or run folders
    states = [model.state_dict() for model in models]
    average = {k: sum(state[k] for state in states) / len(states) if v.is_floating_point() else v
               for k, v in states[0].items()}  # fmt: skip
    models[0].load_state_dict(average)
    models[0].save(out)
    return models[0]


def main() -> None:  # a function: the PPO stages' SubprocVecEnv workers re-import this file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=90.0, help="stage 1 (from scratch)")
    parser.add_argument("--more-minutes", type=float, default=75.0, help="stage 2 (weak families drawn more often)")
    parser.add_argument("--last-minutes", type=float, default=70.0, help="stage 3 (the weakest drawn more still)")
    parser.add_argument("--final-minutes", type=float, default=75.0, help="stage 4 (middle-row scrolls, look losses)")
    parser.add_argument("--word-minutes", type=float, default=60.0, help="stage 5 (the word loss)")
    parser.add_argument("--scroll-minutes", type=float, default=45.0, help="stage 6 (Scroll drawn 8/19)")
    parser.add_argument("--ppo-minutes", type=float, default=25.0, help="stages 7-10 each (PPO on Scroll)")
    parser.add_argument("--out", default="runs/pretrain", help="stage 1's folder; stage k writes to OUT + 'k'")
    parser.add_argument("--from-stage", type=int, default=1, choices=range(1, 12), metavar="1-11",
                        help="start at this stage, from the previous stage's final weights already on disk")  # fmt: skip
    args = parser.parse_args()

    def run(stage: int, cfg: TrainConfig) -> None:
        if stage >= args.from_stage:
            summary = train(cfg)
            print(f"stage {stage}: {summary['steps']} steps in {summary['minutes']:.1f} min, "
                  f"best check {summary['best_success']:.1%}")  # fmt: skip

    stage1 = TrainConfig(synthetic=True, preset="small", max_iters=10**6, time_budget=args.minutes, eval_minutes=10,
                         eval_episodes=60, seed=1, out=args.out)  # fmt: skip
    run(1, stage1)
    stage2 = TrainConfig(synthetic=True, init=str(Path(args.out) / "last"), max_iters=10**6,
                         time_budget=args.more_minutes, eval_minutes=10, eval_episodes=200, seed=2, lr=5e-4,
                         warmup=0.02, decay=0.5, families=WEAK_FAMILIES_FIRST, out=args.out + "2")  # fmt: skip
    run(2, stage2)
    stage3 = later_stage(3, stage2, args.last_minutes, STAGE3_FAMILIES, args.out, eval_minutes=10)
    run(3, stage3)
    stage4 = later_stage(4, stage3, args.final_minutes, STAGE4_FAMILIES, args.out)
    run(4, stage4)
    stage5 = later_stage(5, stage4, args.word_minutes, STAGE5_FAMILIES, args.out)
    run(5, stage5)
    stage6 = later_stage(6, stage5, args.scroll_minutes, STAGE6_FAMILIES, args.out)
    run(6, stage6)
    stage7 = ppo_stage(7, str(Path(stage6.out) / "last"), args.ppo_minutes, args.out)
    stage8 = ppo_stage(8, stage7.out, args.ppo_minutes, args.out)
    stage9 = ppo_stage(9, stage8.out, args.ppo_minutes, args.out)  # 9 and 10: two more runs from stage 8
    stage10 = ppo_stage(10, stage8.out, args.ppo_minutes, args.out)
    ppo = {7: stage7, 8: stage8, 9: stage9, 10: stage10}
    for stage, cfg in ppo.items():
        if stage >= args.from_stage:
            summary = finetune(cfg)
            print(f"stage {stage}: {summary['timesteps']} PPO steps in {summary['seconds'] / 60:.1f} min, "
                  f"{summary['steps_per_s']:.1f} steps/s")  # fmt: skip
    soup = args.out + "11"
    average_weights([ppo[stage].out for stage in SOUP_STAGES], soup)
    print(f"stage 11: the average of stages {SOUP_STAGES} in {soup}")
    # The final weights, not best/: the in-training checks carry several points of noise, and picking the best of
    # them selects that noise.
    budgets = (args.minutes, args.more_minutes, args.last_minutes, args.final_minutes, args.word_minutes,
               args.scroll_minutes, args.ppo_minutes)  # fmt: skip
    if all(m >= full for m, full in zip(budgets, (90, 75, 70, 75, 60, 45, 25), strict=True)):  # full runs only
        PRETRAINED.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(Path(soup) / name, PRETRAINED / name)
        print(f"copied {soup} into {PRETRAINED}")


if __name__ == "__main__":
    main()
