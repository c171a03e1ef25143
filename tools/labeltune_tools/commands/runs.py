"""`labeltune runs list|show|watch|cancel|start`: runs on a deployed stack (--stack, --api-url) or the local one
(--local), over the HTTP API with SigV4-signed requests (labeltune_tools.api_client).

Output is for people by default (runs_view), the API's JSON with --json. Exit status: 0 ok (a watched run
SUCCEEDED), 1 the API refused (or a watched run FAILED), 2 a usage or setup error, 3 a watched run was
CANCELLED, 4 `watch --timeout` passed first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from labeltune_tools import runs_view
from labeltune_tools.api_client import ApiClient, ApiError, add_options, from_args
from labeltune_tools.commands.arguments import positive_seconds

MAX_LIMIT = 100  # the API's bound on a page
TRANSIENT = {429, 500, 502, 503, 504}  # a watch over minutes rides these out


def page_limit(value: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_LIMIT}, not {value!r}")
    return limit


def _print_json(value: Any, out: TextIO, *, compact: bool = False) -> None:
    print(json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2), file=out)


def _now() -> datetime:
    return datetime.now(UTC)


# -- list -----------------------------------------------------------------------------------------------


def list_runs(client: ApiClient, project: str, limit: int | None, follow: bool) -> dict[str, Any]:
    """One page of the project's runs (newest first), or every page with `follow` (next_token until null)."""
    query: dict[str, Any] = {"limit": limit}
    page = client.get(f"/projects/{project}/runs", query=query)
    if not follow:
        return dict(page)
    runs = list(page.get("runs") or [])
    seen = set()
    while page.get("next_token"):
        token = page["next_token"]
        if token in seen:  # a token that repeats would loop forever
            raise ApiError(f"the API returned the same next_token twice for project {project}")
        seen.add(token)
        page = client.get(f"/projects/{project}/runs", query={**query, "next_token": token})
        runs += page.get("runs") or []
    return {"project_id": page.get("project_id", project), "runs": runs, "next_token": None}


def _list(args: argparse.Namespace, out: TextIO) -> int:
    listed = list_runs(from_args(args), args.project, args.limit, args.all)
    if args.json:
        _print_json(listed, out)
        return 0
    print("\n".join(runs_view.runs_table(listed.get("runs") or [], _now())), file=out)
    if listed.get("next_token"):
        print("(more runs: --all lists every page)", file=out)
    return 0


# -- show -----------------------------------------------------------------------------------------------


def _show(args: argparse.Namespace, out: TextIO) -> int:
    client = from_args(args)
    run = client.get(f"/runs/{args.run}")
    timeline = client.get(f"/runs/{args.run}/timeline") if args.timeline else None
    if args.json:
        _print_json({"run": run, "timeline": timeline} if args.timeline else run, out)
        return 0
    now = _now()
    lines = runs_view.run_details(run, now)
    if timeline is not None:
        lines += ["", *runs_view.timeline_lines(timeline, now)]
    print("\n".join(lines), file=out)
    return 0


# -- watch ----------------------------------------------------------------------------------------------


@dataclass
class Clocks:
    """What watch waits with and measures by: real ones by default, fixed ones in tests."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def watch(
    client: ApiClient,
    run_id: str,
    out: TextIO,
    *,
    interval: float = 5.0,
    timeout: float | None = None,
    as_json: bool = False,
    clocks: Clocks | None = None,
) -> int:
    """Poll the run (and its timeline) until it finishes; print a line only when what is shown changed.
    Returns the run's exit status (runs_view.exit_code), or 4 when `timeout` passes first."""
    clocks = clocks or Clocks()
    started = clocks.monotonic()
    timeline_served = True
    shown: Any = None
    while True:
        run = _poll(client, f"/runs/{run_id}")
        timeline = None
        if run is not None and timeline_served:
            try:
                timeline = client.get(f"/runs/{run_id}/timeline")
            except ApiError as error:
                timeline_served = error.status != 404 and error.status is not None  # an API without the route
        if run is not None:
            fields = runs_view.progress(run, timeline)
            view = run if as_json else fields
            if view != shown:
                shown = view
                if as_json:
                    _print_json(run, out, compact=True)
                else:
                    print(runs_view.progress_line(fields, clocks.monotonic() - started), file=out, flush=True)
            code = runs_view.exit_code(run.get("status"))
            if code is not None:
                return code
        if timeout is not None and clocks.monotonic() - started >= timeout:
            if not as_json:
                print(f"timed out after {runs_view.duration(timeout)}; the run goes on", file=out)
            return runs_view.EXIT_TIMEOUT
        clocks.sleep(interval)


