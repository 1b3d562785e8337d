"""Percentile bootstrap confidence intervals for any metric of (y_true, p).

Stratified by default: each resample draws responders and non-responders separately, with
replacement, keeping both counts, so every resample has the test set's prevalence and AUROC is
always defined. That suits measures that condition on the outcome (AUROC, sensitivity); it is
wrong for any measure that depends on how many patients responded (calibration-in-the-large,
Brier, PPV, net benefit): fixing the count removes most of their sampling variation, and the
interval comes out far too narrow (a calibration intercept's 95 % interval covered the truth
about half the time in a simulation). Those take ``stratified=False``: patients are resampled
as they were drawn. ``models.metrics.INTERVAL_METHOD`` says which measure uses which.

Metrics marked ``batchable`` (see ``models.scores``) are evaluated on all resamples of a chunk at
once; any other ``metric_fn(y, p) -> float`` is called once per resample. Both paths see the same
resamples for the same seed, and ``bootstrap_many`` gives several metrics the same resamples as
``bootstrap_ci`` gives each of them alone.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

import numpy as np

from models.scores import as_arrays

# Resamples drawn per vectorised step; bounds memory at about chunk × n × 16 bytes. Fixed,
# because the random stream (hence the interval) depends on it.
CHUNK = 100


class BootstrapCI(NamedTuple):
    """Point estimate on the full data and the percentile interval; unpacks as a 3-tuple."""

    estimate: float
    lower: float
    upper: float


class PairedDifference(NamedTuple):
    """metric(p_a) − metric(p_b) on the full data and its paired percentile interval."""

    difference: float
    lower: float
    upper: float


def resample_indices(y: np.ndarray, n_resamples: int, rng: np.random.Generator,
                     stratified: bool = True) -> Iterator[np.ndarray]:
    """Yield (≤ CHUNK, n) arrays of row indices, one row per bootstrap resample.

    Stratified rows list the resampled responders first, then non-responders.
    """
    positives = np.flatnonzero(y == 1)
    negatives = np.flatnonzero(y == 0)
    for start in range(0, n_resamples, CHUNK):
        size = min(CHUNK, n_resamples - start)
        if stratified:
            yield np.concatenate([
                positives[rng.integers(0, len(positives), size=(size, len(positives)))],
                negatives[rng.integers(0, len(negatives), size=(size, len(negatives)))],
            ], axis=1)
        else:
            yield rng.integers(0, len(y), size=(size, len(y)))


def _on_resamples(metric_fn: Callable, y: np.ndarray, p: np.ndarray,
                  idx: np.ndarray) -> np.ndarray:
    if getattr(metric_fn, "batchable", False):
        return np.asarray(metric_fn(y[idx], p[idx]), dtype=float)
    return np.array([metric_fn(y[row], p[row]) for row in idx], dtype=float)


def _replicates_many(metric_fns: list[Callable], y: np.ndarray, ps: list[np.ndarray],
                     n_resamples: int, seed, stratified: bool) -> list[list[np.ndarray]]:
    """[metric][probability vector] -> the metric on each resample (all on the same resamples)."""
    if stratified and (y.min() == y.max()):
        raise ValueError("stratified bootstrap needs both responders and non-responders")
    rng = np.random.default_rng(seed)
    out = [[[] for _ in ps] for _ in metric_fns]
    for idx in resample_indices(y, n_resamples, rng, stratified):
        for m, metric_fn in enumerate(metric_fns):
            for k, p in enumerate(ps):
                out[m][k].append(_on_resamples(metric_fn, y, p, idx))
    return [[np.concatenate(values) for values in per_p] for per_p in out]


def _replicates(metric_fn: Callable, y: np.ndarray, ps: list[np.ndarray], n_resamples: int,
                seed, stratified: bool) -> list[np.ndarray]:
    """Metric on each resample, for each probability vector in ``ps`` (same resamples)."""
    return _replicates_many([metric_fn], y, ps, n_resamples, seed, stratified)[0]


def _interval(replicates: np.ndarray, alpha: float) -> tuple[float, float]:
    n_invalid = int(np.isnan(replicates).sum())
    if n_invalid == len(replicates):
        return np.nan, np.nan
    if n_invalid:
        warnings.warn(f"{n_invalid} bootstrap resamples gave NaN and were left out", stacklevel=3)
    lower, upper = np.nanpercentile(replicates, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lower), float(upper)


def bootstrap_ci(metric_fn: Callable, y_true, p, n_resamples: int = 1000, seed=0,
                 alpha: float = 0.05, stratified: bool = True) -> BootstrapCI:
    """``metric_fn(y_true, p)`` on all patients and its (1 − alpha) percentile bootstrap interval.

    Deterministic given ``seed`` (numpy ``default_rng``). Resamples where the metric is NaN
    (possible only without stratification) are dropped with a warning.
    """
    y, p = as_arrays(y_true, p)
    replicates, = _replicates(metric_fn, y, [p], n_resamples, seed, stratified)
    return BootstrapCI(float(metric_fn(y, p)), *_interval(replicates, alpha))


def bootstrap_many(metric_fns: Mapping[str, Callable], y_true, p, n_resamples: int = 1000,
                   seed=0, alpha: float = 0.05,
                   stratified: bool = True) -> dict[str, BootstrapCI]:
    """``bootstrap_ci`` for several metrics at once, all on the same resamples.

    Each metric's interval equals what ``bootstrap_ci`` gives it alone with the same seed, and a
    metric that is itself a difference of two quantities (net benefit of the model minus that
    of treating all) is thereby paired.
    """
    y, p = as_arrays(y_true, p)
    names = list(metric_fns)
    replicates = _replicates_many([metric_fns[k] for k in names], y, [p], n_resamples, seed,
                                  stratified)
    return {name: BootstrapCI(float(metric_fns[name](y, p)), *_interval(values[0], alpha))
            for name, values in zip(names, replicates)}


def paired_bootstrap_difference(metric_fn: Callable, y_true, p_a, p_b, n_resamples: int = 1000,
                                seed=0, alpha: float = 0.05,
                                stratified: bool = True) -> PairedDifference:
    """metric(p_a) − metric(p_b) with a percentile interval from the same resampled patients.

    Pairing keeps the patient-to-patient correlation between the two models' errors, so the
    interval is much narrower than comparing two separate intervals.
    """
    y, p_a = as_arrays(y_true, p_a)
    _, p_b = as_arrays(y_true, p_b)
    rep_a, rep_b = _replicates(metric_fn, y, [p_a, p_b], n_resamples, seed, stratified)
    estimate = float(metric_fn(y, p_a)) - float(metric_fn(y, p_b))
    return PairedDifference(estimate, *_interval(rep_a - rep_b, alpha))
