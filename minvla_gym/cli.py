"""`minvla`: one command, one subcommand per job; each is a thin layer over the library.

Each subcommand lives in the module that does the work, which exposes
`configure_cli(parser: argparse.ArgumentParser) -> None`: it adds its arguments and sets
`parser.set_defaults(func=...)`, a function of the parsed args returning an exit code.
Only the chosen subcommand's module is imported, so `minvla collect` never pays for torch.

Bad input is one line on stderr, `minvla <command>: error: <what is wrong>`, and exit code 2: argparse's own
errors as well as the ValueError/OSError/gymnasium errors a subcommand raises on its arguments
(MINVLA_TRACEBACK=1 shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS = {
    "collect": ("minvla_gym.dataset", "run the scripted expert and write demonstrations"),
    "train": ("minvla_gym.policies.train", "behaviour-clone the VLA on demonstrations"),
    "eval": ("minvla_gym.evaluation", "evaluate a checkpoint or the expert by success rate"),
    "quickstart": ("minvla_gym.quickstart", "train the default policy on synthetic demos and report success"),
    "record": ("minvla_gym.envs.desktop.recorder", "record human demonstrations on the real desktop"),
    "run": ("minvla_gym.envs.desktop.run", "run a policy on the real desktop"),
    "finetune": ("minvla_gym.policies.finetune", "fine-tune a checkpoint with PPO (stable-baselines3)"),
}


# The --device of every command that runs a VLA (`minvla_gym.policies.model.resolve_device` reads it).
DEVICE_HELP = "torch device: auto (cuda if available), cpu, cuda or cuda:N"


class UsageError(Exception):
    """Bad command-line input: `main` prints it as one line and returns 2."""


class ShowDefaults(argparse.HelpFormatter):
    """Appends "(default: X)" to each option's help where there is a default to show (not None, False or '')."""

    def _get_help_string(self, action):
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default in ("", argparse.SUPPRESS)
        if "%(default)" in text or hidden or not action.option_strings:  # 0 is a default to show; False is not
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line naming the command (no usage block) and `--help` shows every default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", ShowDefaults)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UsageError(message)


def fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    import gymnasium as gym

    from minvla_gym import __version__

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = Parser(prog="minvla", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"minvla-gym {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    prog = f"minvla {chosen}" if chosen in COMMANDS else "minvla"
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).configure_cli(sub)
    try:
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as error:
        return fail(prog, str(error))
    except (ValueError, OSError, gym.error.Error) as error:  # bad paths, values, ids, checkpoints, datasets
        if os.environ.get("MINVLA_TRACEBACK"):  # for a developer who wants to see where it came from
            raise
        if isinstance(error, OSError) and error.filename and error.strerror:  # not "[Errno 17] File exists: 'x'"
            return fail(prog, f"{error.filename}: {error.strerror.lower()}")
        return fail(prog, str(error).splitlines()[0] if str(error) else type(error).__name__)


if __name__ == "__main__":
    raise SystemExit(main())
