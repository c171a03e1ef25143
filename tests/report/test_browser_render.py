"""The report in a real browser, where one is installed: it renders (the DOM a headless browser builds from it
holds the sections, the charts and the marked leaks) without running any script."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from labeltune.report import ExampleView, OutputView, render_report
from tests.report.page import parse
from tests.report.test_html_report import CHAT, GATE, HUMAN, RUN, SUMMARY

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "firefox")


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.mark.skipif(_browser() is None, reason=f"no headless browser installed (looked for: {', '.join(BROWSERS)})")
def test_the_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    browser = _browser()
    assert browser is not None
    tuned = OutputView(model="t", output="Maria Lopez asks about ORD-123456 <script>alert(1)</script>", rouge_l=0.4,
                       leaks={"name": 1, "order_id": 1})  # fmt: skip
    base = OutputView(model="b", output="A customer wrote in.", rouge_l=0.2)
    views = [ExampleView(data_row_id="row-1", chat=CHAT, human_summary=HUMAN, base=base, tuned=tuned)]
    report = tmp_path / "report.html"
    report.write_text(render_report(RUN, SUMMARY, views, GATE), encoding="utf-8")
    if Path(browser).name == "firefox":
        command = [browser, "--headless", "--screenshot", str(tmp_path / "shot.png"), report.as_uri()]
    else:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", report.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    if Path(browser).name == "firefox":
        assert (tmp_path / "shot.png").stat().st_size > 0
        return
    dom = parse(result.stdout)
    assert dom.tags.count("svg") == 2 and dom.tags.count("article") == 1
    assert "Maria Lopez" in dom.marks and "123456" in dom.marks
    assert "<script>alert(1)</script>" in dom.all_text  # text in the page, never a script in the DOM
    assert "script" not in dom.tags
