"""Numbers and plain sentences for the comparison: "Run B's AUROC is 0.030 higher than run A's
(95 % CI −0.010 to 0.070; DeLong p = 0.21): not a clear improvement."

The verdict follows the 95 % paired bootstrap interval (the interval the sentence shows): clear
when it excludes 0. DeLong's p-value is given beside it; where the two disagree the sentence says
so, because that only happens near the boundary.

Unpaired differences (runs that cannot be paired) get their own wording: the interval is named
as the approximate unpaired one, the verdict says only whether it excludes 0 and which run it
favours, and a difference that it does favour is called an association with the run (its test
set as well as its model), never an improvement of the model.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime

from models.review.statistics import Difference

MINUS = "\u2212"
DIGITS = 3
UNPAIRED_INTERVAL = "approximate 95 % interval, unpaired"
UNPAIRED_INTERVAL_NOTE = ("assumes independent test sets; wider than a paired interval when the "
                          "runs share test patients")


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
    if not d.paired:
        return _unpaired_verdict(d)
    if d.clear:
        return "a clear improvement" if d.improvement else "clearly worse"
    if round(d.difference, DIGITS) == 0:
        return "no clear difference"
    return "not a clear improvement" if d.improvement else "not clearly worse"


def _unpaired_verdict(d: Difference) -> str:
    if d.difference is None:
        return "not judged: a value is missing"
    if not d.has_interval:
        return "not judged: no interval"
    if d.clear:
        return "favours the later run" if d.improvement else "favours run A"
    return "no clear difference"


def _change(d: Difference, baseline: str) -> str:
    size = abs(d.difference)
    if round(size, DIGITS) == 0:
        return f"the same as run {baseline}'s to {DIGITS} decimals"
    direction = "higher" if d.difference > 0 else "lower"
    return f"{number(size)} {direction} than run {baseline}'s"


def sentence(d: Difference, other: str, baseline: str) -> str:
    """One plain sentence per metric; for Brier and ICI it says that lower is better."""
    if not d.paired:
        return unpaired_sentence(d, other, baseline)
    details = ([] if d.metric.higher_is_better else ["lower is better"]) \
        + [f"95 % CI {interval(d.lower, d.upper)}"]
    if d.p_value is not None:
        details.append(f"DeLong {p_value(d.p_value)}")
    text = f"Run {other}'s {d.metric.label} is {_change(d, baseline)} ({'; '.join(details)}): " \
           f"{verdict(d)}."
    if d.tests_disagree:
        text += " DeLong's test and the bootstrap interval disagree here: a borderline difference."
    return text


def unpaired_sentence(d: Difference, other: str, baseline: str) -> str:
    """The sentence for an unpaired difference: no more than its interval supports, and a
    difference it supports is an association with the run, not an effect of the model."""
    label = d.metric.label
    why = "; ".join(d.notes)
    if d.difference is None:
        return f"No unpaired {label} difference between run {other} and run {baseline}: {why}."
    details = [] if d.metric.higher_is_better else ["lower is better"]
    if not d.has_interval:
        details.append(f"no interval: {why}")
        return (f"Run {other}'s logged {label} is {_change(d, baseline)} "
                f"({'; '.join(details)}): without an interval, this says nothing about whether "
                f"the runs differ.")
    details.append(f"{UNPAIRED_INTERVAL}: {interval(d.lower, d.upper)}")
    text = f"Run {other}'s logged {label} is {_change(d, baseline)} ({'; '.join(details)}): "
    if not d.clear:
        return text + "the interval includes 0, so this does not show a difference between " \
                      "the runs."
    better, worse = (other, baseline) if d.improvement else (baseline, other)
    return text + (f"the interval excludes 0, so run {better}'s evaluation shows a better "
                   f"{label} than run {worse}'s; unpaired, this may reflect the test set as well "
                   f"as the model.")


def timestamp(milliseconds: int) -> str:
    if not milliseconds:
        return "—"
    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
