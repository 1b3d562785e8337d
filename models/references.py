"""How people name a model or a run, parsed one way for `compare`, `promote` and `score`, and
resolved one way for `compare` and `promote` (`resolve`).

A reference is a run id (32 hex characters), `models:/NAME@ALIAS`, `models:/NAME/VERSION`, or a
bare alias (`champion`, `candidate`) of the registered model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


class UnknownReference(LookupError):
    """A reference that names no run or model version in the tracking store (the message says
    which, and why)."""


@dataclass(frozen=True)
class ModelReference:
    name: str
    alias: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Resolved:
    """What a reference names: the training run, and the model version (for a run id, the
    newest version of the registered model made from that run; None when there is none)."""

    run_id: str
    version: ModelVersion | None


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


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version `alias` points at, or None when the alias is not set."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _newest_version(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    try:
        found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return max(found, key=lambda v: int(v.version)) if found else None


def resolve(client: MlflowClient, reference: str, registered_model: str) -> Resolved:
    """The run (and model version) behind `reference`: a 32-hex run id, `models:/NAME@ALIAS`,
    `models:/NAME/VERSION`, or a bare alias of `registered_model`. Raises UnknownReference."""
    uri = parse_model_uri(reference)
    if uri is None and reference.startswith("models:/"):
        raise UnknownReference(f"{reference!r}: expected models:/NAME/VERSION or "
                               "models:/NAME@ALIAS")
    try:
        if uri is None and is_run_id(reference):
            run_id = client.get_run(reference).info.run_id
            return Resolved(run_id, _newest_version(client, registered_model, run_id))
        version = model_version(client, uri) if uri else \
            client.get_model_version_by_alias(registered_model, reference)
    except MlflowException:
        if uri is None and is_run_id(reference):
            raise UnknownReference(f"no run with id {reference!r} in this tracking store") \
                from None
        name = uri.name if uri else registered_model
        raise UnknownReference(f"{reference!r} is not an alias or version of the registered "
                               f"model {name!r} in this tracking store (is the model "
                               "registered, and the alias set?)") from None
    if not version.run_id:
        raise UnknownReference(f"{reference!r} names a model version that no run logged")
    return Resolved(version.run_id, version)


def resolve_version(client: MlflowClient, reference: str,
                    registered_model: str) -> ModelVersion:
    """The model version `reference` names (`resolve`); a run id must have registered a
    version of `registered_model`."""
    resolved = resolve(client, reference, registered_model)
    if resolved.version is None:
        raise UnknownReference(f"{reference!r} names no version of {registered_model!r}: the "
                               "run registered none (is it evaluated? evaluate registers it)")
    return resolved.version
