"""Charts people read at a glance, drawn on the server as SVG (no JavaScript, no library).

Each chart is a `Chart`: an accessible SVG (role="img", a title and a description that say
what it shows) plus the same figures as rows, which the page shows in a table under it.
Bars for counts and money per day, a line for the sentiment trend (-1 … 1, zero marked),
bars by level for the churn distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 8, 10, 26


@dataclass(frozen=True)
class Chart:
    svg: str
    rows: list[tuple[str, str]]  # (label, value as shown) for the table under the chart


def _frame(title: str, summary: str, body: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}: {escape(summary)}">'
        f"<title>{escape(title)}</title><desc>{escape(summary)}</desc>{body}</svg>"
    )


def _nice_max(value: float) -> float:
    """The round number just above `value` (0.34 → 0.5, 7 → 10, 1,830 → 2,000)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _labelled(index: int, count: int, every: int) -> bool:
    """Every `every`-th label, and the last one unless it would touch the one before."""
    if index == count - 1:
        return (count - 1) % every >= every // 2 or (count - 1) % every == 0
    return index % every == 0


def _axis(top: float, bottom_label: str, top_label: str) -> str:
    plot_bottom = HEIGHT - PAD_BOTTOM
    return (
        f'<line class="axis" x1="{PAD_LEFT}" y1="{plot_bottom}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{plot_bottom}"/>'
        f'<line class="grid" x1="{PAD_LEFT}" y1="{top}" x2="{WIDTH - PAD_RIGHT}" y2="{top}"/>'
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{plot_bottom}" text-anchor="end">'
        f"{escape(bottom_label)}</text>"
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{top + 4}" text-anchor="end">'
        f"{escape(top_label)}</text>"
    )


def bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    unit: str = "",
    money: bool = False,
    every: int = 7,
) -> Chart:
    """Vertical bars (one per label), x labels every `every` bars."""
    shown = [f"${v:,.2f}" if money else f"{v:,.0f}{unit}" for v in values]
    top_value = _nice_max(max(values, default=0))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(values), 1)
    top_label = f"${top_value:,.2f}" if money and top_value < 10 else f"{top_value:,.0f}"
    parts = [_axis(PAD_TOP, "0", top_label if money else f"{top_value:,.0f}")]
    for i, (label, value, text) in enumerate(zip(labels, values, shown, strict=True)):
        h = plot_h * (value / top_value)
        x = PAD_LEFT + i * slot + slot * 0.15
        y = HEIGHT - PAD_BOTTOM - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}"><title>{escape(label)}: {escape(text)}</title></rect>'
        )
        if _labelled(i, len(values), every):
            parts.append(
                f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    total = sum(values)
    summary = (
        f"{len(values)} values from {labels[0]} to {labels[-1]}, total "
        f"{'$' + format(total, ',.2f') if money else format(total, ',.0f')}, highest "
        f"{shown[list(values).index(max(values))]} ({labels[list(values).index(max(values))]})"
        if values
        else "no data"
    )
    return Chart(_frame(title, summary, "".join(parts)), list(zip(labels, shown, strict=True)))


def sentiment_line(title: str, labels: Sequence[str], values: Sequence[float | None]) -> Chart:
    """Mean sentiment per day on a -1 … 1 scale; days without conversations leave a gap."""
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return PAD_TOP + plot_h * (1 - (value + 1) / 2)

    parts = [
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}"/>',
        f'<line class="zero" x1="{PAD_LEFT}" y1="{y(0):.1f}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{y(0):.1f}"/>',
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{y(1) + 4:.1f}" text-anchor="end">+1</text>',
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>',
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{y(-1):.1f}" text-anchor="end">-1</text>',
    ]
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, value in enumerate(values):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        point = f"{PAD_LEFT + i * slot:.1f},{y(value):.1f}"
        segment.append(point)
        parts.append(
            f'<circle class="dot" cx="{PAD_LEFT + i * slot:.1f}" cy="{y(value):.1f}" r="2.5">'
            f"<title>{escape(labels[i])}: {value:+.2f}</title></circle>"
        )
    if segment:
        segments.append(segment)
    for points in segments:
        parts.append(f'<polyline class="line" points="{" ".join(points)}"/>')
    for i, label in enumerate(labels):
        if _labelled(i, len(labels), 7):
            parts.append(
                f'<text class="tick" x="{PAD_LEFT + i * slot:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    known = [v for v in values if v is not None]
    summary = (
        f"mean sentiment {sum(known) / len(known):+.2f} over {len(known)} days with "
        f"conversations; first {known[0]:+.2f}, last {known[-1]:+.2f}"
        if known
        else "no conversations analysed yet"
    )
    rows = [
        (label, "—" if v is None else f"{v:+.2f}") for label, v in zip(labels, values, strict=True)
    ]
    return Chart(_frame(title, summary, "".join(parts)), rows)


def levels(title: str, counts: dict[str, int]) -> Chart:
    """Horizontal bars, one per level (churn risk: low → critical)."""
    plot_w = WIDTH - 120 - PAD_RIGHT - 60  # room for the count after the longest bar
    most = max(counts.values(), default=0) or 1
    bar_h = (HEIGHT - 20) / max(len(counts), 1)
    parts = []
    for i, (level, count) in enumerate(counts.items()):
        w = plot_w * count / most
        y = 10 + i * bar_h
        parts.append(
            f'<text class="tick" x="110" y="{y + bar_h * 0.6:.1f}" text-anchor="end">'
            f"{escape(level)}</text>"
            f'<rect class="bar level-{escape(level)}" x="120" y="{y + bar_h * 0.15:.1f}" '
            f'width="{w:.1f}" height="{bar_h * 0.7:.1f}"><title>{escape(level)}: {count:,}'
            f"</title></rect>"
            f'<text class="tick value" x="{124 + w:.1f}" y="{y + bar_h * 0.6:.1f}">{count:,}</text>'
        )
    total = sum(counts.values())
    summary = ", ".join(f"{level} {count:,}" for level, count in counts.items()) + (
        f" (of {total:,} members)"
    )
    return Chart(
        _frame(title, summary, "".join(parts)),
        [(level, f"{count:,}") for level, count in counts.items()],
    )
