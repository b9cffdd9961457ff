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

from minvla_gym import tokenizer
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
    """Ask a yes/no question on the terminal; anything but y/yes is no. No answer at all (stdin closed, as in a
    script) is a ValueError that asks for --yes, so a command that would act never waits or acts unasked."""
    stream = sys.stdin if stream is None else stream
    print(f"{question} [y/N] ", end="", flush=True)
    answer = stream.readline()
    if not answer:
        raise ValueError("no answer to the confirmation prompt (stdin is closed): pass --yes to act without asking")
    return answer.strip().lower() in ("y", "yes")


def acts_on_the_real_screen(env_id: str) -> bool:
    """Whether `env_id` drives the real mouse and keyboard wherever they point: the desktop env, but not the task
    suite, which acts only inside the windows it opens."""
    import gymnasium as gym

    spec = gym.spec(env_id)
    return str(spec.entry_point).startswith("minvla_gym.envs.desktop") and spec.kwargs.get("task_source") != "suite"


def may_act(env_ids: str, what: str, yes: bool = False, dry_run: bool = False) -> bool:
    """For `minvla eval` and `finetune`: True when `what` may run on the comma-separated `env_ids`, asking first
    where one of them acts on the real screen (unless `yes` or `dry_run`); False when the answer is no."""
    real = [env_id for env_id in env_ids.split(",") if acts_on_the_real_screen(env_id)]
    if not real or yes or dry_run:
        return True
    if confirm(f"{what} will move the mouse and type on the real screen ({', '.join(real)}); mouse into a screen "
               "corner aborts. Go?"):  # fmt: skip
        return True
    print("aborted: nothing was performed")
    return False


def configure_cli(parser) -> None:
    from minvla_gym.cli import DEVICE_HELP

    parser.add_argument(
        "--model", required=True, metavar="CKPT", help="a checkpoint or run folder (minvla train --out), or small"
    )
    parser.add_argument("--instruction", help=f"what to do (required for {DESKTOP_ID})")
    parser.add_argument(
        "--env", default=DESKTOP_ID, choices=(DESKTOP_ID, SUITE_ID), help="the screen or the task suite"
    )
    parser.add_argument("--steps", type=int, default=10, help="at most this many actions")
    parser.add_argument("--dry-run", action="store_true", help="observe and decide, but perform nothing")
    parser.add_argument("--yes", action="store_true", help="act without asking first")
    parser.add_argument("--region", help="LEFT,TOP,WIDTH,HEIGHT to see and act in (default: the whole monitor)")
    parser.add_argument("--monitor", type=int, default=1, help="mss monitor index")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to wait after each action")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.set_defaults(func=_main)


def _main(args) -> int:
    import gymnasium as gym

    import minvla_gym  # noqa: F401 - registers the env ids
    from minvla_gym.policies.model import VLA, resolve_device

    if args.env == DESKTOP_ID and not args.instruction:
        raise ValueError(f"--instruction is required on {DESKTOP_ID}")
    if args.steps < 1 or args.settle < 0:
        raise ValueError(f"--steps must be >= 1 and --settle >= 0, got {args.steps} and {args.settle}")
    if args.instruction is not None:
        tokenizer.encode(args.instruction)  # too long or not ASCII: say so before opening anything
    region = parse_region(args.region)
    policy = VLA.from_pretrained(args.model, device=resolve_device(args.device), announce=True)
    kwargs = {"dry_run": args.dry_run, "settle": args.settle, "size": policy.config.image_size}
    if args.env == DESKTOP_ID:
        kwargs.update(region=region, monitor=args.monitor)
    try:
        env = gym.make(args.env, **kwargs)
    except RuntimeError as exc:  # NoDisplayError
        raise ValueError(str(exc)) from None
    try:
        where = env.unwrapped.region
        if args.dry_run:
            print(f"dry run: the actions below are decided on screen region {where} but none is performed")
        elif not args.yes and not confirm(
            f"{args.model} will move the mouse and type on the screen region {where} for up to {args.steps} steps "
            "(mouse into a screen corner aborts). Go?"
        ):
            print("aborted: nothing was performed")
            return 1
        run_policy(env, policy, args.steps, instruction=args.instruction if args.env == DESKTOP_ID else None)
    finally:
        env.close()
    if args.dry_run:
        print("dry run: nothing was performed")
    return 0
