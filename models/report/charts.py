"""Inline SVG charts for the clinician report: an icon array and a waterfall.

The SVG is written here as text, so every piece of text it embeds goes through `_text` /
`_attr` (XML escaping) — a recorded value such as `<script>` must stay text. The SVG is only
ever inlined in HTML, where it needs no namespace URL (so a report holds no "http" at all).
Colours are a blue/orange pair that stays distinct for colour-blind readers, and every bar also
carries a signed number, so nothing relies on colour alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from models.report.phrasing import expected_out_of

RAISES, LOWERS, NEUTRAL, EMPTY = "#1f5fa8", "#d35f00", "#6b6b6b", "#d9d9d9"


def _text(value: object) -> str:
    return escape(str(value))


def _attr(value: object) -> str:
    return quoteattr(str(value))


def icon_array(probability: float, sentence: str) -> str:
    """10 × 10 people; the first round(100 × probability) are filled (expected responders)."""
    filled = expected_out_of(probability, 100)
    size, gap = 22, 4
    icons = []
    for index in range(100):
        row, column = divmod(index, 10)
        x, y = column * (size + gap), row * (size + gap)
        colour = RAISES if index < filled else EMPTY
        # A head and shoulders: reads as "a person" at 22 px and prints well in grey.
        icons.append(
            f'<g fill="{colour}"><circle cx="{x + 11}" cy="{y + 6}" r="5"/>'
            f'<path d="M{x + 2} {y + 22} Q{x + 2} {y + 12} {x + 11} {y + 12} '
            f'Q{x + 20} {y + 12} {x + 20} {y + 22} Z"/></g>')
    side = 10 * (size + gap) - gap
    return (f'<svg class="icon-array" role="img" '
            f'aria-label={_attr(sentence)} viewBox="0 0 {side} {side}" width="{side}" '
            f'height="{side}" data-filled="{filled}"><title>{_text(sentence)}</title>'
            + "".join(icons) + "</svg>")


@dataclass(frozen=True)
class Bar:
    """One row of the waterfall, in percentage points of probability (0–100 scale)."""

    label: str
    start: float
    end: float
    kind: str  # base | raises | lowers | total

    @property
    def change(self) -> float:
        return self.end - self.start


def waterfall_bars(base_probability: float, factors: list[tuple[str, float]],
                   final_probability: float, rest_label: str) -> list[Bar]:
    """Base rate, one bar per shown factor, one for all other characteristics, final chance.

    `factors` are (label, contribution in points). The "other characteristics" bar is whatever
    is left, so the bars always end exactly on the patient's probability.
    """
    base, final = 100 * base_probability, 100 * final_probability
    bars = [Bar("Typical patient in the training cohort", 0.0, base, "base")]
    level = base
    for label, points in factors:
        bars.append(Bar(label, level, level + points, "raises" if points > 0 else "lowers"))
        level += points
    rest = final - level
    if abs(rest) >= 0.05:
        bars.append(Bar(rest_label, level, final, "raises" if rest > 0 else "lowers"))
    bars.append(Bar("This patient", 0.0, final, "total"))
    return bars


def _signed(points: float) -> str:
    """"+9" / "−6"; below one point one decimal, matching "less than 1 point" in the text."""
    shown = f"{abs(points):.1f}" if abs(points) < 1 else f"{round(abs(points))}"
    return ("+" if points > 0 else "−") + shown


def _shorten(label: str, limit: int = 44) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def waterfall_svg(bars: list[Bar], description: str) -> str:
    """Horizontal waterfall: labels on the left, bars on a 0–100 % scale zoomed to the data."""
    label_width, plot_width, row, top = 300, 330, 26, 24
    high = max(max(b.start, b.end) for b in bars)
    axis_max = min(100.0, max(10.0, math.ceil((high + 5) / 10) * 10))
    scale = plot_width / axis_max
    height = top + row * len(bars) + 8
    parts = [f'<svg class="waterfall" role="img" '
             f'aria-label={_attr(description)} viewBox="0 0 {label_width + plot_width + 50} '
             f'{height}" width="{label_width + plot_width + 50}" height="{height}">'
             f'<title>{_text(description)}</title>']
    for tick in range(0, int(axis_max) + 1, 10):
        x = label_width + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 8}" '
                     f'stroke="#e3e3e3"/><text x="{x:.1f}" y="{top - 10}" font-size="10" '
                     f'text-anchor="middle" fill="#555">{tick} %</text>')
    for index, bar in enumerate(bars):
        y = top + index * row
        left, right = sorted((bar.start, bar.end))
        colour = {"raises": RAISES, "lowers": LOWERS}.get(bar.kind, NEUTRAL)
        weight = ' font-weight="600"' if bar.kind in {"base", "total"} else ""
        value = (f"{round(bar.end)} %" if bar.kind in {"base", "total"}
                 else _signed(bar.change))
        x = label_width + left * scale
        width = max((right - left) * scale, 1.5)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" font-size="12" text-anchor="end"'
            f'{weight}><title>{_text(bar.label)}</title>{_text(_shorten(bar.label))}</text>'
            f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{row - 10}" '
            f'fill="{colour}"/><text x="{x + width + 4:.1f}" y="{y + 15}" font-size="11" '
            f'fill="#333">{_text(value)}</text>')
        if index + 1 < len(bars) and bars[index + 1].kind != "total":
            # Connector: where the next bar starts.
            cx = label_width + bar.end * scale
            parts.append(f'<line x1="{cx:.1f}" y1="{y + row - 6}" x2="{cx:.1f}" '
                         f'y2="{y + row + 4}" stroke="#999" stroke-dasharray="2 2"/>')
    parts.append("</svg>")
    return "".join(parts)
