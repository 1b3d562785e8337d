"""Discrimination and overall-accuracy scores for predicted probabilities of response.

Every function takes ``y_true`` (1 = responder, 0 = non-responder) and ``p`` (predicted
probability of response, in (0, 1)). The functions marked ``batchable`` also accept a 2-D ``p``
(and ``y_true``) of shape (resamples, patients) and then return one value per row, which is what
lets ``models.bootstrap`` compute 1,000 resamples in one vectorised call.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special
from scipy.stats import rankdata

# Probabilities are clipped this far from 0 and 1 before taking logs or log-odds, the same
# value scikit-learn's log_loss has used, so a confident wrong prediction costs ~34.5 nats, not inf.
PROBABILITY_EPS = 1e-15


def batchable(fn: Callable) -> Callable:
    """Mark a metric as accepting (resamples, patients) arrays and returning one value per row."""
    fn.batchable = True
    return fn


def as_arrays(y_true, p) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to float arrays of the same shape; y must be 0/1."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape[-1] != p.shape[-1]:
        raise ValueError(f"y_true has {y.shape[-1]} patients but p has {p.shape[-1]}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must contain only 0 and 1")
    if np.isnan(p).any():
        raise ValueError("p contains NaN")
    return np.broadcast_to(y, p.shape) if y.ndim < p.ndim else y, p


@batchable
def auroc(y_true, p):
    """Area under the ROC curve (concordance), via the Mann–Whitney rank sum; ties count 1/2.

    NaN when only one class is present.
    """
    y, p = as_arrays(y_true, p)
    ranks = rankdata(p, axis=-1)  # average ranks, so tied scores contribute 1/2
    n_pos = y.sum(axis=-1)
    n_neg = y.shape[-1] - n_pos
    rank_sum = (ranks * y).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@batchable
def average_precision(y_true, p):
    """Area under the precision–recall curve as average precision (step-wise, as scikit-learn).

    AP = mean over responders of the precision at the threshold equal to their score, where
    tied scores share one threshold. Its no-skill value is the prevalence. NaN without responders.
    """
    y, p = as_arrays(y_true, p)
    order = np.argsort(-p, axis=-1, kind="stable")
    p_sorted = np.take_along_axis(p, order, axis=-1)
    y_sorted = np.take_along_axis(y, order, axis=-1)
    n = p.shape[-1]
    true_pos = np.cumsum(y_sorted, axis=-1)
    precision = true_pos / np.arange(1, n + 1)
    # Each position takes the precision at the end of its block of tied scores.
    block_end = np.ones(p_sorted.shape, dtype=bool)
    block_end[..., :-1] = p_sorted[..., 1:] != p_sorted[..., :-1]
    end_index = np.where(block_end, np.arange(n), n)
    end_index = np.flip(np.minimum.accumulate(np.flip(end_index, -1), axis=-1), -1)
    precision_at_block = np.take_along_axis(precision, end_index, axis=-1)
    n_pos = y.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (precision_at_block * y_sorted).sum(axis=-1) / n_pos


def discrimination(y_true, p) -> dict[str, float]:
    """AUROC and AUPRC (average precision)."""
    return {"auroc": float(auroc(y_true, p)), "auprc": float(average_precision(y_true, p))}


@batchable
def brier(y_true, p):
    """Brier score: mean squared difference between predicted probability and outcome (0 best)."""
    y, p = as_arrays(y_true, p)
    return ((p - y) ** 2).mean(axis=-1)


@batchable
def scaled_brier(y_true, p):
    """1 − Brier / Brier_null, Brier_null = prevalence × (1 − prevalence) (1 best, 0 no skill).

    The null model predicts the test set's own prevalence for everyone. NaN with one class only.
    """
    y, p = as_arrays(y_true, p)
    prevalence = y.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - brier(y, p) / (prevalence * (1 - prevalence))


@batchable
def log_loss(y_true, p, eps: float = PROBABILITY_EPS):
    """Mean negative log-likelihood in nats, p clipped to [eps, 1 − eps]."""
    y, p = as_arrays(y_true, p)
    p = np.clip(p, eps, 1 - eps)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p)).mean(axis=-1)


def logit(p, eps: float = PROBABILITY_EPS) -> np.ndarray:
    """Log-odds of p, clipped to [eps, 1 − eps] first."""
    return special.logit(np.clip(np.asarray(p, dtype=float), eps, 1 - eps))
