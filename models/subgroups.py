"""Performance by clinical subgroup (sex, age band, site, route, diagnosis), TRIPOD+AI fairness.

A subgroup with fewer than ``min_n`` patients, or fewer than ``min_events`` responders or
non-responders, is reported with its counts and ``status = "too small"`` and no metrics: an AUROC
or a calibration slope from a handful of events is noise that reads like a finding.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from models.calibration_metrics import LOWESS_FRAC, calibration_intercept_slope, ici
from models.scores import as_arrays, auroc, brier

MISSING = "missing"
AGE_BANDS = ["<18", "18-34", "35-49", "50-64", "65+"]
METRIC_COLUMNS = ["auroc", "brier", "calibration_intercept", "calibration_slope", "ici"]


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


def subgroup_metrics(frame: pd.DataFrame | None, y_true, p,
                     groups: Mapping[str, pd.Series | str], min_n: int = 30,
                     min_events: int = 10, frac: float = LOWESS_FRAC) -> pd.DataFrame:
    """Tidy table of counts and key metrics for each level of each grouping variable.

    ``groups`` maps a variable name (e.g. "sex") to either a Series/array aligned by position
    with ``y_true`` and ``p``, or the name of a column of ``frame`` (which may then be None
    otherwise). Missing values form a level "missing". Categorical groups keep their category
    order, others are sorted. Columns: group, level, n, events, non_events, prevalence, status
    ("ok" or "too small"), auroc, brier, calibration_intercept, calibration_slope, ici.
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
            rows.append(row | metrics)
    columns = ["group", "level", "n", "events", "non_events", "prevalence", "status",
               *METRIC_COLUMNS]
    return pd.DataFrame(rows, columns=columns)
