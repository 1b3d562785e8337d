"""The feature registry: every feature's name, clinical meaning, unit, kind and sources, in one
place.

Clinician reports take their plain-language names from it, so `label` (with its `unit`) is
written for a psychiatrist, not a data scientist.
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
    """One feature, known on the prediction day (every feature reads only records up to it,
    features/records.py). `compute` returns one value per patient, indexed by `patient_id`;
    missing stays missing.
    """

    name: str
    label: str
    meaning: str
    unit: str
    kind: Kind
    sources: tuple[str, ...]
    compute: Callable[[KnownRecords], pd.Series]
    levels: tuple[str, ...] | None = None
    # Features that stand for one characteristic recorded in one of several forms (the first
    # dose in mg/kg or in mg): a patient has at most one, so the others are not "not recorded".
    alternatives: str | None = None

    # Every feature is a baseline feature: the feature dictionary's "known" column says so.
    known = "baseline (on or before the prediction day)"


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
