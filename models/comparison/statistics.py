"""Paired differences between a later run and the baseline on the same test patients: AUROC,
Brier score and ICI by the paired stratified bootstrap (`models.bootstrap`), AUROC also by
DeLong's test. Differences are always later − baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.bootstrap import paired_bootstrap_difference
from models.calibration_metrics import ici
from models.comparison.delong import delong_test
from models.scores import auroc, brier

ALPHA = 0.05


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
    """One metric of the later run minus the baseline's, with its 95 % paired bootstrap
    interval; for AUROC also DeLong's p-value and interval."""

    metric: Metric
    baseline: float
    other: float
    difference: float
    lower: float
    upper: float
    p_value: float | None = None
    delong_lower: float | None = None
    delong_upper: float | None = None

    @property
    def clear(self) -> bool:
        """The 95 % interval excludes no difference."""
        return self.lower > 0 or self.upper < 0

    @property
    def improvement(self) -> bool:
        return (self.difference > 0) == self.metric.higher_is_better and self.difference != 0

    @property
    def tests_disagree(self) -> bool:
        """DeLong's test and the bootstrap interval reach different conclusions at 5 %."""
        return self.p_value is not None and np.isfinite(self.p_value) and \
            (self.p_value < ALPHA) != self.clear


def paired_differences(y, p_baseline, p_other, n_resamples: int, seed: int) -> list[Difference]:
    """AUROC, Brier and ICI differences (other − baseline). Every metric sees the same
    resampled patients (same seed, same outcome vector), stratified by outcome."""
    out = []
    for metric in METRICS:
        estimate = paired_bootstrap_difference(metric.function, y, p_other, p_baseline,
                                               n_resamples=n_resamples, seed=seed, alpha=ALPHA)
        extra = {}
        if metric.key == "auroc":
            delong = delong_test(y, p_baseline, p_other, alpha=ALPHA)
            extra = {"p_value": delong.p_value, "delong_lower": delong.lower,
                     "delong_upper": delong.upper}
        out.append(Difference(metric, float(metric.function(y, p_baseline)),
                              float(metric.function(y, p_other)), estimate.difference,
                              estimate.lower, estimate.upper, **extra))
    return out
