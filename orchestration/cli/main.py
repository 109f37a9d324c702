"""The `aco` command line: one entry point, one sub-command per tool.

Each tool lives beside the code it drives and exposes ``register(subparsers)``, which adds its
sub-parser and sets ``func`` (called with the parsed arguments; returns an exit status).
Modules are imported only when the command line is built, so ``aco --help`` stays cheap.

Bad input (:class:`orchestration.errors.AcoInputError`: a missing path, a reversed range, a day
outside the partitions) prints one line and exits 2; a failed run prints one line and exits 1;
Ctrl-C exits 130. The console stays quiet (:mod:`orchestration.cli.console`); ``-v`` shows everything.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from orchestration.cli.console import configure
from orchestration.errors import AcoInputError, AcoRunError

# Modules that contribute sub-commands, in the order they are listed in `aco --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "aco_assets.hydrophone.cli",
    "aco_assets.synth.cli",
    "orchestration.cli.commands",
    "orchestration.cli.review_commands",
    "orchestration.studies.yardstick",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aco",
        description="Tools for the ALOHA Cabled Observatory hydrophone archive.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(verbose=args.verbose)
    try:
        return int(args.func(args) or 0)
    except (AcoInputError, AcoRunError) as e:
        print(f"aco {args.command}: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"aco {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
