"""How people name a model or a run, parsed one way for `compare`, `promote` and `score`.

A reference is a run id (32 hex characters), `models:/NAME@ALIAS`, `models:/NAME/VERSION`, or a
bare alias (`champion`, `candidate`) of the registered model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelReference:
    name: str
    alias: str | None = None
    version: str | None = None


def is_run_id(reference: str) -> bool:
    return bool(_RUN_ID.match(reference))


def parse_model_uri(reference: str) -> ModelReference | None:
    """`models:/NAME@ALIAS` or `models:/NAME/VERSION`; None for anything else."""
    match = _MODEL_URI.match(reference)
    if not match:
        return None
    return ModelReference(match["name"], match["alias"], match["version"])


def model_version(client: MlflowClient, reference: ModelReference) -> ModelVersion:
    """The version a parsed reference names (raises MlflowException when there is none)."""
    if reference.alias:
        return client.get_model_version_by_alias(reference.name, reference.alias)
    return client.get_model_version(reference.name, reference.version)
