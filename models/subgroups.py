"""Performance by clinical subgroup (sex, age band, site, route, diagnosis), TRIPOD+AI fairness.

A subgroup with fewer than ``min_n`` patients, or fewer than ``min_events`` responders or
non-responders, is reported with its counts and ``status = "too small"`` and no metrics: an AUROC
or a calibration slope from a handful of events is noise that reads like a finding.

Subgroups big enough to judge get bootstrap intervals (``n_resamples``; AUROC stratified by
outcome within the subgroup, the others over resampled patients, see
``models.metrics.INTERVAL_METHOD``) and, given a ``PoorSubgroupRule`` (``evaluate.poor_subgroup``
in configs/params.yaml), the reasons their discrimination or calibration is poor. The rule reads
point estimates: in a small subgroup it can fire by chance, and the intervals beside it say how
much chance could explain.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from models.calibration_metrics import LOWESS_FRAC, calibration_intercept_slope, ici
from models.scores import as_arrays, auroc, brier

MISSING = "missing"
AGE_BANDS = ["<18", "18-34", "35-49", "50-64", "65+"]
METRIC_COLUMNS = ["auroc", "brier", "calibration_intercept", "calibration_slope", "ici"]
# Measures given an interval per subgroup. ICI is not: its percentile bootstrap interval sits
# mostly above the estimate (resamples with repeated patients look less calibrated), and a
# lowess per resample per subgroup would make the stage many times slower on large cohorts.
INTERVAL_COLUMNS = ["auroc", "brier", "calibration_intercept", "calibration_slope"]


@dataclass(frozen=True)
class PoorSubgroupRule:
    """When a subgroup's figures are poor enough to be named among the limitations."""

    min_auroc: float = 0.6
    calibration_slope: tuple[float, float] = (0.5, 1.5)
    max_abs_calibration_intercept: float = 0.5

    def describe(self) -> str:
        low, high = self.calibration_slope
        return (f"AUROC below {self.min_auroc:.2f}, calibration slope outside {low:.2f}–"
                f"{high:.2f}, or calibration intercept beyond ±"
                f"{self.max_abs_calibration_intercept:.2f} (log-odds)")

    def as_dict(self) -> dict:
        return asdict(self) | {"calibration_slope": list(self.calibration_slope)}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def judge(row: Mapping, rule: PoorSubgroupRule) -> list[str]:
    """Why a subgroup's discrimination or calibration is poor by ``rule`` (empty: it is not)."""
    reasons = []
    auroc_, slope, intercept = (row.get(k) for k in ("auroc", "calibration_slope",
                                                     "calibration_intercept"))
    low, high = rule.calibration_slope
    if _missing(auroc_):
        reasons.append("AUROC could not be estimated")
    elif auroc_ < rule.min_auroc:
        reasons.append(f"AUROC {auroc_:.3f} below {rule.min_auroc:.2f}")
    if _missing(slope):
        reasons.append("calibration slope could not be estimated")
    elif not low <= slope <= high:
        reasons.append(f"calibration slope {slope:.2f} outside {low:.2f}–{high:.2f}")
    if _missing(intercept):
        reasons.append("calibration intercept could not be estimated")
    elif abs(intercept) > rule.max_abs_calibration_intercept:
        reasons.append(f"calibration intercept {intercept:.2f} beyond "
                       f"±{rule.max_abs_calibration_intercept:.2f}")
    return reasons


def age_band(age_years) -> pd.Series:
    """Ordered age bands 18-34, 35-49, 50-64, 65+ from age in years (65+ matters for esketamine).

    Fractional ages fall in the band of their completed years (34.9 → 18-34). Ages under 18
    get "<18" (outside the licensed population, but visible rather than silently dropped);
    missing ages stay missing.
    """
    ages = pd.Series(age_years, dtype=float) if not isinstance(age_years, pd.Series) \
        else age_years.astype(float)
    return pd.cut(ages, bins=[-np.inf, 18, 35, 50, 65, np.inf], labels=AGE_BANDS, right=False)


