"""Env throughput: steps per second of the synthetic desktop next to MiniGrid's RGB env, in one run.

Every figure is the median of `--repeats` timed runs of `--steps` steps, measured the way a user
steps the env: through `gym.make` (so with its PassiveEnvChecker, OrderEnforcing and TimeLimit
wrappers), random actions from `env.action_space.sample()`, resets included when episodes end.

    python benchmarks/env_throughput.py                      # every family mixed, 224x224
    python benchmarks/env_throughput.py --env-id MinVLA-Synthetic-Click-v0 --repeats 7
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

import minvla_gym  # noqa: F401  (registers the ids)


@dataclass
class Args:
    env_id: str = "MinVLA-Synthetic-v0"
    """the synthetic env to time"""
    size: int = 224
    """screen side in pixels"""
    steps: int = 3000
    """steps per timed run (for the vector env: steps of all workers together)"""
    repeats: int = 5
    """timed runs per figure; the median is printed"""
    workers: int = 2
    """AsyncVectorEnv workers"""
    seed: int = 0
    """seed of the first run; run i uses seed + i"""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(Args):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    return Args(**vars(parser.parse_args()))


def steps_per_second(env: gym.Env, steps: int, seed: int, act: Callable[[], object]) -> float:
    """Steps `env` for `steps` steps with actions from `act()`, resetting when an episode ends."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(act())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def vector_steps_per_second(envs: gym.vector.VectorEnv, steps: int, seed: int) -> float:
    """Random actions on a vector env; it resets finished sub-envs itself (next-step autoreset)."""
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    iterations = max(1, steps // envs.num_envs)
    start = time.perf_counter()
    for _ in range(iterations):
        envs.step(envs.action_space.sample())
    return iterations * envs.num_envs / (time.perf_counter() - start)


def median_of(args: Args, run: Callable[[int], float]) -> float:
    run(args.seed + args.repeats)  # warm-up (glyph caches, imports, worker start-up), not timed
    return statistics.median(run(args.seed + i) for i in range(args.repeats))


def main() -> None:
    args = parse_args()
    env = gym.make(args.env_id, size=args.size)
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

    from minigrid.wrappers import RGBImgObsWrapper  # dev extra; registers the MiniGrid ids

    grid = RGBImgObsWrapper(gym.make("MiniGrid-Empty-8x8-v0"))
    minigrid = median_of(args, lambda seed: steps_per_second(grid, args.steps, seed, grid.action_space.sample))
    grid.close()

    side = grid.observation_space["image"].shape[0]
    print(f"{args.env_id} at {args.size}x{args.size}, median of {args.repeats} runs of {args.steps} steps")
    for name, value in figures.items():
        print(f"  {name:<36} {value:>9,.0f} steps/s")
    print(f"  {'MiniGrid-Empty-8x8-v0 RGB (' + str(side) + 'x' + str(side) + '), random':<36} {minigrid:>9,.0f} steps/s")
    ratio = figures["random actions, 1 env"] / minigrid
    print(f"  ratio ours / MiniGrid (random, 1 env) {ratio:>8.2f}x")


if __name__ == "__main__":
    main()
