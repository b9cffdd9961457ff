"""Speed of the real-desktop loop on an X server (starts its own Xvfb when DISPLAY is unset).

    python benchmarks/desktop_loop.py [--seconds 5] [--model CKPT] [--json FILE]

Measures
  1. capture + resize: frames per second of mss grab + resize to the observation, for the suite's
     448x448 window and for the whole screen;
  2. the full loop on MinVLA-DesktopSuite-v0 (capture, policy, act, and the app's status check):
     actions per second with the scripted expert, and with the VLA (`--model`, or an untrained model
     of the default `small` preset: the same compute as a trained one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time

from minvla_gym.envs.desktop import DesktopEnv
from minvla_gym.envs.desktop.screen import Screen
from minvla_gym.envs.desktop.xvfb import Xvfb


def capture_fps(region, size: int, seconds: float) -> float:
    screen = Screen(region)
    try:
        frames, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            screen.observe(size)
            frames += 1
        return frames / (time.perf_counter() - start)
    finally:
        screen.close()


def loop_speed(make_policy, size: int, seconds: float) -> dict[str, float]:
    """Actions per second of policy + step on the task suite (`make_policy(env)` gives obs -> action)."""
    env = DesktopEnv(task_source="suite", size=size, settle=0.0)
    try:
        act = make_policy(env)
        actions = episodes = 0
        acting = resetting = thinking = 0.0  # policy + step, reset, policy alone
        seed = 0
        while acting + resetting < seconds:
            t = time.perf_counter()
            obs, _ = env.reset(seed=seed)
            resetting += time.perf_counter() - t
            for _ in range(10):
                t = time.perf_counter()
                action = act(obs)
                thinking += time.perf_counter() - t
                obs, _, terminated, _, _ = env.step(action)
                acting += time.perf_counter() - t
                actions += 1
                if terminated:
                    break
            episodes, seed = episodes + 1, seed + 1
        return {"actions_per_s": actions / acting, "episodes_per_s": episodes / (acting + resetting),
                "ms_per_reset": 1000 * resetting / episodes, "ms_policy_per_action": 1000 * thinking / actions,
                "ms_env_per_action": 1000 * (acting - thinking) / actions}  # fmt: skip
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--size", type=int, default=224, help="observation size")
    parser.add_argument("--screen", default="1280x800", help="Xvfb screen when DISPLAY is unset")
    parser.add_argument("--model", help="a VLA checkpoint (default: an untrained 'small' VLA)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        if not os.environ.get("DISPLAY"):
            os.environ["DISPLAY"] = stack.enter_context(Xvfb(*(int(v) for v in args.screen.split("x"))))
        import torch

        from minvla_gym.policies.model import VLA, VLAConfig

        torch.set_num_threads(min(4, os.cpu_count() or 1))
        vla = (
            VLA.from_pretrained(args.model)
            if args.model
            else VLA(VLAConfig.preset("small", image_size=args.size)).eval()
        )
        full = Screen()
        region = full.region
        full.close()
        results = {
            "display": os.environ["DISPLAY"],
            "screen": list(region[2:]),
            "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "capture_fps_448": capture_fps((16, 16, 448, 448), args.size, args.seconds),
            "capture_fps_screen": capture_fps(region, args.size, args.seconds),
            "loop_expert": loop_speed(lambda env: lambda obs: env.expert_action(), args.size, args.seconds),
            "loop_vla": loop_speed(lambda env: vla.act, vla.config.image_size, args.seconds),
            "vla": args.model or "untrained small preset",
        }
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
