"""The fitted response model as an MLflow pyfunc model, logged as code (MLflow's "models from
code"): MLflow stores this file and the saved model folder, and never pickles an estimator.

`predict` returns a DataFrame with one column, `calibrated_probability` (the calibrated
probability of response, 0–1), on the input's index: exactly `ResponseModel.predict_proba`.

Input contract (the signature): the training feature columns, numeric and binary ones as double
(NaN for missing), categorical ones as string, plus an optional `patient_id` that is ignored.
MLflow refuses to convert pandas nullable Int64 to double, so pass a feature table read from
Parquet through `as_model_input` first.
"""
from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from models.bundle import ModelBundle
from models.layout import KEY, FeatureLayout

OUTPUT = "calibrated_probability"


class CalibratedResponseModel(mlflow.pyfunc.PythonModel):
    """Loads the model artifact (models/bundle.py) logged as the artifact `model_dir`."""

    def load_context(self, context) -> None:
        self.bundle = ModelBundle.load(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame,
                params: dict | None = None) -> pd.DataFrame:
        probability = self.bundle.model.predict_proba(model_input)
        return pd.DataFrame({OUTPUT: np.asarray(probability, dtype=float)},
                            index=model_input.index)


def model_signature(layout: FeatureLayout) -> ModelSignature:
    """Columns in training order; every feature may hold missing values, so doubles not longs."""
    inputs = [ColSpec("string", KEY, required=False)]
    for name in layout.order:
        inputs.append(ColSpec("string" if name in layout.categorical else "double", name))
    return ModelSignature(inputs=Schema(inputs), outputs=Schema([ColSpec("double", OUTPUT)]))


def as_model_input(features: pd.DataFrame) -> pd.DataFrame:
    """The feature table with integer (incl. nullable Int64) columns as float64 with NaN."""
    integer = [c for c in features.columns if pd.api.types.is_integer_dtype(features[c])]
    return features.astype({c: "float64" for c in integer})


# MLflow executes this file under a generated module name when it logs or loads the model; a
# normal import of `models.mlflow_model` has no side effect.
if __name__ != "models.mlflow_model":
    mlflow.models.set_model(CalibratedResponseModel())
