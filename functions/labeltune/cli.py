"""The `labeltune` command: the local demo and stack, and tools for datasets and Labelbox."""

from __future__ import annotations

import argparse
import sys

from labeltune.commands import dataset, labelbox, local

COMMANDS = (local, labelbox, dataset)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labeltune", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
