"""A run's report on the local stack: RecordRunSuccess writes it, GET /runs/{id}/report redirects to a presigned
link on the (moto) bucket, and the page that comes back is self-contained."""

from __future__ import annotations

import urllib.error
import urllib.request

from labeltune_tools.embedded.stack import EmbeddedStack
from tests.report.page import parse

from .conftest import http, new_project
from .test_pipeline import deliver


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_a_succeeded_run_has_a_report_behind_a_presigned_redirect(stack: EmbeddedStack) -> None:
    project = new_project(stack, min_new_labels=1)
    status, body = deliver(stack, project)
    assert status == 202 and body["run_id"]
    run_id = body["run_id"]
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    run = stack.get_run(run_id) or {}
    assert run["report_key"] == f"runs/{run_id}/report.html" and "report_error" not in run

    url = f"{stack.api_url}/runs/{run_id}/report"
    try:
        urllib.request.build_opener(_NoRedirect).open(url, timeout=30)
        raise AssertionError("the report route answered without a redirect")
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
        link = redirect.headers["Location"]
    assert f"/runs/{run_id}/report.html?" in link and "X-Amz-Expires=900" in link and "X-Amz-Signature=" in link

    with urllib.request.urlopen(url, timeout=30) as response:  # followed, as a browser would
        assert response.headers["Content-Type"].startswith("text/html")
        page = parse(response.read().decode("utf-8"))
    assert page.external_loads() == []
    examples = run["eval_examples"]
    shown = page.all_text[page.all_text.index("Shown ") :][:40]
    assert run_id in page.all_text and f"Shown {examples} of {examples} held-out examples" in page.all_text, shown
    assert page.tags.count("svg") == 2
    assert len(page.marks) > 1  # the emulated base model repeats contact details: marked where it does

    assert http("GET", f"{stack.api_url}/runs/run-nobody-started/report")[0] == 404