def _levels(values: pd.Series) -> tuple[np.ndarray, list]:
    """String labels per patient (NaN → "missing") and their display order."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        order = [str(c) for c in values.cat.categories]
    else:
        observed = values.dropna().unique()
        try:  # natural order (site 2 before site 10), falling back to text for mixed types
            order = [str(v) for v in sorted(observed)]
        except TypeError:
            order = sorted({str(v) for v in observed})
    labels = np.where(values.isna().to_numpy(), MISSING, values.astype(str).to_numpy())
    present = set(labels)
    order = [level for level in order if level in present]
    return labels, order + ([MISSING] if MISSING in present else [])


def _group_values(frame: pd.DataFrame | None, spec, n: int, name: str) -> pd.Series:
    values = frame[spec] if isinstance(spec, str) else spec
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    if len(values) != n:
        raise ValueError(f"subgroup {name!r} has {len(values)} values for {n} patients")
    return values.reset_index(drop=True)  # aligned by position with y and p


def level_metrics(y: np.ndarray, p: np.ndarray, frac: float = LOWESS_FRAC) -> dict[str, float]:
    """The key metrics reported for one subgroup."""
    return {
        "auroc": float(auroc(y, p)),
        "brier": float(brier(y, p)),
        **calibration_intercept_slope(y, p),
        "ici": ici(y, p, frac=frac).ici,
    }


def _level_intervals(y: np.ndarray, p: np.ndarray, n_resamples: int, seed,
                     alpha: float) -> dict[str, list[float] | None]:
    from models.metrics import metric_intervals  # models.metrics imports this module
    with warnings.catch_warnings():
        # In a small subgroup a resample can hold one outcome or separate them (no calibration
        # fit); the interval is made from the other resamples.
        warnings.filterwarnings("ignore", message=".*bootstrap resamples gave NaN.*")
        found = metric_intervals(y, p, INTERVAL_COLUMNS, n_resamples=n_resamples, seed=seed,
                                 alpha=alpha)
    return {f"{k}_ci": None if np.isnan(ci.lower) else [ci.lower, ci.upper]
            for k, ci in found.items()}


def subgroup_metrics(frame: pd.DataFrame | None, y_true, p,
                     groups: Mapping[str, pd.Series | str], min_n: int = 30,
                     min_events: int = 10, frac: float = LOWESS_FRAC, n_resamples: int = 0,
                     seed=0, alpha: float = 0.05,
                     rule: PoorSubgroupRule | None = None) -> pd.DataFrame:
    """Tidy table of counts and key metrics for each level of each grouping variable.

    ``groups`` maps a variable name (e.g. "sex") to either a Series/array aligned by position
    with ``y_true`` and ``p``, or the name of a column of ``frame`` (which may then be None
    otherwise). Missing values form a level "missing". Categorical groups keep their category
    order, others are sorted. Columns: group, level, n, events, non_events, prevalence, status
    ("ok" or "too small"), auroc, brier, calibration_intercept, calibration_slope, ici; with
    ``n_resamples`` also auroc_ci, brier_ci, calibration_intercept_ci, calibration_slope_ci
    ([lower, upper], None for a subgroup too small); with ``rule`` also poor (the reasons the
    subgroup's figures are poor; empty when they are not or it is too small to judge).
    """
    y, p = as_arrays(y_true, p)
    rows = []
    for name, spec in groups.items():
        labels, order = _levels(_group_values(frame, spec, len(y), name))
        for level in order:
            mask = labels == level
            n, events = int(mask.sum()), int(y[mask].sum())
            too_small = n < min_n or events < min_events or n - events < min_events
            row = {"group": name, "level": level, "n": n, "events": events,
                   "non_events": n - events, "prevalence": events / n,
                   "status": "too small" if too_small else "ok"}
            metrics = dict.fromkeys(METRIC_COLUMNS, np.nan) if too_small \
                else level_metrics(y[mask], p[mask], frac=frac)
            row |= metrics
            if n_resamples:
                row |= dict.fromkeys((f"{k}_ci" for k in INTERVAL_COLUMNS), None) if too_small \
                    else _level_intervals(y[mask], p[mask], n_resamples, seed, alpha)
            if rule is not None:
                row["poor"] = [] if too_small else judge(metrics, rule)
            rows.append(row)
    columns = ["group", "level", "n", "events", "non_events", "prevalence", "status",
               *METRIC_COLUMNS, *([f"{k}_ci" for k in INTERVAL_COLUMNS] if n_resamples else []),
               *(["poor"] if rule is not None else [])]
    return pd.DataFrame(rows, columns=columns)
