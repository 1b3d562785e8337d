"""MLflow tracking for the train and evaluate stages: where runs go, data lineage, and the
calibrated model logged and registered as a pyfunc.

No patient row ever goes to MLflow: the feature table is logged as a dataset that carries only
its schema, row count and digest; the model's input example is synthetic.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
import pandas as pd
import yaml
from mlflow import MlflowClient

import models.mlflow_model as mlflow_model
from models.artifact import ResponseModel
from models.layout import KEY, FeatureLayout
from pipeline.core.errors import project_root

# What the pyfunc imports at load time (besides txresponse itself, which must be installed).
_REQUIREMENTS = ("mlflow", "lightgbm", "interpret-core", "numpy", "pandas", "scikit-learn",
                 "skops")


def tracking_uri(root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI if set, else the embedded SQLite store `root/mlflow.db`; `root`
    defaults to the project folder (a command started in a sub-folder uses the project's
    store, not a new one), or the working folder outside any project."""
    if root is None:
        root = project_root() or Path(".")
    return os.environ.get("MLFLOW_TRACKING_URI") or \
        f"sqlite:///{(Path(root) / 'mlflow.db').resolve()}"


def _artifact_location(uri: str) -> str | None:
    """Artifacts of a SQLite store live next to the database, in `mlruns/`; a server (or any
    other store) keeps its own default."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    database = Path(unquote(parsed.path))
    return (database.parent / "mlruns").resolve().as_uri()


def store_exists(root: Path | None = None) -> bool:
    """Whether there is a store to read: a server or other URI is assumed to exist; the default
    SQLite file must be there (reading it would otherwise create an empty one)."""
    parsed = urlparse(tracking_uri(root))
    return parsed.scheme != "sqlite" or Path(unquote(parsed.path)).exists()


def store_client(root: Path | None = None) -> MlflowClient | None:
    """A client of the tracking store, or None when there is none: a command that only reads
    (was this model evaluated?) must not create an empty store."""
    if not store_exists(root):
        return None
    return MlflowClient(use_store(root))


def use_store(root: Path | None = None) -> str:
    """Point MLflow at the tracking store (for reading models); the URI."""
    # Usage telemetry would call out to the internet, and progress bars clutter stage logs:
    # off unless the user chose otherwise. (Telemetry is checked per call, so this still works
    # after `import mlflow`.)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(root)
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite" and not Path(unquote(parsed.path)).exists():
        _create_sqlite_store(Path(unquote(parsed.path)))
    mlflow.set_tracking_uri(uri)
    return uri


def _create_sqlite_store(database: Path) -> None:
    """Create the SQLite store whole. MLflow builds its tables in many steps (create, then every
    schema migration), and a process killed in between left a store every later command failed
    on (found by tests/security/test_fault_injection.py). So the tables are built in a file
    beside it and linked into place in one step; if another process got there first, its store
    is kept."""
    from mlflow.store.db.utils import _initialize_tables  # the step MLflow itself runs
    from sqlalchemy import create_engine

    database.parent.mkdir(parents=True, exist_ok=True)
    for leftover in database.parent.glob(f".{database.name}.partial-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            leftover.unlink(missing_ok=True)  # from a killed process
    partial = database.parent / f".{database.name}.partial-{os.getpid()}"
    partial.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{partial}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()
    try:
        os.link(partial, database)  # fails if the store appeared meanwhile: keep that one
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)


def configure(experiment: str, root: Path | None = None) -> str:
    """Point MLflow at the store, get or create `experiment`, make it current; its id."""
    uri = use_store(root)
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        experiment_id = client.create_experiment(experiment,
                                                 artifact_location=_artifact_location(uri))
    else:
        experiment_id = found.experiment_id
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(experiment_id)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit(root: Path = Path(".")) -> str:
    """HEAD's commit, with "+dirty" if tracked files have uncommitted changes; "unknown"
    outside a git repository."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def file_digest(path: Path) -> str:
    """md5 (hex) of a file, or of a folder: its files' relative paths and contents, sorted."""
    path = Path(path)
    digest = hashlib.md5()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def dvc_hashes(dvc_lock: Path, stage: str) -> dict[str, str]:
    """{out path: md5} of `stage`'s outputs as recorded in dvc.lock; {} if absent."""
    if not Path(dvc_lock).is_file():
        return {}
    lock = yaml.safe_load(Path(dvc_lock).read_text(encoding="utf-8")) or {}
    outs = (lock.get("stages") or {}).get(stage, {}).get("outs") or []
    return {out["path"]: out["md5"] for out in outs if "md5" in out}


