"""`minvla`: one command, one subcommand per job; each is a thin layer over the library.

Each subcommand lives in the module that does the work, which exposes
`configure_cli(parser: argparse.ArgumentParser) -> None`: it adds its arguments and sets
`parser.set_defaults(func=...)`, a function of the parsed args returning an exit code.
Only the chosen subcommand's module is imported, so `minvla collect` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="minvla", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).configure_cli(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
