"""The `labeltune` command: the local demo and stack, runs and projects on a deployed (or the local) stack, and
tools for datasets and Labelbox."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from labeltune_tools.api_client import ApiError, SetupError
from labeltune_tools.commands import dataset, judge, labelbox, local, projects, runs

COMMANDS = (local, runs, projects, labelbox, dataset, judge)
# An operator's mistakes, reported in one line with exit status 2.
OPERATOR_ERRORS: tuple[type[Exception], ...] = (*local.OPERATOR_ERRORS, SetupError)


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
    name = getattr(args, "command_name", args.command)
    try:
        return int(args.func(args))
    except OPERATOR_ERRORS as error:
        # An operator's mistake (a bad option or file, a taken port, no credentials): one line, no traceback.
        print(f"labeltune {name}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except ApiError as error:
        # The API refused, or did not answer: one line, exit status 1.
        print(f"labeltune {name}: {' '.join(str(error).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
