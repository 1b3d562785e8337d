"""Is this patient like the patients the model learned from?

A patient is flagged out of distribution, with a reason a clinician can act on, when
  * a numeric feature lies beyond the range seen in training;
  * a category was never seen in training (it is then treated as missing);
  * many features are missing (more than in 99 % of training patients);
  * the combination of numeric features is unusual: Mahalanobis distance (median-imputed,
    standardised) beyond the 99.5th percentile of training patients.
Everything is stored as JSON beside the model.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.course import ALTERNATIVES
from models.layout import FeatureLayout
from pipeline.core.errors import UserError


@dataclass(frozen=True)
class DomainReference:
    numeric: list[str]
    center: list[float]           # training medians (imputation) and means for scaling
    scale: list[float]
    inverse_covariance: list[list[float]]
    distance_threshold: float     # 99.5th percentile of training distances
    missing_threshold: int        # 99th percentile of training missing-feature counts

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> DomainReference:
        """Read `domain.json`; a malformed file (it may come from a store others can write) is
        refused with a message, not a traceback."""
        try:
            reference = cls(**json.loads(path.read_text(encoding="utf-8")))
            numbers = [*reference.center, *reference.scale, reference.distance_threshold,
                       reference.missing_threshold, *sum(reference.inverse_covariance, [])]
            if not all(isinstance(x, (int, float)) for x in numbers) or \
                    len(reference.center) != len(reference.numeric) or \
                    len(reference.scale) != len(reference.numeric):
                raise ValueError("wrong types or lengths")
        except (ValueError, TypeError, UnicodeDecodeError) as error:
            raise UserError(f"{path} is not a txresponse out-of-distribution reference "
                            f"({type(error).__name__}); retrain or restore the model "
                            "folder") from None
        return reference


def _standardised(frame: pd.DataFrame, numeric: list[str], center, scale) -> np.ndarray:
    values = frame[numeric].to_numpy(dtype=float)
    values = np.where(np.isnan(values), np.asarray(center), values)
    return (values - np.asarray(center)) / np.asarray(scale)


def missing_characteristics(frame: pd.DataFrame) -> tuple[np.ndarray, int]:
    """(characteristics not recorded per patient, characteristics in all). Features that are
    alternative forms of one characteristic (features.course.ALTERNATIVES: the first dose in
    mg/kg or in mg) count once, as missing only when no form is recorded: an IV patient has no
    dose in mg by design."""
    missing = np.zeros(len(frame), dtype=int)
    grouped: set[str] = set()
    n_characteristics = 0
    for members in ALTERNATIVES.values():
        present = [c for c in members if c in frame.columns]
        if present:
            missing += frame[present].isna().all(axis=1).to_numpy().astype(int)
            grouped.update(present)
            n_characteristics += 1
    others = frame.drop(columns=sorted(grouped))
    return missing + others.isna().sum(axis=1).to_numpy(), n_characteristics + others.shape[1]


def _distances(z: np.ndarray, inverse_covariance: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,jk,ik->i", z, inverse_covariance, z))


def fit_domain(layout: FeatureLayout, model_frame: pd.DataFrame) -> DomainReference:
    """`model_frame` is `layout.frame(development features)`."""
    numeric = [c for c in layout.numeric if model_frame[c].notna().any()]
    values = model_frame[numeric].to_numpy(dtype=float)
    center = np.nanmedian(values, axis=0)
    scale = np.nanstd(values, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = _standardised(model_frame, numeric, center, scale)
    # atleast_2d: with one numeric feature np.cov is a scalar; with none there is no
    # combination to judge, and every distance is 0 (the threshold then never flags).
    inverse = np.linalg.pinv(np.atleast_2d(np.cov(z, rowvar=False))) if numeric and len(z) > 1 \
        else np.zeros((len(numeric), len(numeric)))
    missing, _ = missing_characteristics(model_frame)
    return DomainReference(numeric, center.tolist(), scale.tolist(), inverse.tolist(),
                           float(np.percentile(_distances(z, inverse), 99.5)),
                           int(np.percentile(missing, 99)))


def flag(reference: DomainReference, layout: FeatureLayout, features: pd.DataFrame,
         labels: dict[str, str] | None = None,
         units: dict[str, str] | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(out_of_distribution 0/1, warnings joined by " | ", missing-feature counts).

    `labels` and `units` (from the feature dictionary) make the warnings read in the clinic's
    words: "length of current episode 1 months is below ...".
    """
    labels, units = labels or {}, units or {}
    name = lambda f: labels.get(f, f)  # noqa: E731 - one-line lookups
    unit = lambda f: f" {units[f]}" if units.get(f) and units[f] not in ("0/1", "") else ""  # noqa: E731
    frame = layout.frame(features)
    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    for feature, (low, high) in layout.ranges.items():
        if feature not in layout.numeric:
            continue
        values = frame[feature].to_numpy(dtype=float)
        for i in np.flatnonzero(values < low):
            reasons[i].append(f"{name(feature)} {values[i]:g}{unit(feature)} is below the "
                              f"lowest value seen in training ({low:g}{unit(feature)})")
        for i in np.flatnonzero(values > high):
            reasons[i].append(f"{name(feature)} {values[i]:g}{unit(feature)} is above the "
                              f"highest value seen in training ({high:g}{unit(feature)})")
    for feature in layout.categorical:
        raw = features[feature]
        unseen = raw.notna().to_numpy() & frame[feature].isna().to_numpy()
        for i in np.flatnonzero(unseen):
            reasons[i].append(f"{name(feature)} '{raw.iloc[i]}' was never seen in training")
    missing, n_characteristics = missing_characteristics(frame)
    for i in np.flatnonzero(missing > reference.missing_threshold):
        reasons[i].append(f"{missing[i]} of {n_characteristics} characteristics not recorded "
                          f"(99 % of training patients had at most {reference.missing_threshold})")
    z = _standardised(frame, reference.numeric, reference.center, reference.scale)
    k = len(reference.numeric)  # JSON keeps an empty matrix as [], not as a 0 x 0 array
    distance = _distances(z, np.asarray(reference.inverse_covariance, dtype=float).reshape(k, k))
    for i in np.flatnonzero(distance > reference.distance_threshold):
        reasons[i].append("an unusual combination of characteristics compared with training "
                          "patients")
    ood = np.array([1 if r else 0 for r in reasons], dtype=int)
    return ood, [" | ".join(r) for r in reasons], missing
