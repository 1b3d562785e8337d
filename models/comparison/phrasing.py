"""Numbers and plain sentences for the comparison: "Run B's AUROC is 0.030 higher than run A's
(95 % CI −0.010 to 0.070; DeLong p = 0.21): not a clear improvement."

The verdict follows the 95 % paired bootstrap interval (the interval the sentence shows): clear
when it excludes 0. DeLong's p-value is given beside it; where the two disagree the sentence says
so, because that only happens near the boundary.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime

from models.comparison.statistics import Difference

MINUS = "\u2212"
DIGITS = 3


def number(value: float | None, digits: int = DIGITS) -> str:
    """Fixed decimals with a true minus sign; an em dash for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    text = f"{value:.{digits}f}"
    if text.startswith("-"):
        text = text[1:] if float(text) == 0 else MINUS + text[1:]
    return text


def signed(value: float, digits: int = DIGITS) -> str:
    """+0.030 / −0.030 / 0.000."""
    text = number(value, digits)
    return text if text.startswith(MINUS) or float(text) == 0 else "+" + text


def interval(lower: float | None, upper: float | None, digits: int = DIGITS) -> str:
    return f"{number(lower, digits)} to {number(upper, digits)}"


def p_value(p: float | None) -> str:
    """p = 0.21, p = 0.047, p < 0.001."""
    if p is None or not math.isfinite(p):
        return "p not computable"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2f}" if p >= 0.1 else f"p = {p:.3f}"


def verdict(d: Difference) -> str:
    if d.clear:
        return "a clear improvement" if d.improvement else "clearly worse"
    if round(d.difference, DIGITS) == 0:
        return "no clear difference"
    return "not a clear improvement" if d.improvement else "not clearly worse"


def sentence(d: Difference, other: str, baseline: str) -> str:
    """One plain sentence per metric; for Brier and ICI it says that lower is better."""
    size = abs(d.difference)
    if round(size, DIGITS) == 0:
        change = f"the same as run {baseline}'s to {DIGITS} decimals"
    else:
        direction = "higher" if d.difference > 0 else "lower"
        change = f"{number(size)} {direction} than run {baseline}'s"
    details = ([] if d.metric.higher_is_better else ["lower is better"]) \
        + [f"95 % CI {interval(d.lower, d.upper)}"]
    if d.p_value is not None:
        details.append(f"DeLong {p_value(d.p_value)}")
    text = f"Run {other}'s {d.metric.label} is {change} ({'; '.join(details)}): {verdict(d)}."
    if d.tests_disagree:
        text += " DeLong's test and the bootstrap interval disagree here: a borderline difference."
    return text


def timestamp(milliseconds: int) -> str:
    if not milliseconds:
        return "—"
    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
