"""The run's report (a self-contained HTML page), rendered from plain values: no AWS, no network, no clock.

pipeline/report.py reads the run's files and writes the page next to them.
"""

from labeltune.report.html_report import render_report
from labeltune.report.selection import DEFAULT_LIMIT, ExampleSelector, Reason, Selection, select_views
from labeltune.report.views import ExampleView, OutputView

__all__ = [
    "DEFAULT_LIMIT",
    "ExampleSelector",
    "ExampleView",
    "OutputView",
    "Reason",
    "Selection",
    "render_report",
    "select_views",
]
