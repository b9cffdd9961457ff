"""Env memory: the resident set size (RSS) of one process stepping the synthetic desktop, over many steps.

The glyph caches are bounded in bytes (`render.GLYPH_CACHE_BYTES`), so RSS should rise while they fill and
then stay flat however many new words the open world draws. Two workloads:

- random: random actions from the action space on every family (what RL and evaluation do);
- typing: the Type family, where every episode types a new random 96-character string into the focused
  field, the worst case for text caches (every string is new, and a long mask).

    python benchmarks/env_memory.py                              # random, 200,000 steps, MinVLA-Synthetic-v1
    python benchmarks/env_memory.py --workload typing --steps 1000000
"""

from __future__ import annotations

import argparse
import resource
import string
import time

import gymnasium as gym
import numpy as np

import minvla_gym  # noqa: F401  (registers the ids)
from minvla_gym.actions import make_action
from minvla_gym.envs.synthetic import render

PRINTABLE = np.array(list(string.ascii_letters + string.digits + string.punctuation + " "))


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def cache_mib() -> float:
    caches = (render._word_mask, render._word_alpha, render.text_mask, render.char_boxes, render.shape_mask)
    return sum(cache.cache_info()["bytes"] for cache in caches) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("random", "typing"), default="random")
    parser.add_argument("--env-id", default="MinVLA-Synthetic-v1", help="env id of the random workload")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--every", type=int, default=0, help="steps between reports (default: steps / 10)")
    args = parser.parse_args()
    every = args.every or max(1, args.steps // 10)
    env_id = args.env_id if args.workload == "random" else args.env_id.replace("Synthetic-", "Synthetic-Type-")
    env = gym.make(env_id)
    env.action_space.seed(0)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    start, episodes = time.perf_counter(), 1
    print(f"{env_id}, {args.workload} workload; glyph caches bounded at {render.GLYPH_CACHE_BYTES / 2**20:.0f} MiB")
    print(f"{'steps':>10}  {'episodes':>9}  {'RSS MiB':>8}  {'caches MiB':>10}  {'steps/s':>8}")
    print(f"{0:>10,}  {0:>9,}  {rss_mib():>8.1f}  {cache_mib():>10.1f}")
    for step in range(1, args.steps + 1):
        if args.workload == "random":
            action = env.action_space.sample()
        elif env.unwrapped.task.focused is None:
            action = env.unwrapped.expert_action()  # a click that focuses a field
        else:
            action = make_action("type", text="".join(rng.choice(PRINTABLE, 96)).strip() or "x")
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            obs, info = env.reset()
            episodes += 1
        if step % every == 0:
            rate = step / (time.perf_counter() - start)
            print(f"{step:>10,}  {episodes:>9,}  {rss_mib():>8.1f}  {cache_mib():>10.1f}  {rate:>8,.0f}", flush=True)


if __name__ == "__main__":
    main()
