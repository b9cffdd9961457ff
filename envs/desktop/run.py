"""`minvla run`: a policy acting on the real desktop for N steps.

    minvla run --model CKPT --instruction "click the save button" [--steps 10] [--dry-run] [--yes]
    minvla run --model CKPT --env MinVLA-DesktopSuite-v0 --yes        # on the real-window task suite

Unless `--dry-run` (observe and decide, perform nothing) or `--yes`, it asks before it touches the
mouse and keyboard. Moving the mouse into a screen corner aborts (pyautogui's fail-safe).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from minvla_gym.actions import describe_action, validate_action
from minvla_gym.envs.desktop.recorder import parse_region

DESKTOP_ID, SUITE_ID = "MinVLA-Desktop-v0", "MinVLA-DesktopSuite-v0"


def run_policy(
    env,
    policy: Any,
    steps: int,
    instruction: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run `policy` (an object with `act(obs)`, or a callable obs -> action) for at most `steps` steps.

    Stops early when the episode ends (success, or a suite failure). Returns the steps taken, the
    success flag, the instruction and the actions.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    act = policy.act if hasattr(policy, "act") else policy
    if not callable(act):
        raise ValueError(f"policy of type {type(policy).__name__}: expected an object with act(obs) or a callable")
    obs, info = env.reset(options=None if instruction is None else {"instruction": instruction})
    log(f"instruction: {info['instruction']}")
    actions = []
    for t in range(steps):
        action = validate_action(act(obs))
        obs, _, terminated, truncated, info = env.step(action)
        actions.append(action)
        log(f"step {t + 1}: {describe_action(action)} at pixels {info.get('pixels', [])}")
        if terminated or truncated:
            break
    log(f"{'success' if info['is_success'] else 'no success'} after {len(actions)} step(s)")
    return {
        "steps": len(actions),
        "success": bool(info["is_success"]),
        "instruction": info["instruction"],
        "actions": actions,
    }


def confirm(question: str, stream=None) -> bool:
    """Ask a yes/no question on the terminal; anything but y/yes (or no input) is no."""
    stream = sys.stdin if stream is None else stream
    print(f"{question} [y/N] ", end="", flush=True)
    answer = stream.readline()
    return answer.strip().lower() in ("y", "yes")


def configure_cli(parser) -> None:
    parser.add_argument(
        "--model", required=True, metavar="CKPT", help="a VLA checkpoint directory (minvla train --out)"
    )
    parser.add_argument("--instruction", help=f"what to do (required for {DESKTOP_ID})")
    parser.add_argument(
        "--env", default=DESKTOP_ID, choices=(DESKTOP_ID, SUITE_ID), help="the screen or the task suite"
    )
    parser.add_argument("--steps", type=int, default=10, help="at most this many actions (default 10)")
    parser.add_argument("--dry-run", action="store_true", help="observe and decide, but perform nothing")
    parser.add_argument("--yes", action="store_true", help="act without asking first")
    parser.add_argument("--region", help="LEFT,TOP,WIDTH,HEIGHT to see and act in (default: the whole monitor)")
    parser.add_argument("--monitor", type=int, default=1, help="mss monitor index (default 1)")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to wait after each action (default 0.5)")
    parser.add_argument("--device", default="cpu", help="torch device for the model (default cpu)")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    import gymnasium as gym

    import minvla_gym  # noqa: F401 - registers the env ids

    def error(message: str) -> int:
        print(f"minvla run: error: {message}", file=sys.stderr)
        return 2

    if args.env == DESKTOP_ID and not args.instruction:
        return error(f"--instruction is required on {DESKTOP_ID}")
    if args.steps < 1:
        return error(f"--steps must be positive, got {args.steps}")
    try:
        from minvla_gym.policies.model import VLA

        policy = VLA.from_checkpoint(args.model, device=args.device)
    except ImportError as exc:
        return error(f"the VLA policy cannot be imported ({exc})")
    except (ValueError, OSError) as exc:  # CheckpointError is a ValueError
        return error(str(exc))
    kwargs = {"dry_run": args.dry_run, "settle": args.settle, "size": policy.config.image_size}
    if args.env == DESKTOP_ID:
        kwargs.update(region=parse_region(args.region), monitor=args.monitor)
    try:
        env = gym.make(args.env, **kwargs)
    except (ValueError, RuntimeError) as exc:  # NoDisplayError is a RuntimeError
        return error(str(exc))
    try:
        where = env.unwrapped.region
        if not (args.dry_run or args.yes) and not confirm(
            f"{args.model} will move the mouse and type on the screen region {where} for up to {args.steps} steps "
            "(mouse into a screen corner aborts). Go?"
        ):
            print("aborted: nothing was performed")
            return 1
        run_policy(env, policy, args.steps, instruction=args.instruction if args.env == DESKTOP_ID else None)
    finally:
        env.close()
    return 0