def log_lineage(features: pd.DataFrame, features_path: Path, labels_path: Path, raw_dir: str,
                target: dict, dvc_lock: Path) -> None:
    """Record where the training data came from, in the active run."""
    features_md5 = file_digest(features_path)
    with warnings.catch_warnings():
        # A bare path matches both the "" and "file" local sources (same class); harmless.
        warnings.filterwarnings("ignore", message="The specified dataset source")
        # The Int64 hint is about model signatures; this schema only describes the table.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        # from_pandas keeps the schema, a row count and our digest; rows are never uploaded.
        dataset = mlflow.data.from_pandas(features, source=str(features_path),
                                          name=Path(features_path).stem, digest=features_md5)
        mlflow.log_input(dataset, context="training")  # the schema is inferred here, lazily
    data_digest = hashlib.md5((features_md5 + file_digest(labels_path)).encode()).hexdigest()
    tags = {"git_commit": git_commit(Path(dvc_lock).parent), "data_digest": data_digest,
            "features_digest": features_md5, "raw_dir": str(raw_dir)}
    tags |= {f"dvc.features.{path}.md5": md5 for path, md5 in dvc_hashes(dvc_lock,
                                                                          "features").items()}
    tags |= {f"target.{key}": str(value) for key, value in target.items()}
    mlflow.set_tags(tags)


def synthetic_example(layout: FeatureLayout, n: int = 2) -> pd.DataFrame:
    """An input example that is nobody's row: numeric features at the rounded midpoint of the
    training range, binary ones 0, categorical ones their first category."""
    row = {}
    for name in layout.order:
        if name in layout.categorical:
            categories = layout.categorical[name]
            row[name] = categories[0] if categories else None
        elif name in layout.binary:
            row[name] = 0.0
        else:
            low, high = layout.ranges.get(name, (0.0, 0.0))
            row[name] = round((low + high) / 2, 1)
    example = pd.DataFrame([row] * n, columns=layout.order)
    example.insert(0, KEY, [f"example-{i + 1}" for i in range(n)])
    numeric = [c for c in layout.order if c not in layout.categorical]
    return example.astype({c: "float64" for c in numeric})


def log_response_model(model: ResponseModel, model_dir: Path) -> str:
    """Log the saved model folder as a pyfunc (see models/mlflow_model.py: predict returns a
    `calibrated_probability` column) in the active run; its model URI. Nothing is registered
    here: the evaluate stage registers the model once it has been evaluated
    (models/registration.py)."""
    info = mlflow.pyfunc.log_model(
        name="response_model",
        python_model=str(Path(mlflow_model.__file__)),
        artifacts={"model_dir": str(Path(model_dir).resolve())},
        signature=mlflow_model.model_signature(model.layout),
        input_example=synthetic_example(model.layout),
        pip_requirements=[f"{dist}=={version(dist)}" for dist in _REQUIREMENTS],
    )
    return info.model_uri


def version_tags(model: ResponseModel) -> dict[str, str]:
    """What the registry shows about a version at a glance."""
    return {"classifier": model.classifier, "calibration": model.calibrator.method,
            "exactly_additive": str(model.calibrator.exactly_additive)}


@contextmanager
def nested_run(name: str) -> Iterator[mlflow.ActiveRun]:
    """A child run under the active run, e.g. one per classifier tried."""
    if mlflow.active_run() is None:
        raise RuntimeError(f"nested_run({name!r}) needs an active parent run")
    with mlflow.start_run(run_name=name, nested=True) as run:
        yield run
