"""The run's report as one self-contained HTML page: what was trained on, what it cost, how the tuned model
compares with the base model, whether the gate let it through, and examples side by side.

The page is read from a presigned S3 link or a local file, so it loads nothing (no scripts, fonts, images or
stylesheets from elsewhere; a Content-Security-Policy says so to the browser too) and needs no JavaScript.
Every value is escaped: model outputs are untrusted text. Pure: no AWS, no network, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from labeltune.domain.pii import extract_pii, leak_spans
from labeltune.report.charts import histogram_svg
from labeltune.report.selection import (
    DEFAULT_LIMIT,
    LEAK_BINS,
    ROLES,
    ROUGE_BINS,
    Reason,
    Selection,
    select_views,
)
from labeltune.report.views import ExampleView, OutputView

MAX_TEXT = 4000  # characters of one text shown; the rest is cut (and said to be)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
NOTHING = "—"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:0 16px 48px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dce3}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d8dce3;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f5f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#0a6b2d;font-weight:600}.fail{color:#b00020;font-weight:600}.muted{color:#5f6b7a}
nav a{margin-right:12px}.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart{width:560px;max-width:100%;height:auto;border:1px solid #e3e6eb}
.chart text{font-size:10px;fill:#1d2330}.chart .chart-title{font-size:12px;font-weight:600}
.chart .axis{stroke:#5f6b7a}.bar-base{fill:#9aa5b4}.bar-tuned{fill:#2f6fde}
.example{border:1px solid #d8dce3;border-radius:6px;margin:14px 0;padding:8px 10px}
.example h3{font-size:14px;margin:0 0 6px}.cols{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:10px}
@media (max-width:900px){.cols{grid-template-columns:1fr}}
.text{white-space:pre-wrap;overflow-wrap:anywhere;max-height:24em;overflow:auto;background:#f8f9fb;
padding:6px;border-radius:4px;margin:0;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cols h4{font-size:13px;margin:0 0 4px}mark{background:#ffd54a;color:#000;outline:1px solid #b08800}
.reason{font-size:12px;color:#5f6b7a;font-weight:400}
"""


def render_report(
    run: Mapping[str, Any],
    summary: Mapping[str, Any],
    examples: Iterable[ExampleView],
    gate: Mapping[str, Any] | None,
    *,
    limit: int = DEFAULT_LIMIT,
    selection: Selection[str] | None = None,
) -> str:
    """The report page.

    `run` is the run record, `summary` the evaluation's summary.json, `gate` the gate's verdict ({"passed",
    "checks": [{name, measured, threshold, passed, margin}], "reasons"}; None when no gate was recorded).
    `examples` is every held-out example, streamed: at most `limit` are chosen with bounded heaps (see
    report/selection.py). A caller that chose from the scores alone, so as to read the texts of the chosen
    examples only, passes that `selection` (of data row ids) and the views of those examples.
    """
    chosen: Selection[Any]
    if selection is None:
        chosen = select_views(examples, limit)
        shown = chosen.shown
    else:
        chosen = selection
        views = {view.data_row_id: view for view in examples}
        shown = [(reason, views[row]) for reason, row in selection.shown if row in views]
    title = f"labeltune run {run.get('run_id', '')}"
    body = [
        f"<h1>{_esc(title)}</h1>",
        '<nav><a href="#dataset">Dataset and cost</a><a href="#metrics">Metrics</a>'
        '<a href="#distributions">Distributions</a><a href="#gate">Gate</a><a href="#examples">Examples</a></nav>',
        _header(run),
        _dataset(run),
        _metrics(run, summary),
        _distributions(chosen),
        _judge(run),
        _gate(gate, run, summary),
        _examples(shown, chosen),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_esc(title)}</title><style>{STYLE}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# -- formatting -------------------------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return escape(str(value), quote=True)


def _value(value: Any) -> str:
    """A cell: numbers grouped and rounded to 4 decimals, nothing as a dash, everything escaped."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, Mapping):
        return ", ".join(f"{_esc(k)}: {_value(v)}" for k, v in value.items()) or NOTHING
    if isinstance(value, list | tuple):
        return "; ".join(_value(item) for item in value) or NOTHING
    return _esc(value)


def _rate(value: Any) -> str:
    return f"{float(value) * 100:.1f} %" if isinstance(value, int | float) and not isinstance(value, bool) else NOTHING


def _verdict(passed: Any) -> str:
    if passed is None:
        return f'<span class="muted">{NOTHING}</span>'
    return '<span class="pass">passed</span>' if passed else '<span class="fail">did not pass</span>'


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; the cells are already escaped HTML."""
    cells = "".join(f"<tr><th>{_esc(name)}</th><td>{cell}</td></tr>" for name, cell in rows)
    return f"<table>{cells}</table>"


