"""`labeltune demo --keep DIR`: a run's artefacts copied out of the local stack before it exits.

The local stack keeps everything in memory (moto): when the demo ends, the run's S3 objects and its DynamoDB
record are gone. Keeping copies them to DIR/<run_id>/ as the run stored them: every object under
`runs/<run_id>/` in the bucket (the export snapshot, dataset/ with the train/validation/eval JSONL files and
the dataset report, evaluation/ with the summary and the per-example outputs), the run record as
GET /runs/{id} answers it (run.json), and the HTML report as GET /runs/{id}/report serves it (report.html).
The files hold the user's own data (the chats); only their names are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

RUN_RECORD = "run.json"
REPORT = "report.html"
# More files than this in one folder are counted instead of named.
NAMED_FILES = 6


def keep_directory(value: str) -> Path:
    """argparse `type=`: a directory that does not exist yet or is empty, in a place it can be made.

    Refused before the stack starts, so a demo never ends by failing to write what it ran for, nor mixes its
    files with someone else's."""
    path = Path(value).expanduser()
    if path.is_symlink() and not path.exists():
        raise argparse.ArgumentTypeError(f"{path} is a broken symbolic link")
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{path} exists and is not a directory (give a new or empty directory)")
        if any(path.iterdir()):
            raise argparse.ArgumentTypeError(f"{path} is not empty (give a new or empty directory)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"cannot write to {path}: permission denied")
        return path
    parent = next((ancestor for ancestor in path.absolute().parents if ancestor.exists()), None)
    if parent is None or not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot create {path}: {parent} is not writable")
    return path


def _relative(key: str, prefix: str) -> PurePosixPath | None:
    """The key's path under the run's prefix, or None when it would leave the run's directory."""
    relative = PurePosixPath(key[len(prefix) :])
    if not relative.parts or any(part in ("", ".", "..") for part in relative.parts):
        return None
    return relative


def copy_run_objects(s3: Any, bucket: str, run_id: str, directory: Path, skip: Iterable[str] = ()) -> list[str]:
    """Every object under runs/<run_id>/ written to `directory` at its path below that prefix; the paths."""
    prefix, skipped, written = f"runs/{run_id}/", set(skip), []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = _relative(item["Key"], prefix)
            if relative is None or str(relative) in skipped:
                continue
            target = directory.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
            written.append(str(relative))
    return written


def fetch_run_record(api_url: str, run_id: str) -> dict[str, Any]:
    """GET /runs/{id}: the run record as the API shows it."""
    with urllib.request.urlopen(f"{api_url}/runs/{run_id}", timeout=30) as response:
        record: dict[str, Any] = json.loads(response.read())
    return record


def keep_run(s3: Any, bucket: str, api_url: str, run_id: str, directory: Path) -> tuple[Path, list[str], list[str]]:
    """Copy one run's artefacts to directory/<run_id>/ (the report is written there by the caller, as
    report.html); (that directory, the files written, what could not be kept and why)."""
    target = directory / run_id
    target.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    written = copy_run_objects(s3, bucket, run_id, target, skip=(REPORT, RUN_RECORD))
    try:
        record = fetch_run_record(api_url, run_id)
    except (urllib.error.URLError, OSError, ValueError) as error:
        problems.append(f"{RUN_RECORD}: GET /runs/{run_id} failed ({type(error).__name__})")
    else:
        (target / RUN_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(RUN_RECORD)
    return target, written, problems


def describe_files(files: Iterable[str]) -> str:
    """The kept files in one line: names at the top, each folder's names (or their count when many)."""
    top: list[str] = []
    folders: dict[str, list[str]] = {}
    for name in sorted(set(files)):
        folder, _, rest = name.partition("/")
        if rest:
            folders.setdefault(folder, []).append(rest)
        else:
            top.append(name)
    parts = list(top)
    for folder, names in sorted(folders.items()):
        shallow = [name for name in names if "/" not in name]
        deeper = sorted({name.split("/", 1)[0] for name in names if "/" in name})
        listed = [f"{len(shallow)} files"] if len(shallow) > NAMED_FILES else list(shallow)
        for sub in deeper:
            count = sum(1 for name in names if name.startswith(f"{sub}/"))
            listed.append(f"{sub}/ ({count} files)")
        parts.append(f"{folder}/ ({', '.join(listed)})")
    return ", ".join(parts) if parts else "nothing"
