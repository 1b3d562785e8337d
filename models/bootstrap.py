"""Percentile bootstrap confidence intervals for any metric of (y_true, p).

Stratified by default: each resample draws responders and non-responders separately, with
replacement, keeping both counts, so every resample has the test set's prevalence and AUROC is
always defined. Metrics marked ``batchable`` (see ``models.scores``) are evaluated on all
resamples of a chunk at once; any other ``metric_fn(y, p) -> float`` is called once per resample.
Both paths see the same resamples for the same seed.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
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


def _replicates(metric_fn: Callable, y: np.ndarray, ps: list[np.ndarray], n_resamples: int,
                seed, stratified: bool) -> list[np.ndarray]:
    """Metric on each resample, for each probability vector in ``ps`` (same resamples)."""
    if stratified and (y.min() == y.max()):
        raise ValueError("stratified bootstrap needs both responders and non-responders")
    rng = np.random.default_rng(seed)
    out = [[] for _ in ps]
    for idx in resample_indices(y, n_resamples, rng, stratified):
        for k, p in enumerate(ps):
            if getattr(metric_fn, "batchable", False):
                values = np.asarray(metric_fn(y[idx], p[idx]), dtype=float)
            else:
                values = np.array([metric_fn(y[row], p[row]) for row in idx], dtype=float)
            out[k].append(values)
    return [np.concatenate(values) for values in out]


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
