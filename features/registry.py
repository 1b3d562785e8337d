"""The feature registry: every feature's name, clinical meaning, unit, sources and when it is
known, in one place.

Later stages read the same registry for plain-language names in clinician reports, so `label`
and `phrase` are written for a psychiatrist, not a data scientist.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from features.records import KnownRecords

Kind = Literal["numeric", "binary", "categorical"]


@dataclass(frozen=True)
class FeatureSpec:
    """One feature.

    `known_after_day` is the last day of records the feature reads relative to the prediction
    day: 0 means "known at the prediction day" (baseline). `compute` returns one value per
    patient, indexed by `patient_id`; missing stays missing.
    """

    name: str
    label: str
    meaning: str
    unit: str
    kind: Kind
    sources: tuple[str, ...]
    compute: Callable[[KnownRecords], pd.Series]
    levels: tuple[str, ...] | None = None
    known_after_day: int = 0
    # Features that stand for one characteristic recorded in one of several forms (the first
    # dose in mg/kg or in mg): a patient has at most one, so the others are not "not recorded".
    alternatives: str | None = None

    @property
    def known(self) -> str:
        return "baseline (on or before the prediction day)" if self.known_after_day == 0 \
            else f"after day {self.known_after_day}"


@dataclass
class FeatureRegistry:
    """Ordered collection of feature specs; order is the column order of the feature table."""

    specs: dict[str, FeatureSpec]

    def __iter__(self):
        return iter(self.specs.values())

    def __getitem__(self, name: str) -> FeatureSpec:
        return self.specs[name]

    def __contains__(self, name: str) -> bool:
        return name in self.specs

    @property
    def names(self) -> list[str]:
        return list(self.specs)

    def add(self, spec: FeatureSpec) -> None:
        if spec.name in self.specs:
            raise ValueError(f"feature {spec.name!r} registered twice")
        if spec.name == "patient_id":
            raise ValueError("patient_id is the key, never a feature")
        self.specs[spec.name] = spec


def per_patient(records: KnownRecords, values: pd.Series, fill=None) -> pd.Series:
    """Align a per-patient series to the patient table's order; absent patients get `fill`."""
    aligned = values.reindex(records.patient_ids)
    if fill is not None:
        aligned = aligned.fillna(fill)
    return aligned
