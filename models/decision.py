"""Clinical utility: decision curves and classification metrics at chosen thresholds.

A threshold probability pt is the risk at which a clinician is indifferent between giving and
withholding ketamine; its odds pt / (1 − pt) say how many unnecessary treatments one is willing
to give per responder found (Vickers & Elkin 2006). A patient counts as predicted responder when
p ≥ threshold.

Intervals (``clinical_utility``, ``threshold_metrics_with_intervals``) resample patients as they
were drawn, not stratified by outcome: PPV, NPV and every net benefit, treat-all's included,
depend on how many patients respond, and a stratified bootstrap would hold that fixed.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from models.bootstrap import bootstrap_many
from models.scores import as_arrays, batchable


def default_thresholds() -> np.ndarray:
    """0.05, 0.06, …, 0.80: exact two-decimal values (np.arange(0.05, 0.801, 0.01) drifts)."""
    return np.arange(5, 81) / 100


def _confusion(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    predicted = p[None, :] >= thresholds[:, None]
    responder = y[None, :] == 1
    return {
        "tp": (predicted & responder).sum(axis=1),
        "fp": (predicted & ~responder).sum(axis=1),
        "tn": (~predicted & ~responder).sum(axis=1),
        "fn": (~predicted & responder).sum(axis=1),
    }


def _thresholds(thresholds, inclusive: bool = False) -> np.ndarray:
    """Validated 1-D thresholds; strictly inside (0, 1) unless inclusive allows [0, 1]."""
    thresholds = default_thresholds() if thresholds is None else np.atleast_1d(
        np.asarray(thresholds, dtype=float))
    if inclusive:
        bad = (thresholds < 0) | (thresholds > 1)
    else:
        bad = (thresholds <= 0) | (thresholds >= 1)
    if bad.any() or np.isnan(thresholds).any():
        raise ValueError(f"threshold probabilities out of range: {thresholds}")
    return thresholds


def decision_curve(y_true, p, thresholds=None) -> pd.DataFrame:
    """Net benefit of treating by the model, treating all and treating none, per threshold.

    net benefit = TP/n − FP/n × pt / (1 − pt), in units of true responders treated per patient.
    Columns: threshold, tp, fp, net_benefit (the model), net_benefit_treat_all,
    net_benefit_treat_none (always 0). Default thresholds: 0.05–0.80 by 0.01.
    """
    y, p = as_arrays(y_true, p)
    thresholds = _thresholds(thresholds)
    counts = _confusion(y, p, thresholds)
    n = len(y)
    odds = thresholds / (1 - thresholds)
    prevalence = y.mean()
    return pd.DataFrame({
        "threshold": thresholds,
        "tp": counts["tp"],
        "fp": counts["fp"],
        "net_benefit": counts["tp"] / n - counts["fp"] / n * odds,
        "net_benefit_treat_all": prevalence - (1 - prevalence) * odds,
        "net_benefit_treat_none": np.zeros(len(thresholds)),
    })


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (e.g. PPV when nobody is flagged)."""
    numerator = numerator.astype(float)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def threshold_metrics(y_true, p, thresholds) -> pd.DataFrame:
    """Counts, sensitivity, specificity, PPV and NPV per threshold (p ≥ threshold is positive).

    A ratio whose denominator is zero is NaN. Columns: threshold, n_predicted_positive, tp, fp,
    tn, fn, sensitivity, specificity, ppv, npv.
    """
    y, p = as_arrays(y_true, p)
    thresholds = _thresholds(thresholds, inclusive=True)
    c = _confusion(y, p, thresholds)
    return pd.DataFrame({
        "threshold": thresholds,
        "n_predicted_positive": c["tp"] + c["fp"],
        "tp": c["tp"], "fp": c["fp"], "tn": c["tn"], "fn": c["fn"],
        "sensitivity": _ratio(c["tp"], c["tp"] + c["fn"]),
        "specificity": _ratio(c["tn"], c["tn"] + c["fp"]),
        "ppv": _ratio(c["tp"], c["tp"] + c["fp"]),
        "npv": _ratio(c["tn"], c["tn"] + c["fn"]),
    })


# -- with intervals ------------------------------------------------------------------------

RATES = ("sensitivity", "specificity", "ppv", "npv")


