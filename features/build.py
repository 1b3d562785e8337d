"""Compute the feature table and check it against a pandera schema built from the registry."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from features.records import KnownRecords
from features.registry import FeatureRegistry

_DTYPES = {"numeric": "Float64", "binary": "Int64", "categorical": "str"}


def compute_features(records: KnownRecords, registry: FeatureRegistry) -> pd.DataFrame:
    """One row per patient in patient-table order; `patient_id` is the key column."""
    columns = {"patient_id": records.patient_ids.to_numpy()}
    for spec in registry:
        values = spec.compute(records)
        columns[spec.name] = pd.Series(values.to_numpy(), dtype=object)
    table = pd.DataFrame(columns)
    return feature_schema(registry).validate(table)


def feature_schema(registry: FeatureRegistry) -> pa.DataFrameSchema:
    # coerce: a chunk whose patients were all quarantined has an empty id column of no type.
    columns = {"patient_id": pa.Column("str", unique=True, nullable=False, coerce=True)}
    for spec in registry:
        checks = [pa.Check.isin(list(spec.levels))] if spec.levels else []
        if spec.kind == "binary":
            checks.append(pa.Check.isin([0, 1]))
        columns[spec.name] = pa.Column(_DTYPES[spec.kind], checks=checks, nullable=True,
                                       coerce=True)
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name="features")