def _cut(text: str) -> tuple[str, int]:
    """At most MAX_TEXT characters of `text`, and how many were left out."""
    return (text, 0) if len(text) <= MAX_TEXT else (text[:MAX_TEXT], len(text) - MAX_TEXT)


# -- sections ---------------------------------------------------------------------------------------------------


def _header(run: Mapping[str, Any]) -> str:
    rows = [
        ("run id", _value(run.get("run_id"))),
        ("project", _value(run.get("project_id"))),
        ("provider", _value(run.get("provider"))),
        ("base model", _value(run.get("base_model"))),
        ("tuned model", _value(run.get("fine_tuned_model"))),
        ("status", _value(run.get("status"))),
        ("created", _value(run.get("created_at"))),
        ("finished", _value(run.get("finished_at"))),
        ("last updated", _value(run.get("updated_at"))),
    ]
    if run.get("error"):
        rows.append(("error", f"{_value(run.get('error'))}: {_value(run.get('error_message'))}"))
    return '<section id="run"><h2>Run</h2>' + _rows(rows) + "</section>"


def _dataset(run: Mapping[str, Any]) -> str:
    cost = run.get("estimated_cost_usd")
    rows = [
        ("rows read", _value(run.get("rows_read"))),
        ("training examples", _value(run.get("train_examples"))),
        ("validation examples", _value(run.get("validation_examples"))),
        ("held-out evaluation examples", _value(run.get("eval_examples"))),
        ("rows rejected", _value(run.get("rejected_rows"))),
        ("duplicates removed", _value(run.get("duplicates_removed"))),
        ("training tokens", _value(run.get("train_tokens"))),
        ("billable tokens (estimate)", _value(run.get("billable_tokens_estimate"))),
        ("epochs (estimate)", _value(run.get("n_epochs_estimate"))),
        ("token encoding", _value(run.get("token_encoding"))),
        (
            "estimated cost",
            "no price in the table" if cost is None else f"{_value(cost)} USD (from a price table, not a bill)",
        ),
    ]
    reasons = run.get("rejected_by_reason")
    rejected = ""
    if isinstance(reasons, Mapping) and reasons:
        cells = "".join(
            f'<tr><td>{_esc(reason)}</td><td class="num">{_value(count)}</td></tr>'
            for reason, count in sorted(reasons.items(), key=lambda item: str(item[0]))
        )
        rejected = f"<h3>Rejected rows by reason</h3><table><tr><th>reason</th><th>rows</th></tr>{cells}</table>"
    return '<section id="dataset"><h2>Dataset and cost</h2>' + _rows(rows) + rejected + "</section>"