def _counts(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """TP, FP, TN, FN at one threshold, per row of (resamples, patients) arrays."""
    flagged = p >= threshold
    responder = y == 1
    return {"tp": (flagged & responder).sum(axis=-1), "fp": (flagged & ~responder).sum(axis=-1),
            "tn": (~flagged & ~responder).sum(axis=-1), "fn": (~flagged & responder).sum(axis=-1)}


def _metric(quantity: str, threshold: float):
    """A batchable metric (y, p) -> one value per resample, for one quantity at one threshold."""
    @batchable
    def fn(y_true, p):
        y, p = as_arrays(y_true, p)
        c = _counts(y, p, threshold)
        if quantity in RATES:
            numerator, other = {"sensitivity": ("tp", "fn"), "specificity": ("tn", "fp"),
                                "ppv": ("tp", "fp"), "npv": ("tn", "fn")}[quantity]
            with np.errstate(divide="ignore", invalid="ignore"):
                return c[numerator] / (c[numerator] + c[other])
        odds = threshold / (1 - threshold)
        n = y.shape[-1]
        prevalence = y.mean(axis=-1)
        model = c["tp"] / n - c["fp"] / n * odds
        treat_all = prevalence - (1 - prevalence) * odds
        return {"net_benefit": model, "net_benefit_treat_all": treat_all,
                "net_benefit_vs_treat_all": model - treat_all}[quantity]
    return fn


def _intervals(y, p, thresholds, quantities, n_resamples: int, seed, alpha: float) -> dict:
    """{(quantity, threshold): BootstrapCI}, every one on the same resamples of patients."""
    fns = {(q, float(t)): _metric(q, float(t)) for t in thresholds for q in quantities}
    keys = list(fns)
    with warnings.catch_warnings():
        # PPV is undefined on a resample where nobody is flagged; it is left out of that
        # interval (its point estimate is NaN then, which the tables show as "—").
        warnings.filterwarnings("ignore", message=".*bootstrap resamples gave NaN.*")
        found = bootstrap_many({i: fns[k] for i, k in enumerate(keys)}, y, p,
                               n_resamples=n_resamples, seed=seed, alpha=alpha,
                               stratified=False)
    return {k: found[i] for i, k in enumerate(keys)}


def _ci(interval) -> list[float] | None:
    low, high = interval.lower, interval.upper
    return None if np.isnan(low) or np.isnan(high) else [low, high]


def clinical_utility(y_true, p, thresholds, n_resamples: int = 1000, seed=0,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Net benefit of the model, of treating all, and the model's gain over treating all, at each
    threshold, each with a (1 − alpha) percentile bootstrap interval over resampled patients.

    The gain's interval is paired (same resamples), so it is much narrower than the two
    intervals' difference. Treating none has net benefit 0 by definition, so the model's own
    interval is also its comparison with treating none. Columns: threshold, net_benefit,
    net_benefit_ci, net_benefit_treat_all, net_benefit_treat_all_ci, net_benefit_vs_treat_all,
    net_benefit_vs_treat_all_ci ([lower, upper] lists).
    """
    y, p = as_arrays(y_true, p)
    thresholds = _thresholds(thresholds)
    quantities = ("net_benefit", "net_benefit_treat_all", "net_benefit_vs_treat_all")
    found = _intervals(y, p, thresholds, quantities, n_resamples, seed, alpha)
    rows = []
    for t in thresholds:
        row = {"threshold": float(t)}
        for q in quantities:
            row[q] = found[(q, float(t))].estimate
            row[f"{q}_ci"] = _ci(found[(q, float(t))])
        rows.append(row)
    return pd.DataFrame(rows)


def threshold_metrics_with_intervals(y_true, p, thresholds, n_resamples: int = 1000, seed=0,
                                     alpha: float = 0.05) -> pd.DataFrame:
    """``threshold_metrics`` plus sensitivity_ci, specificity_ci, ppv_ci and npv_ci
    ([lower, upper], or None when undefined), from resamples of patients."""
    table = threshold_metrics(y_true, p, thresholds)
    y, p = as_arrays(y_true, p)
    found = _intervals(y, p, table["threshold"].to_numpy(), RATES, n_resamples, seed, alpha)
    for q in RATES:
        table[f"{q}_ci"] = [None if np.isnan(value) else _ci(found[(q, float(t))])
                            for t, value in zip(table["threshold"], table[q])]
    return table
