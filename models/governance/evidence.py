"""What a registered model version was evaluated on, read back from its training run:
the calibrated candidate's test metrics, subgroup records and test predictions.

Also resolves the reference a reviewer types (a run id, `models:/name/3`, `models:/name@alias`,
or a bare alias) to a model version. `txresponse compare` (models/comparison) resolves
references too; this small copy keeps the two commands independent while both are new.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from models.references import model_version, parse_model_uri
from models.registration import PREDICTIONS_LOGGED

ROLE = "candidate_calibrated"  # the registered pyfunc predicts the calibrated candidate
# Run tag set by evaluate: "false" when evaluate.log_patient_predictions kept the test
# predictions out of the tracking store (site governance), "true" when they were logged.


class UnknownReference(LookupError):
    """A reference that names no model version (message says why)."""


@dataclass(frozen=True)
class Evidence:
    """Test-set evidence of one run. `predictions` has columns patient_id, label, p (used only
    to pair patients; never printed); None when not logged."""

    run_id: str
    metrics: dict[str, float]
    subgroups: list[dict] | None
    predictions: pd.DataFrame | None
    # The run's PREDICTIONS_LOGGED tag: False when its predictions were left out of the store by
    # policy, True when logged, None when the run records neither (not evaluated).
    predictions_logged: bool | None = None


def resolve_version(client: MlflowClient, reference: str, registered_model: str) -> ModelVersion:
    """The model version a reference names: `models:/name/<version>`, `models:/name@alias`,
    an alias of `registered_model` (e.g. candidate), or a training run id (the newest version
    registered from that run)."""
    try:
        if reference.startswith("models:/"):
            uri = parse_model_uri(reference)
            if uri is None:
                raise UnknownReference(f"{reference!r}: expected models:/NAME/VERSION or "
                                      "models:/NAME@ALIAS")
            return model_version(client, uri)
        versions = client.search_model_versions(
            f"name = '{registered_model}' and run_id = '{reference}'")
        if versions:
            return max(versions, key=lambda v: int(v.version))
        return client.get_model_version_by_alias(registered_model, reference)
    except MlflowException as error:
        raise UnknownReference(f"{reference!r} names no version of {registered_model!r} (not a "
                              f"run with a registered model, nor an alias): "
                              f"{error.message.splitlines()[0]}") from None


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version `alias` points at, or None when the alias is not set."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _artifact(client: MlflowClient, run_id: str, path: str, folder: str) -> Path | None:
    try:
        return Path(client.download_artifacts(run_id, path, folder))
    except (MlflowException, OSError):
        return None


def load_evidence(client: MlflowClient, run_id: str, scratch: Path | None = None) -> Evidence:
    """Metrics `candidate_calibrated.*` (prefix dropped), `evaluation/evaluation.json`
    subgroups and `evaluation/test_predictions.csv` of a training run.

    Test predictions are pseudonymous patient-level rows: artifacts are downloaded into a new
    folder only its owner can open (mode 0700) inside `scratch` (default: the working folder,
    where the tracking store lives), never the shared temporary folder, and the folder is
    removed as soon as they are read."""
    run = client.get_run(run_id)
    prefix = f"{ROLE}."
    metrics = {key.removeprefix(prefix): value for key, value in run.data.metrics.items()
               if key.startswith(prefix)}
    logged = {"true": True, "false": False}.get(
        run.data.tags.get(PREDICTIONS_LOGGED, "").strip().lower())
    folder = Path(tempfile.mkdtemp(prefix=".txresponse-promote-",
                                   dir=Path.cwd() if scratch is None else scratch))
    try:
        details = _artifact(client, run_id, "evaluation/evaluation.json", str(folder))
        subgroups = json.loads(details.read_text(encoding="utf-8")).get("subgroups") \
            if details else None
        table = _artifact(client, run_id, "evaluation/test_predictions.csv", str(folder))
        predictions = None
        if table is not None:
            frame = pd.read_csv(table, dtype={"patient_id": str})
            predictions = frame[["patient_id", "label", ROLE]].rename(columns={ROLE: "p"})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Evidence(run_id, metrics, subgroups, predictions, logged)
