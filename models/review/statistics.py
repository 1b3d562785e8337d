"""Differences between a later run and the baseline: AUROC, Brier score and ICI. Paired, on
the same test patients, by the paired stratified bootstrap (`models.bootstrap`), AUROC also by
DeLong's test (`paired_differences`: the one paired-statistics function of `compare` and
`promote`); unpaired, when the runs cannot be paired (`unpaired_differences`), from each run's
own logged metric and 95 % interval. Differences are always later − baseline (for `promote`:
candidate − champion).
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np
from scipy.stats import norm

from models.bootstrap import paired_bootstrap_difference
from models.calibration_metrics import ici
from models.review.delong import delong_test
from models.review.evidence import ROLE, Run
from models.scores import auroc, brier

ALPHA = 0.05
ROLE_PREFIX = f"{ROLE}."
# The normal quantile of the 95 % intervals the evaluate stage logs (1.96).
Z = float(norm.ppf(1 - ALPHA / 2))


def integrated_calibration_index(y_true, p) -> float:
    """ICI as a plain metric function (the bootstrap calls it once per resample)."""
    return ici(y_true, p).ici


@dataclass(frozen=True)
class Metric:
    key: str
    label: str  # as it reads in a sentence
    higher_is_better: bool
    function: object


METRICS = (
    Metric("auroc", "AUROC", True, auroc),
    Metric("brier", "Brier score", False, brier),
    Metric("ici", "ICI", False, integrated_calibration_index),
)


@dataclass(frozen=True)
class Difference:
    """One metric of the later run minus the baseline's with its 95 % interval: paired (the
    paired bootstrap; for AUROC also DeLong's p-value and interval) or, with `paired` False,
    the approximate unpaired interval from the two runs' logged intervals. Unpaired values a
    run did not log are None, and `notes` says why."""

    metric: Metric
    baseline: float | None
    other: float | None
    difference: float | None
    lower: float | None
    upper: float | None
    p_value: float | None = None
    delong_lower: float | None = None
    delong_upper: float | None = None
    paired: bool = True
    notes: tuple[str, ...] = ()

    @property
    def has_interval(self) -> bool:
        return self.lower is not None and self.upper is not None

    @property
    def clear(self) -> bool:
        """The 95 % interval excludes no difference."""
        return self.has_interval and (self.lower > 0 or self.upper < 0)

    @property
    def improvement(self) -> bool:
        return self.difference is not None and self.difference != 0 and \
            (self.difference > 0) == self.metric.higher_is_better

    @property
    def tests_disagree(self) -> bool:
        """DeLong's test and the bootstrap interval reach different conclusions at 5 %."""
        return self.p_value is not None and np.isfinite(self.p_value) and \
            (self.p_value < ALPHA) != self.clear


def paired_differences(y, p_baseline, p_other, n_resamples: int, seed: int,
                       alpha: float = ALPHA,
                       keys: tuple[str, ...] = ("auroc", "brier", "ici")) -> list[Difference]:
    """The differences (other − baseline) of the metrics named by `keys`, in METRICS order,
    with (1 − alpha) intervals. Every metric sees the same resampled patients (same seed, same
    outcome vector), stratified by outcome; `y` and both probability vectors are aligned
    patient by patient (`models.review.pairing.pair`)."""
    out = []
    for metric in (m for m in METRICS if m.key in keys):
        estimate = paired_bootstrap_difference(metric.function, y, p_other, p_baseline,
                                               n_resamples=n_resamples, seed=seed, alpha=alpha)
        extra = {}
        if metric.key == "auroc":
            try:
                delong = delong_test(y, p_baseline, p_other, alpha=alpha)
                extra = {"p_value": delong.p_value, "delong_lower": delong.lower,
                         "delong_upper": delong.upper}
            except ValueError:  # fewer than two responders or non-responders
                extra = {"p_value": float("nan")}
        out.append(Difference(metric, float(metric.function(y, p_baseline)),
                              float(metric.function(y, p_other)), estimate.difference,
                              estimate.lower, estimate.upper, **extra))
    return out


def _logged(run: Run, key: str) -> float | None:
    value = run.headline(key)
    return float(value) if value is not None and math.isfinite(value) else None


def unpaired_difference(metric: Metric, baseline: Run, other: Run, baseline_name: str = "A",
                        other_name: str = "B") -> Difference:
    """`other` − `baseline` from each run's own logged value and 95 % interval, for runs that
    cannot be paired.

    Each logged interval is read as estimate ± Z·se, so se = (high − low) / (2 Z); treating the
    two test sets as independent, the difference d has the approximate 95 % interval
    d ± Z·sqrt(se_baseline² + se_other²). When the runs share test patients the two estimates
    are positively correlated and this interval is wider than a paired one would be; the logged
    intervals are percentile bootstrap intervals, so only their width is used. A value or an
    interval that a run did not log gives None, with the reason in `notes`.
    """
    values, notes = {}, []
    for run, name, role in ((baseline, baseline_name, "baseline"), (other, other_name, "other")):
        value = _logged(run, metric.key)
        low, high = _logged(run, f"{metric.key}_ci_low"), _logged(run, f"{metric.key}_ci_high")
        if value is None:
            notes.append(f"run {name} logged no {metric.label} "
                         f"({ROLE_PREFIX}{metric.key})")
        elif low is None or high is None:
            notes.append(f"run {name} logged no 95 % interval for its {metric.label} "
                         f"({ROLE_PREFIX}{metric.key}_ci_low and _ci_high)")
        values[role] = (value, low, high)
    (a, a_low, a_high), (b, b_low, b_high) = values["baseline"], values["other"]
    if a is None or b is None:
        return Difference(metric, a, b, None, None, None, paired=False, notes=tuple(notes))
    difference = b - a
    if None in (a_low, a_high, b_low, b_high):
        return Difference(metric, a, b, difference, None, None, paired=False,
                          notes=tuple(notes))
    se_a, se_b = (a_high - a_low) / (2 * Z), (b_high - b_low) / (2 * Z)
    half_width = Z * math.sqrt(se_a ** 2 + se_b ** 2)
    return Difference(metric, a, b, difference, difference - half_width,
                      difference + half_width, paired=False)


def unpaired_differences(baseline: Run, other: Run, baseline_name: str = "A",
                         other_name: str = "B") -> list[Difference]:
    """AUROC, Brier and ICI differences (other − baseline) without pairing
    (`unpaired_difference`)."""
    return [unpaired_difference(metric, baseline, other, baseline_name, other_name)
            for metric in METRICS]