def _metrics(run: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    base = summary.get("base") or run.get("base_metrics") or {}
    tuned = summary.get("tuned") or run.get("tuned_metrics") or {}
    if not isinstance(base, Mapping) or not isinstance(tuned, Mapping):
        raise ValueError("the evaluation summary's base and tuned metrics must be objects")
    rows = [
        ("model", _value(base.get("model")), _value(tuned.get("model"))),
        ("examples", _value(base.get("examples")), _value(tuned.get("examples"))),
        ("ROUGE-L (mean F, higher is closer to the human summary)", _value(base.get("rouge_l")),
         _value(tuned.get("rouge_l"))),
        ("PII leak rate (share of answers repeating PII)", _rate(base.get("leak_rate")), _rate(tuned.get("leak_rate"))),
        ("leaks by type", _value(base.get("leaks_by_type")), _value(tuned.get("leaks_by_type"))),
        ("unanswered (errors)", _value(base.get("errors")), _value(tuned.get("errors"))),
        ("error rate", _rate(base.get("error_rate")), _rate(tuned.get("error_rate"))),
    ]  # fmt: skip
    cells = "".join(f"<tr><th>{_esc(name)}</th><td>{b}</td><td>{t}</td></tr>" for name, b, t in rows)
    table = f"<table><tr><th></th><th>base</th><th>tuned</th></tr>{cells}</table>"
    return '<section id="metrics"><h2>Metrics on the held-out set</h2>' + table + "</section>"


def _distributions(selection: Selection[Any]) -> str:
    rouge_labels = [f"{i / ROUGE_BINS:.1f}" for i in range(ROUGE_BINS)]
    leak_labels = [str(i) for i in range(LEAK_BINS - 1)] + [f"{LEAK_BINS - 1}+"]
    dists = selection.distributions
    rouge = histogram_svg(
        "ROUGE-L per answered example",
        rouge_labels,
        {role: dists[role].rouge_bins for role in ROLES},
        "ROUGE-L (bin start; the last bin includes 1.0)",
    )
    leaks = histogram_svg(
        "PII values repeated per answered example",
        leak_labels,
        {role: dists[role].leak_bins for role in ROLES},
        "distinct PII values of the chat repeated in the answer",
    )
    errors = ", ".join(f"{role}: {dists[role].errors:,}" for role in ROLES)
    return (
        '<section id="distributions"><h2>Distributions</h2>'
        f'<div class="charts">{rouge}{leaks}</div>'
        f'<p class="muted">Over all {selection.total:,} held-out examples; unanswered examples (errors) are not in '
        f"the charts ({errors}).</p></section>"
    )


def _judge(run: Mapping[str, Any]) -> str:
    """The LLM judge's verdicts on the tuned summaries, and its agreement with the human-labelled set, which
    decides whether its pass rate may gate the run."""
    judged, agreement = run.get("judge_summary"), run.get("judge_agreement")
    if not isinstance(judged, Mapping) and not isinstance(agreement, Mapping):
        off = '<p class="muted">No judge was asked (off for this project).</p>'
        return f'<section id="judge"><h2>Judge</h2>{off}</section>'
    rows = [("judge model", _esc(run.get("judge_model", NOTHING)))]
    if isinstance(judged, Mapping):
        rows.append(("tuned summaries passed", f"{_rate(judged.get('pass_rate'))} of {_value(judged.get('judged'))}"))
        for criterion, rate in sorted((judged.get("criteria_rates") or {}).items()):
            rows.append((f"  {criterion}", _rate(rate)))
    if isinstance(agreement, Mapping):
        overall = agreement.get("overall") or {}
        kappa = overall.get("kappa")
        rows.append(
            (
                "agreement with human verdicts",
                f"{_rate(overall.get('raw'))}, Cohen's kappa {_value(kappa)} "
                f"on {_value(agreement.get('examples'))} human-labelled examples",
            )
        )
        for criterion, measured in sorted((agreement.get("criteria") or {}).items()):
            if isinstance(measured, Mapping):
                rows.append((f"  {criterion}", f"{_rate(measured.get('raw'))}, kappa {_value(measured.get('kappa'))}"))
    trusted = run.get("judge_trusted")
    findings = "; ".join(str(f) for f in run.get("judge_findings") or [])
    used = "used by the gate" if trusted else f"not used by the gate ({findings or 'not measured'})"
    rows.append(("trusted", f"{_verdict(bool(trusted))}: {_esc(used)}"))
    return '<section id="judge"><h2>Judge</h2>' + _rows(rows) + "</section>"


def _gate(gate: Mapping[str, Any] | None, run: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    parts = ['<section id="gate"><h2>Gate</h2>']
    if gate is None:
        parts.append("<p>No gate recorded.</p>")
    else:
        parts.append(f"<p>Verdict: {_verdict(gate.get('passed'))}</p>")
        checks = gate.get("checks")
        if isinstance(checks, list) and checks:
            parts.append(_checks(checks))
        scalars = []
        for key, value in gate.items():  # the rest as it is: reasons, failures, notes, whatever the gate adds
            if key in ("passed", "checks") or value in (None, "", [], {}):
                continue
            if isinstance(value, list | tuple):
                items = "".join(f"<li>{_value(item)}</li>" for item in value)
                parts.append(f"<h3>{_esc(key)}</h3><ul>{items}</ul>")
            else:
                scalars.append((str(key), _value(value)))
        if scalars:
            parts.append(_rows(scalars))
    passed = run.get("evaluation_passed", summary.get("passed"))
    findings = run.get("evaluation_findings", summary.get("findings")) or []
    found = "".join(f"<li>{_value(finding)}</li>" for finding in findings) if isinstance(findings, list) else ""
    parts.append(
        f"<p>The project's evaluation thresholds: {_verdict(passed)}</p>"
        + (f"<ul>{found}</ul>" if found else '<p class="muted">No findings.</p>')
    )
    parts.append("</section>")
    return "".join(parts)


def _checks(checks: list[Any]) -> str:
    """The gate's checks, one row each: what was measured against what, and by how much it passed or failed."""
    header = "<tr><th>check</th><th>measured</th><th>threshold</th><th>result</th><th>margin</th><th>why</th></tr>"
    rows = []
    for check in checks:
        if not isinstance(check, Mapping):
            rows.append(f'<tr><td colspan="6">{_value(check)}</td></tr>')
            continue
        rows.append(
            f"<tr><td>{_value(check.get('name'))}</td>"
            + "".join(f'<td class="num">{_value(check.get(key))}</td>' for key in ("measured", "threshold"))
            + f'<td>{_verdict(check.get("passed"))}</td><td class="num">{_value(check.get("margin"))}</td>'
            + f"<td>{_value(check.get('reason'))}</td></tr>"
        )
    return f"<table>{header}{''.join(rows)}</table>"


def _examples(shown: Sequence[tuple[Reason, ExampleView]], selection: Selection[Any]) -> str:
    leaking = f"{selection.leaking:,} tuned output(s) leak PII"
    intro = (
        f"<p>Shown {len(shown):,} of {selection.total:,} held-out examples ({leaking}): every leaking tuned output "
        "first, then the lowest tuned ROUGE-L, then a deterministic sample. PII values of the chat that an "
        "output repeats are <mark>highlighted</mark>.</p>"
    )
    cards = [_example(number, reason, view) for number, (reason, view) in enumerate(shown, start=1)]
    heading = '<section id="examples"><h2>Examples, base and tuned side by side</h2>'
    return heading + intro + "".join(cards) + "</section>"


def _example(number: int, reason: Reason, view: ExampleView) -> str:
    pii = extract_pii(view.chat)
    columns = [
        _column("Chat (user message)", _plain(view.chat)),
        _column("Human summary", _plain(view.human_summary)),
        _column("Base output", *_output(view.base, pii)),
        _column("Tuned output", *_output(view.tuned, pii)),
    ]
    return (
        f'<article class="example" id="example-{number}"><h3>#{number} data row {_esc(view.data_row_id)} '
        f'<span class="reason">({_esc(reason.value)})</span></h3><div class="cols">{"".join(columns)}</div></article>'
    )


def _column(title: str, text_html: str, scores: str = "") -> str:
    return f"<div><h4>{_esc(title)}</h4>{scores}{text_html}</div>"


def _plain(text: str) -> str:
    shown, left_out = _cut(text)
    return f'<pre class="text">{_esc(shown)}</pre>' + _left_out(left_out)


def _left_out(count: int) -> str:
    return f'<p class="muted">({count:,} more characters not shown)</p>' if count else ""


def _output(output: OutputView | None, pii: Mapping[str, Iterable[str]]) -> tuple[str, str]:
    """The answer with the PII it repeats highlighted, and its scores."""
    if output is None:
        return f'<p class="muted">{NOTHING} (no answer recorded)</p>', ""
    leaks = ", ".join(f"{_esc(kind)} {count}" for kind, count in sorted(output.leaks.items()) if count) or "none"
    scores = f'<p class="muted">ROUGE-L {_value(output.rouge_l)} · leaks: {leaks}</p>'
    if output.error is not None or output.output is None:
        return f'<p class="fail">no answer: {_esc(output.error or "no output")}</p>', scores
    text, left_out = _cut(output.output)
    return f'<pre class="text">{highlight(text, pii)}</pre>' + _left_out(left_out), scores


def highlight(text: str, pii: Mapping[str, Iterable[str]]) -> str:
    """`text` escaped, with each PII value of `pii` it repeats in a <mark> (its type as the title)."""
    parts, position = [], 0
    for start, end, kind in leak_spans(text, pii):
        parts.append(_esc(text[position:start]))
        parts.append(f'<mark title="{_esc(kind)}">{_esc(text[start:end])}</mark>')
        position = end
    parts.append(_esc(text[position:]))
    return "".join(parts)
