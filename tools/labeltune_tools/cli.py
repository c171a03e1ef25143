"""The `labeltune` command: the local demo and stack, and tools for datasets and Labelbox."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from labeltune_tools.commands import dataset, judge, labelbox, local

COMMANDS = (local, labelbox, dataset, judge)


class Parser(argparse.ArgumentParser):
    """argparse, where a (sub)command can ask for usage errors as one line (`labeltune demo: argument
    --job-seconds: ...`, status 2) instead of the usage text and the error: `one_line_errors=True`."""

    def __init__(self, *args: Any, one_line_errors: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.one_line_errors = one_line_errors

    def error(self, message: str) -> NoReturn:
        if self.one_line_errors:
            self.exit(2, f"{self.prog}: {' '.join(message.split())}\n")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="labeltune", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except local.OPERATOR_ERRORS as error:
        # An operator's mistake (a bad option or file, a taken port): one line, no traceback.
        name = getattr(args, "command_name", args.command)
        print(f"labeltune {name}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
