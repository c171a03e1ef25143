"""Histograms as inline SVG: the report is one file that loads nothing, so charts are drawn, not fetched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 560
HEIGHT = 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 12, 28, 40
SERIES_CLASSES = ("bar-base", "bar-tuned")  # colours come from the report's inline <style>


def histogram_svg(title: str, bin_labels: Sequence[str], series: Mapping[str, Sequence[int]], x_label: str) -> str:
    """Grouped bars, one group per bin and one bar per series (base, tuned), each bar's count written above it
    (readable without hovering) and in its <title> (a tooltip where the viewer shows one)."""
    if not bin_labels:
        raise ValueError("a histogram needs at least one bin")
    if any(len(counts) != len(bin_labels) for counts in series.values()):
        raise ValueError("every series needs one count per bin")
    names = list(series)
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = max([1, *(count for counts in series.values() for count in counts)])
    group = plot_width / len(bin_labels)
    bar = group * 0.8 / max(1, len(names))
    base_y = MARGIN_TOP + plot_height
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{MARGIN_LEFT}" y="16">{escape(title)}</text>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{base_y}" x2="{WIDTH - MARGIN_RIGHT}" y2="{base_y}"/>',
        f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" text-anchor="end">{top}</text>',
        f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{base_y}" text-anchor="end">0</text>',
    ]
    for index, label in enumerate(bin_labels):
        left = MARGIN_LEFT + index * group + group * 0.1
        for offset, name in enumerate(names):
            count = series[name][index]
            height = plot_height * count / top
            x, y = left + offset * bar, base_y - height
            css = SERIES_CLASSES[offset % len(SERIES_CLASSES)]
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}">'
                f"<title>{escape(name)}, {escape(label)}: {count}</title></rect>"
            )
            if count:
                parts.append(
                    f'<text class="count" x="{x + bar / 2:.1f}" y="{y - 2:.1f}" text-anchor="middle">{count}</text>'
                )
        parts.append(
            f'<text class="tick" x="{left + group * 0.4:.1f}" y="{base_y + 14}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<text class="tick" x="{MARGIN_LEFT + plot_width / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    legend_x = WIDTH - MARGIN_RIGHT - 150
    for offset, name in enumerate(names):
        css = SERIES_CLASSES[offset % len(SERIES_CLASSES)]
        x = legend_x + offset * 75
        parts.append(f'<rect class="{css}" x="{x}" y="7" width="10" height="10"/>')
        parts.append(f'<text class="tick" x="{x + 14}" y="16">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
