"""`labeltune demo --keep DIR`: DIR is checked before the stack starts; a run's objects are copied as stored."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from labeltune_tools.cli import main
from labeltune_tools.embedded.keep import copy_run_objects, describe_files
from labeltune_tools.embedded.stack import EmbeddedStack


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: EmbeddedStack) -> EmbeddedStack:
        raise AssertionError("the local stack was started")

    monkeypatch.setattr(EmbeddedStack, "start", refuse)


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", *args])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_directory_with_files_is_refused_before_the_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_stack: None
) -> None:
    (tmp_path / "someone-elses.txt").write_text("x")
    line = refused(["--keep", str(tmp_path)], capsys)
    assert line == f"labeltune demo: argument --keep: {tmp_path} is not empty (give a new or empty directory)"
    assert (tmp_path / "someone-elses.txt").read_text() == "x"


def test_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_stack: None) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    line = refused(["--keep", str(path)], capsys)
    message = f"{path} exists and is not a directory (give a new or empty directory)"
    assert line == f"labeltune demo: argument --keep: {message}"


def test_a_place_that_cannot_hold_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_stack: None
) -> None:
    (tmp_path / "file").write_text("x")
    line = refused(["--keep", str(tmp_path / "file" / "keep")], capsys)
    blocked = tmp_path / "file"
    assert line == f"labeltune demo: argument --keep: cannot create {blocked / 'keep'}: {blocked} is not a directory"
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        line = refused(["--keep", str(locked / "keep")], capsys)
        assert line == f"labeltune demo: argument --keep: cannot create {locked / 'keep'}: {locked} is not writable"


@pytest.mark.parametrize("make", [False, True])
def test_a_new_or_empty_directory_is_taken(tmp_path: Path, make: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from labeltune_tools.commands import local

    keep = tmp_path / "keep"
    if make:
        keep.mkdir()
    seen = {}

    def run_demo(*args: object, **kwargs: object) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("labeltune_tools.embedded.demo.run_demo", run_demo)
    assert local is not None and main(["demo", "--keep", str(keep)]) == 0
    assert seen["keep"] == keep and seen["report_dir"] is None


def test_every_object_of_the_run_is_copied_at_its_path_and_nothing_else(tmp_path: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artefacts")
        stored = {
            "runs/run-1/dataset/train.jsonl": b'{"messages": []}\n',
            "runs/run-1/dataset/report.json": b"{}",
            "runs/run-1/evaluation/examples.jsonl": b"{}\n",
            "runs/run-1/evaluation/chunks/00000.done.json": b"{}",
            "runs/run-1/report.html": b"<html></html>",
            "runs/run-10/dataset/train.jsonl": b"another run's",
            "exports/p.ndjson": b"the export",
        }
        for key, body in stored.items():
            s3.put_object(Bucket="artefacts", Key=key, Body=body)
        written = copy_run_objects(s3, "artefacts", "run-1", tmp_path, skip=("report.html",))
    assert sorted(written) == [
        "dataset/report.json",
        "dataset/train.jsonl",
        "evaluation/chunks/00000.done.json",
        "evaluation/examples.jsonl",
    ]
    assert (tmp_path / "dataset" / "train.jsonl").read_bytes() == b'{"messages": []}\n'
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file()) == sorted(written)


def test_the_kept_files_are_described_by_name_and_counted_when_many() -> None:
    files = ["run.json", "report.html", "dataset/train.jsonl", "dataset/eval.jsonl"]
    files += [f"evaluation/chunks/{index:05d}.done.json" for index in range(21)] + ["evaluation/summary.json"]
    assert describe_files(files) == (
        "report.html, run.json, dataset/ (eval.jsonl, train.jsonl), evaluation/ (summary.json, chunks/ (21 files))"
    )
    assert describe_files([f"evaluation/{index}.json" for index in range(7)]) == "evaluation/ (7 files)"
    assert describe_files([]) == "nothing"
