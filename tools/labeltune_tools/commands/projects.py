"""`labeltune projects get|put`: a project's configuration on a deployed stack (--stack, --api-url) or the local
one (--local), over the HTTP API with SigV4-signed requests (labeltune_tools.api_client).

`put` sends a JSON object of the fields to change (docs/configuration.md lists them); the API answers with the
stored configuration, or 400 {"message", "errors"} saying what to fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from labeltune_tools import runs_view
from labeltune_tools.api_client import SetupError, add_options, from_args

MAX_FILE_BYTES = 64 * 1024  # the API's bound on a configuration


def read_config(source: str, stdin: TextIO | None = None) -> dict[str, Any]:
    """The JSON object in `source` (a path, or '-' for stdin); a SetupError saying what is wrong otherwise."""
    where = "stdin" if source == "-" else source
    try:
        text = (stdin or sys.stdin).read(MAX_FILE_BYTES + 1) if source == "-" else _read(Path(source))
    except OSError as error:
        raise SetupError(f"cannot read {where}: {error.strerror or error}") from None
    if len(text.encode()) > MAX_FILE_BYTES:
        raise SetupError(f"{where} is larger than a configuration may be ({MAX_FILE_BYTES} bytes)")
    try:
        value = json.loads(text)
    except ValueError as error:
        raise SetupError(f"{where} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise SetupError(f"{where} must hold a JSON object of configuration fields")
    return value


def _read(path: Path) -> str:
    with path.expanduser().open(encoding="utf-8") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _show(project: Any, args: argparse.Namespace, out: TextIO) -> int:
    if args.json or not isinstance(project, dict):
        print(json.dumps(project, indent=2), file=out)
    else:
        print("\n".join(runs_view.project_lines(project)), file=out)
    return 0


def _get(args: argparse.Namespace, out: TextIO) -> int:
    return _show(from_args(args).get(f"/projects/{args.project}"), args, out)


def _put(args: argparse.Namespace, out: TextIO) -> int:
    changes = read_config(args.file)
    return _show(from_args(args).put(f"/projects/{args.project}", body=changes), args, out)


def register(sub: Any) -> None:
    projects = sub.add_parser(
        "projects",
        help="a project's configuration on a deployed stack (--stack) or the local one (--local)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    projects_sub = projects.add_subparsers(dest="projects_command", required=True, parser_class=type(projects))

    get = projects_sub.add_parser("get", help="the project's stored configuration", one_line_errors=True)
    get.add_argument("project")
    add_options(get)
    get.set_defaults(func=lambda args: _get(args, sys.stdout), command_name="projects get")

    put = projects_sub.add_parser("put", help="create or change the project's configuration", one_line_errors=True)
    put.add_argument("project")
    put.add_argument("--file", required=True, help="a JSON object of the fields to set ('-': read stdin)")
    add_options(put)
    put.set_defaults(func=lambda args: _put(args, sys.stdout), command_name="projects put")
