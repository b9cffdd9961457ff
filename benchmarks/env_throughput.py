"""Env throughput: steps per second of the synthetic desktop next to MiniGrid's RGB env, in one run.

Every figure is the median of `--repeats` timed runs of `--steps` steps, measured the way a user
steps the env: through `gym.make` (so with its PassiveEnvChecker, OrderEnforcing and TimeLimit
wrappers), random actions from `env.action_space.sample()`, resets included when episodes end.
A warm-up first steps the env `--warmup` times, untimed: every new (word, font size) is rasterised
once and cached (~0.3 ms each), so the figures are the steady state that long runs (demo collection,
training) live in; `--warmup 0` times a cold start instead.

    python benchmarks/env_throughput.py                      # every family mixed, 224x224
    python benchmarks/env_throughput.py --env-id MinVLA-Synthetic-Click-v0 --repeats 7
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

import minvla_gym  # noqa: F401  (registers the ids)


@dataclass
class Args:
    env_id: str = "MinVLA-Synthetic-v1"
    """the synthetic env to time"""
    size: int = 224
    """screen side in pixels"""
    steps: int = 3000
    """steps per timed run (for the vector env: steps of all workers together)"""
    repeats: int = 5
    """timed runs per figure; the median is printed"""
    warmup: int = 20000
    """untimed random steps before the first figure, to fill the glyph caches (0: time a cold start)"""
    workers: int = 2
    """AsyncVectorEnv workers (forked after the warm-up, so they start with its caches)"""
    seed: int = 0
    """seed of the first run; run i uses seed + i"""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(Args):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    return Args(**vars(parser.parse_args()))


def steps_per_second(env: gym.Env, steps: int, seed: int, act: Callable[[], object]) -> tuple[float, float]:
    """Steps `env` for `steps` steps with actions from `act()`, resetting when an episode ends.

    Returns steps per second of wall-clock time and per second of this process's CPU time: on a busy
    machine the second still says what the env costs."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(act())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def vector_steps_per_second(envs: gym.vector.VectorEnv, steps: int, seed: int) -> tuple[float, float]:
    """Random actions on a vector env; it resets finished sub-envs itself (next-step autoreset).
    The work happens in the workers, so there is no CPU-time figure (nan)."""
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    iterations = max(1, steps // envs.num_envs)
    start = time.perf_counter()
    for _ in range(iterations):
        envs.step(envs.action_space.sample())
    return iterations * envs.num_envs / (time.perf_counter() - start), float("nan")


def median_of(args: Args, run: Callable[[int], tuple[float, float]]) -> tuple[float, float]:
    run(args.seed + args.repeats)  # warm-up (glyph caches, imports, worker start-up), not timed
    runs = [run(args.seed + i) for i in range(args.repeats)]
    return statistics.median(wall for wall, _ in runs), statistics.median(cpu for _, cpu in runs)


def main() -> None:
    args = parse_args()
    env = gym.make(args.env_id, size=args.size)
    if args.warmup:
        steps_per_second(env, args.warmup, args.seed + args.repeats + 1, env.action_space.sample)
    figures = {
        "random actions, 1 env": median_of(
            args, lambda seed: steps_per_second(env, args.steps, seed, env.action_space.sample)
        ),
        "expert actions, 1 env": median_of(
            args, lambda seed: steps_per_second(env, args.steps, seed, env.unwrapped.expert_action)
        ),
    }
    env.close()

    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(args.env_id, size=args.size)] * args.workers)
    figures[f"random actions, AsyncVectorEnv x{args.workers}"] = median_of(
        args, lambda seed: vector_steps_per_second(envs, args.steps, seed)
    )
    envs.close()

    from minigrid.wrappers import RGBImgObsWrapper  # dev extra; importing minigrid registers its ids

    grid = RGBImgObsWrapper(gym.make("MiniGrid-Empty-8x8-v0"))
    side = grid.observation_space["image"].shape[0]
    figures[f"MiniGrid-Empty-8x8-v0 RGB {side}x{side}, random"] = median_of(
        args, lambda seed: steps_per_second(grid, args.steps, seed, grid.action_space.sample)
    )
    grid.close()

    print(f"{args.env_id} at {args.size}x{args.size}: median of {args.repeats} runs of {args.steps} steps")
    print(f"  {'':<44} {'steps/s':>9} {'per CPU-s':>10}")
    for name, (wall, cpu) in figures.items():
        print(f"  {name:<44} {wall:>9,.0f} {'-' if math.isnan(cpu) else f'{cpu:,.0f}':>10}")
    ours, minigrid = figures["random actions, 1 env"], figures[f"MiniGrid-Empty-8x8-v0 RGB {side}x{side}, random"]
    print(
        f"  {'ratio ours / MiniGrid (random, 1 env)':<44} {ours[0] / minigrid[0]:>8.2f}x {ours[1] / minigrid[1]:>9.2f}x"
    )


if __name__ == "__main__":
    main()
