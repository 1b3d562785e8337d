"""What a training run recorded, read back for review: params, metrics, tags, registered
versions, subgroups and test predictions. One loader for `compare` and `promote`.

Test predictions carry pseudonymous patient ids; they are held in memory for pairing and the
paired statistics only and are never written or printed. Artifacts are downloaded into a private
folder (mode 0700, `private_folder`) that the caller places beside its output or in the working
folder and that is removed as soon as the runs are read, never into the shared temporary folder.
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.registration import PREDICTIONS_LOGGED

PREDICTIONS = "evaluation/test_predictions.csv"
EVALUATION = "evaluation/evaluation.json"
# The model a run registers and whose test performance it logs: the calibrated candidate.
ROLE = "candidate_calibrated"
TARGET_PREFIX = "target."


@dataclass
class Run:
    """One training run as recorded in MLflow. `metrics` are as logged (`candidate_calibrated.
    auroc`, ...); `predictions` has columns patient_id, label, probability (never shown)."""

    run_id: str
    reference: str = ""  # what the reviewer typed
    run_name: str = ""
    start_time: int = 0  # ms since the epoch
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)  # e.g. "txresponse-response v5 @candidate"
    subgroups: list[dict] | None = None
    predictions: pd.DataFrame | None = None

    @property
    def short_id(self) -> str:
        return self.run_id[:8]

    @property
    def predictions_logged(self) -> bool | None:
        """What the run's evaluation recorded about its test predictions (run tag set by
        evaluate): False when it left them out of the store by policy
        (evaluate.log_patient_predictions: false), True when it logged them, None when it
        recorded neither (not evaluated, or evaluated before the tag)."""
        value = self.tags.get(PREDICTIONS_LOGGED, "").strip().lower()
        return {"true": True, "false": False}.get(value)

    @property
    def targets(self) -> dict[str, str]:
        """The run's target definition (`target.*` tags)."""
        return {k: v for k, v in self.tags.items() if k.startswith(TARGET_PREFIX)}

    def headline(self, key: str) -> float | None:
        return self.metrics.get(f"{ROLE}.{key}")

    @property
    def headline_metrics(self) -> dict[str, float]:
        """The calibrated candidate's test metrics without the role prefix: auroc,
        auroc_ci_low, calibration_slope, ..."""
        prefix = f"{ROLE}."
        return {key.removeprefix(prefix): value for key, value in self.metrics.items()
                if key.startswith(prefix)}


@contextmanager
def private_folder(beside: Path, prefix: str = ".txresponse-review-") -> Iterator[Path]:
    """A new folder only its owner can open (mkdtemp: mode 0700) inside `beside`, removed with
    everything in it when the block ends, whatever happens. For artifact downloads: copies of
    patient-level rows must not sit in the shared temporary folder."""
    made = [parent for parent in (beside, *beside.parents) if not parent.exists()]
    beside.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=beside))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for parent in made:  # folders made only for this one, innermost first, if still empty
            try:
                parent.rmdir()
            except OSError:
                break


def _artifact_text(client: MlflowClient, run_id: str, path: str, scratch: Path) -> str | None:
    """An artifact's text, or None if the run has none; downloaded into a folder of its own in
    `scratch` (see `private_folder`) that is removed as soon as the text is read."""
    folder = Path(tempfile.mkdtemp(prefix="artifact-", dir=scratch))
    try:
        try:
            local = client.download_artifacts(run_id, path, str(folder))
        except (MlflowException, OSError):
            return None
        file = Path(local)
        return file.read_text(encoding="utf-8") if file.is_file() else None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _versions(client: MlflowClient, run_id: str) -> list[str]:
    try:
        found = client.search_model_versions(f"run_id = '{run_id}'")
    except MlflowException:
        return []
    shown = []
    for found_version in sorted(found, key=lambda v: (v.name, int(v.version))):
        # Search results leave aliases out; the version itself carries them.
        version = client.get_model_version(found_version.name, found_version.version)
        shown.append(f"{version.name} v{version.version}"
                     + "".join(f" @{alias}" for alias in sorted(version.aliases or [])))
    return shown


def read_predictions(text: str) -> pd.DataFrame:
    """patient_id, label and the calibrated candidate's probability from test_predictions.csv
    (raises ValueError naming the missing columns)."""
    frame = pd.read_csv(io.StringIO(text), dtype={"patient_id": str})
    missing = {"patient_id", "label", ROLE} - set(frame.columns)
    if missing:
        raise ValueError(f"{PREDICTIONS} lacks the column(s) {', '.join(sorted(missing))}")
    return frame[["patient_id", "label", ROLE]].rename(columns={ROLE: "probability"})


def load_run(client: MlflowClient, run_id: str, scratch: Path, reference: str = "") -> Run:
    """The run's record (`reference`: what the reviewer typed for it). Artifacts pass through
    `scratch`, a private folder (`private_folder`), and are deleted from it at once."""
    recorded = client.get_run(run_id)
    evaluation = _artifact_text(client, run_id, EVALUATION, scratch)
    predictions = _artifact_text(client, run_id, PREDICTIONS, scratch)
    return Run(
        run_id=run_id, reference=reference or run_id, run_name=recorded.info.run_name or "",
        start_time=recorded.info.start_time or 0, params=dict(recorded.data.params),
        metrics=dict(recorded.data.metrics),
        tags={k: v for k, v in recorded.data.tags.items() if not k.startswith("mlflow.")},
        versions=_versions(client, run_id),
        subgroups=json.loads(evaluation).get("subgroups") if evaluation else None,
        predictions=read_predictions(predictions) if predictions else None,
    )
