"""When a model version may be used: registered only after its evaluation, and runs that died
marked as such.

The train stage logs the model to its run but registers nothing. The evaluate stage, once every
metric and artifact is logged, registers the run's model (or finds the version an earlier
evaluation of the same run registered), tags it evaluated and points the `candidate` alias at
it. So a process killed anywhere leaves either no version or an evaluated one, and no alias on
anything else. `score`, `explain` and the model card find the version from the run id.

A run whose process was killed (kill -9, power loss) stays RUNNING in MLflow for ever; the next
train or evaluate on the same machine marks it KILLED (`close_abandoned_runs`).
"""
from __future__ import annotations

import os
import socket

import mlflow
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from pipeline.core.errors import UserError

EVALUATED = "txresponse.evaluated"  # version and run tag: "true" once evaluate has finished
HOST, PID = "txresponse.host", "txresponse.pid"  # run tags: which process is writing the run
CANDIDATE = "candidate"
# Run tag: "false" when evaluate left the test patients' predictions out of the store by policy
# (evaluate.log_patient_predictions), so compare and promote say why they cannot pair.
PREDICTIONS_LOGGED = "evaluation.patient_predictions_logged"


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the run's writer (read by `close_abandoned_runs`)."""
    return {HOST: socket.gethostname(), PID: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def close_abandoned_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark KILLED every RUNNING run of `experiment_id` whose writer was a process on this
    machine that no longer exists; the ids marked. Runs from other machines are left alone
    (their processes cannot be checked from here)."""
    closed = []
    here = socket.gethostname()
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'",
                                  max_results=1000):
        tags = run.data.tags
        pid = tags.get(PID, "")
        if tags.get(HOST) == here and pid.isdigit() and int(pid) != os.getpid() \
                and not _alive(int(pid)):
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            closed.append(run.info.run_id)
    return closed


def version_of_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The version of registered model `name` made from `run_id`, or None."""
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def register_evaluated(client: MlflowClient, run: dict, tags: dict[str, str]) -> ModelVersion:
    """Register the model of the evaluated run `run` (mlflow_run.json), or reuse the version an
    earlier evaluation registered; tag it evaluated; point `candidate` at it."""
    name = run["registered_model"]
    version = version_of_run(client, name, run["run_id"])
    if version is None:
        version = mlflow.register_model(run["model_uri"], name)
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    # The tag before the alias: an alias never points at a version not marked evaluated.
    client.set_model_version_tag(name, version.version, EVALUATED, "true")
    client.set_tag(run["run_id"], EVALUATED, "true")
    client.set_registered_model_alias(name, CANDIDATE, version.version)
    return client.get_model_version(name, version.version)


def is_evaluated(version: ModelVersion | None) -> bool:
    return version is not None and version.tags.get(EVALUATED) == "true"


def run_is_evaluated(client: MlflowClient, run_id: str) -> bool:
    """Whether evaluate finished on run `run_id` (False for a run the store does not hold)."""
    try:
        return client.get_run(run_id).data.tags.get(EVALUATED) == "true"
    except MlflowException:
        return False


def require_evaluated(evaluated: bool, what: str, allow: bool) -> None:
    """Refuse a model that no evaluation has passed, unless `allow` (--allow-unevaluated)."""
    if evaluated or allow:
        return
    raise UserError(f"{what} was never evaluated: its figures were never measured, so its "
                    "predictions must not reach a clinician. Run the evaluate stage (dvc "
                    "repro), or pass --allow-unevaluated to use it anyway (its reports say "
                    "so).")


def with_version(client: MlflowClient | None, run: dict) -> tuple[dict, ModelVersion | None]:
    """The run reference (mlflow_run.json) with the `version` evaluation registered for it
    (None before evaluation, or with no store: `client` None), and that version."""
    version = version_of_run(client, run["registered_model"], run["run_id"]) \
        if client is not None and run.get("registered_model") and run.get("run_id") else None
    return run | {"version": None if version is None else str(version.version)}, version
