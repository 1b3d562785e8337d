"""The shape of the feature table a model was trained on: which columns are numeric, binary or
categorical, the categories seen, and the range of each numeric feature.

Stored with the model (JSON) so that scoring sees exactly the training columns and categories,
and so later stages can tell when a patient lies outside what the model has seen. Features the
development data cannot support (never recorded, or one value for everyone) are left out, with
the reason (features/selection.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from features.selection import unusable_features

KEY = "patient_id"


@dataclass(frozen=True)
class FeatureLayout:
    numeric: list[str]
    binary: list[str]
    categorical: dict[str, list[str]]          # feature -> categories seen in training
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # numeric min/max
    order: list[str] = field(default_factory=list)             # all features, training order
    excluded: dict[str, str] = field(default_factory=dict)     # left-out feature -> reason

    @classmethod
    def fit(cls, features: pd.DataFrame, kinds: dict[str, str] | None = None) -> FeatureLayout:
        """The layout of `features`. `kinds` (feature -> numeric | binary | categorical) comes
        from the feature registry: a numeric feature that happens to hold only 0 and 1 in this
        cohort stays numeric (and keeps its splines). A feature without a declared kind is
        judged from its values."""
        kinds = kinds or {}
        numeric, binary, categorical, ranges = [], [], {}, {}
        excluded = unusable_features(features)
        for name in features.columns:
            if name == KEY or name in excluded:
                continue
            column = features[name]
            declared = kinds.get(name)
            if declared != "categorical" and (declared in ("numeric", "binary")
                                              or pd.api.types.is_numeric_dtype(column)):
                values = pd.to_numeric(column, errors="coerce").astype("float64").dropna()
                guessed = "binary" if len(values) and set(values.unique()) <= {0.0, 1.0} \
                    else "numeric"
                (binary if (declared or guessed) == "binary" else numeric).append(name)
                if len(values):
                    ranges[name] = (float(values.min()), float(values.max()))
            else:
                categorical[name] = sorted(column.dropna().astype(str).unique().tolist())
        order = [c for c in features.columns if c != KEY and c not in excluded]
        return cls(numeric, binary, categorical, ranges, order, excluded)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ranges"] = {k: list(v) for k, v in self.ranges.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FeatureLayout:
        return cls(numeric=list(data["numeric"]), binary=list(data["binary"]),
                   categorical={k: list(v) for k, v in data["categorical"].items()},
                   ranges={k: tuple(v) for k, v in data["ranges"].items()},
                   order=list(data["order"]),
                   excluded=dict(data.get("excluded", {})))

    def frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model's input: training columns in training order, numbers as float64 with NaN
        for missing, categories as pandas categoricals over the training categories (an unseen
        category becomes missing)."""
        missing = [c for c in self.order if c not in features.columns]
        if missing:
            raise ValueError(f"feature table lacks columns the model was trained on: {missing}")
        out = {}
        for name in self.order:
            column = features[name]
            if name in self.categorical:
                known = column.astype("object").isin(self.categorical[name])
                values = column.astype("object").where(known & column.notna(), None)
                out[name] = pd.Categorical(values, categories=self.categorical[name])
            else:
                out[name] = pd.to_numeric(column, errors="coerce").astype("float64") \
                    .to_numpy(dtype=float, na_value=np.nan)
        return pd.DataFrame(out, index=features.index)
