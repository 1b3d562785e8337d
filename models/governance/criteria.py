"""Promotion criteria results, and the absolute criteria: the version on its own. The criteria
file (`configs/promotion.yaml`) is read by `models.review.config`; the criteria relative to the
champion are in `models.governance.champion`.

Pure functions: the evidence is read elsewhere (`models.review.evidence`), so every
criterion can be tested on hand-written numbers. Results carry only aggregate figures and
subgroup labels, never a patient identifier.
"""
from __future__ import annotations

from dataclasses import dataclass

from models.review.config import PromotionCriteria

PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "N/A"


@dataclass(frozen=True)
class CriterionResult:
    """One line of the promotion table. `status` is PASS, FAIL or N/A (N/A never blocks)."""

    name: str
    status: str
    required: str
    observed: str

    @property
    def passed(self) -> bool:
        return self.status != FAIL

    def summary(self) -> str:
        return f"{self.status}: {self.observed} (required {self.required})"


def _result(name: str, ok: bool, required: str, observed: str) -> CriterionResult:
    return CriterionResult(name, PASS if ok else FAIL, required, observed)


def _missing(name: str, required: str, key: str) -> CriterionResult:
    # A figure that was never recorded cannot vouch for the model: fail, never skip.
    return CriterionResult(name, FAIL, required, f"not recorded (metric {key!r} missing)")


def absolute_criteria(criteria: PromotionCriteria,
                      metrics: dict[str, float]) -> list[CriterionResult]:
    """The version on its own. `metrics` are the calibrated candidate's test metrics without
    the role prefix: auroc, auroc_ci_low, calibration_slope, ..."""
    c, m = criteria, metrics
    out = []
    required = f">= {c.auroc_lower_bound_min:.3f}"
    if "auroc_ci_low" in m:
        observed = f"{m['auroc_ci_low']:.3f}"
        if "auroc" in m and "auroc_ci_high" in m:
            observed += (f" (AUROC {m['auroc']:.3f}, 95 % CI {m['auroc_ci_low']:.3f} to "
                         f"{m['auroc_ci_high']:.3f})")
        out.append(_result("auroc_lower_bound", m["auroc_ci_low"] >= c.auroc_lower_bound_min,
                           required, observed))
    else:
        out.append(_missing("auroc_lower_bound", required, "auroc_ci_low"))

    low, high = c.calibration_slope_range
    required = f"within [{low:.2f}, {high:.2f}]"
    if "calibration_slope" in m:
        slope = m["calibration_slope"]
        observed = f"{slope:.3f}" + ("" if low <= slope <= high else
                                     " (over-fitted: predictions too extreme)" if slope < low
                                     else " (predictions too modest)")
        out.append(_result("calibration_slope", low <= slope <= high, required, observed))
    else:
        out.append(_missing("calibration_slope", required, "calibration_slope"))

    bound = c.calibration_intercept_max_abs
    checks = [  # (criterion and metric name, required, passes, format)
        ("calibration_intercept", f"within ±{bound:.2f}", lambda v: abs(v) <= bound, "{:+.3f}"),
        ("ici", f"<= {c.ici_max:.3f}", lambda v: v <= c.ici_max, "{:.4f}"),
        ("n_test", f">= {c.n_test_min}", lambda v: v >= c.n_test_min, "{:.0f}"),
    ]
    for key, required, ok, fmt in checks:
        out.append(_result(key, ok(m[key]), required, fmt.format(m[key])) if key in m
                   else _missing(key, required, key))
    return out
