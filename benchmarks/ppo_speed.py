"""PPO on this machine: env steps per second, and the from-scratch learning curve on Click.

    python benchmarks/ppo_speed.py                    # steps/s of the two ways in (VLAPolicy, features extractor)
    python benchmarks/ppo_speed.py --curve --minutes 13 --threads 1 --eval-every 2048   # -> docs/ppo_from_scratch_click.png
    python benchmarks/ppo_speed.py --curve --minutes 13 --threads 1 --eval-every 2048 --policy vla

Speed: `PPO.learn` of `--steps` env steps after an untimed rollout-and-update warm-up, for
  - `VLAPolicy` (the VLA's own heads: what `minvla finetune` runs), and
  - `MultiInputPolicy` with `VLAFeaturesExtractor` (the VLA trunk under SB3's MLP heads),
with the share of the time spent collecting rollouts (the rest is the PPO update).

Curve (`--curve`): PPO from scratch on MinVLA-Synthetic-Click-v0 for `--minutes` of wall time, with
`--policy extractor` (MultiInputPolicy + VLAFeaturesExtractor, the default) or `--policy vla` (VLAPolicy);
every `--eval-every` steps `minvla_gym.evaluate` runs the deterministic policy on the same `--episodes`
held-out seeds. Writes PNG.<policy>.csv (timesteps, minutes, success, CI, rollout success) and draws every
policy's CSV found next to the PNG into it.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from minvla_gym.evaluation import evaluate
from minvla_gym.policies.finetune import make_envs
from minvla_gym.policies.model import VLA, VLAConfig
from minvla_gym.policies.sb3 import VLAFeaturesExtractor, make_ppo


@dataclass
class Args:
    env_id: str = "MinVLA-Synthetic-Click-v0"
    """env to train on"""
    preset: str = "tiny"
    """VLA preset (for both policies)"""
    size: int = 128
    """screen side in pixels (the VLA's image_size)"""
    n_envs: int = 4
    """parallel envs (DummyVecEnv: the env is ~1 ms a step, the policy dominates)"""
    n_steps: int = 128
    """steps per env per rollout"""
    batch_size: int = 128
    """PPO minibatch"""
    n_epochs: int = 4
    """PPO epochs per rollout"""
    lr: float = 3e-4
    """learning rate"""
    ent_coef: float = 0.01
    """entropy bonus (the curve run)"""
    threads: int = 0
    """torch threads (0: torch's default)"""
    steps: int = 2048
    """timed env steps per policy (speed)"""
    curve: bool = False
    """train from scratch and write the learning curve instead"""
    policy: str = "extractor"
    """the curve's policy: extractor (MultiInputPolicy + VLAFeaturesExtractor) or vla (VLAPolicy)"""
    plot_only: bool = False
    """only redraw the PNG from the CSVs next to it"""
    minutes: float = 12.0
    """wall-time budget of the curve run, evaluations included"""
    eval_every: int = 4096
    """env steps between evaluations (curve)"""
    episodes: int = 100
    """evaluation episodes, seeds 0..episodes-1 every time (curve)"""
    png: str = "docs/ppo_from_scratch_click.png"
    """learning-curve figure (curve); the CSV goes next to it"""
    seed: int = 0
    """seed of PPO and the envs"""


class Timer(BaseCallback):
    """Wall time spent collecting rollouts (the rest of `learn` is the PPO update)."""

    def __init__(self):
        super().__init__()
        self.rollout_s = 0.0

    def _on_rollout_start(self) -> None:
        self.started = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self.rollout_s += time.perf_counter() - self.started

    def _on_step(self) -> bool:
        return True


POLICIES = {  # --policy: the label of its curve
    "extractor": "MultiInputPolicy + VLAFeaturesExtractor (SB3's heads)",
    "vla": "VLAPolicy (the VLA's own heads)",
}


def make_model(policy: str, args: Args, config: VLAConfig, envs, **kwargs) -> PPO:
    """PPO from scratch with either way in (see the module docstring)."""
    kwargs = dict(n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs, learning_rate=args.lr,
                  seed=args.seed, **kwargs)  # fmt: skip
    if policy == "vla":
        return make_ppo(envs, VLA(config), **kwargs)
    policy_kwargs = dict(features_extractor_class=VLAFeaturesExtractor, features_extractor_kwargs=dict(config=config))
    return PPO("MultiInputPolicy", envs, policy_kwargs=policy_kwargs, **kwargs)


def speed(args: Args, config: VLAConfig) -> dict:
    results = {}
    for policy, name in POLICIES.items():
        envs = make_envs(args.env_id, config, args.n_envs, args.seed)
        model = make_model(policy, args, config, envs)
        model.learn(args.n_steps * args.n_envs)  # warm-up: one rollout and one update
        timer, cpu, start = Timer(), time.process_time(), time.perf_counter()
        model.learn(args.steps, callback=timer, reset_num_timesteps=False)
        wall = time.perf_counter() - start
        steps = model.num_timesteps - args.n_steps * args.n_envs
        results[name] = {"steps_per_s": round(steps / wall, 1), "steps_per_cpu_s": round(steps / (time.process_time() - cpu), 1),
                         "rollout_share": round(timer.rollout_s / wall, 3), "steps": steps}  # fmt: skip
        print(f"{name:55s} {steps / wall:6.1f} env steps/s, {results[name]['steps_per_cpu_s']:6.1f} per CPU second "
              f"({100 * timer.rollout_s / wall:.0f}% of the time in rollouts)")  # fmt: skip
        envs.close()
    return results


def curve(args: Args, config: VLAConfig) -> list[dict]:
    envs = make_envs(args.env_id, config, args.n_envs, args.seed)
    model = make_model(args.policy, args, config, envs, ent_coef=args.ent_coef)
    rows, start = [], time.time()

    def measure():
        result = evaluate(model, args.env_id, args.episodes, seed=0, env_kwargs={"size": config.image_size},
                          num_envs=8, progress=False)  # fmt: skip
        rollout = [float(s) for s in model.ep_success_buffer or ()]
        rows.append({"timesteps": model.num_timesteps, "minutes": round((time.time() - start) / 60, 2),
                     "success_rate": result.success_rate, "ci_low": result.ci[0], "ci_high": result.ci[1],
                     "rollout_success": sum(rollout) / len(rollout) if rollout else float("nan")})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)

    measure()
    while (time.time() - start) / 60 < args.minutes:
        model.learn(args.eval_every, reset_num_timesteps=False)
        measure()
    png = Path(args.png)
    png.parent.mkdir(parents=True, exist_ok=True)
    with open(png.with_suffix(f".{args.policy}.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(png, args, config)
    return rows


def plot(png: Path, args: Args, config: VLAConfig) -> None:
    """One curve per policy whose CSV lies next to the PNG (PNG.extractor.csv, PNG.vla.csv)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for policy, label in POLICIES.items():
        path = png.with_suffix(f".{policy}.csv")
        if not path.is_file():
            continue
        with open(path) as f:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        steps = [r["timesteps"] for r in rows]
        line, = ax.plot(steps, [100 * r["success_rate"] for r in rows], "o-", ms=3,
                        label=f"{label}, {rows[-1]['minutes']:.0f} min")  # fmt: skip
        ax.fill_between(steps, [100 * r["ci_low"] for r in rows], [100 * r["ci_high"] for r in rows],
                        color=line.get_color(), alpha=0.15)  # fmt: skip
        ax.plot(steps, [100 * r["rollout_success"] for r in rows], ":", color=line.get_color())
    chance = evaluate(
        "random", args.env_id, args.episodes, seed=0, env_kwargs={"size": config.image_size}, progress=False
    )
    ax.axhline(100 * chance.success_rate, color="grey", ls="--", lw=1, label="uniformly random actions")
    ax.set(xlabel="env steps", ylabel="success (%)", ylim=(0, 40),
           title=f"PPO from scratch on {args.env_id.removeprefix('MinVLA-Synthetic-')}, {args.preset} VLA at "
                 f"{config.image_size} px, 2-core CPU\nsolid: deterministic on {args.episodes} held-out seeds (95% CI); "
                 "dotted: sampled rollouts")  # fmt: skip
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    print(f"wrote {png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(Args):
        flag = f"--{f.name.replace('_', '-')}"
        if f.type == "bool":
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default)
    args = Args(**vars(parser.parse_args()))
    if args.threads:
        torch.set_num_threads(args.threads)
    config = VLAConfig.preset(args.preset, image_size=args.size)
    print(f"{args.preset} VLA at {args.size} px, {args.n_envs} envs, torch threads {torch.get_num_threads()}")
    if args.policy not in POLICIES:
        parser.error(f"--policy must be one of {list(POLICIES)}")
    if args.plot_only:
        plot(Path(args.png), args, config)
    elif args.curve:
        curve(args, config)
    else:
        speed(args, config)


if __name__ == "__main__":
    main()