def _poll(client: ApiClient, path: str) -> dict[str, Any] | None:
    """The resource, or None after a transient failure (throttled, 5xx, no answer); other errors raise."""
    try:
        return dict(client.get(path))
    except ApiError as error:
        if error.status is None or error.status in TRANSIENT:
            return None
        raise


def _watch(args: argparse.Namespace, out: TextIO) -> int:
    return watch(from_args(args), args.run, out, interval=args.interval, timeout=args.timeout, as_json=args.json)


# -- cancel, start --------------------------------------------------------------------------------------


def _cancel(args: argparse.Namespace, out: TextIO) -> int:
    client = from_args(args)
    answer = client.post(f"/runs/{args.run}/cancel")
    if args.json and not args.wait:
        _print_json(answer, out)
        return 0
    if not args.json:
        status = answer.get("status", "?") if isinstance(answer, dict) else "?"
        print(f"cancel requested for {args.run} (status now {status})", file=out, flush=True)
    if not args.wait:
        return 0
    return watch(client, args.run, out, interval=args.interval, timeout=args.timeout, as_json=args.json)


def _start(args: argparse.Namespace, out: TextIO) -> int:
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    answer = from_args(args).request("POST", f"/projects/{args.project}/runs", headers=headers)
    if args.json:
        _print_json(answer.body, out)
        return 0
    body = answer.body if isinstance(answer.body, dict) else {}
    said = "started" if answer.status == 202 else f"already known (status {body.get('status') or '-'})"
    print(f"run {body.get('run_id', '-')} {said} for project {body.get('project_id', args.project)}", file=out)
    return 0


# -- registration ---------------------------------------------------------------------------------------


def _bind(command: Callable[[argparse.Namespace, TextIO], int]) -> Callable[[argparse.Namespace], int]:
    """The command with stdout looked up per call (tests and callers swap it)."""
    return lambda args: command(args, sys.stdout)


def _add_wait_options(parser: argparse.ArgumentParser, interval_help: str) -> None:
    parser.add_argument("--interval", type=positive_seconds, default=5.0, help=interval_help)
    give_up = "give up after this many seconds (exit 4)"
    parser.add_argument("--timeout", type=positive_seconds, default=None, help=give_up)


def register(sub: Any) -> None:
    runs = sub.add_parser(
        "runs",
        help="runs on a deployed stack (--stack) or the local one (--local)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, parser_class=type(runs))

    listing = runs_sub.add_parser("list", help="a project's runs, newest first", one_line_errors=True)
    listing.add_argument("project")
    listing.add_argument("--limit", type=page_limit, default=None, help=f"runs per page, 1-{MAX_LIMIT} (API: 50)")
    listing.add_argument("--all", action="store_true", help="follow next_token through every page")
    add_options(listing)
    listing.set_defaults(func=_bind(_list), command_name="runs list")

    show = runs_sub.add_parser("show", help="one run: status, dataset, job, evaluation, gate", one_line_errors=True)
    show.add_argument("run")
    show.add_argument("--timeline", action="store_true", help="also the execution's states and their durations")
    add_options(show)
    show.set_defaults(func=_bind(_show), command_name="runs show")

    watching = runs_sub.add_parser(
        "watch",
        help="follow a run live until it ends; exit 0 SUCCEEDED, 1 FAILED, 3 CANCELLED, 4 timeout",
        one_line_errors=True,
    )
    watching.add_argument("run")
    _add_wait_options(watching, "seconds between looks (default 5)")
    add_options(watching)
    watching.set_defaults(func=_bind(_watch), command_name="runs watch")

    cancel = runs_sub.add_parser("cancel", help="cancel a run in flight (idempotent)", one_line_errors=True)
    cancel.add_argument("run")
    cancel.add_argument("--wait", action="store_true", help="then watch it until it ends (exit 3 when CANCELLED)")
    _add_wait_options(cancel, "with --wait: seconds between looks (default 5)")
    add_options(cancel)
    cancel.set_defaults(func=_bind(_cancel), command_name="runs cancel")

    start = runs_sub.add_parser("start", help="start a run of a project now", one_line_errors=True)
    start.add_argument("project")
    start.add_argument("--idempotency-key", help="the same key again returns the same run instead of a new one")
    add_options(start)
    start.set_defaults(func=_bind(_start), command_name="runs start")
