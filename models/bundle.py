"""The model artifact: one folder holding everything needed to score, explain and report a
patient, and nothing read from today's configuration.

A model trained for response must never be presented as a model of remission because someone
changed `configs/params.yaml` afterwards, and a report must name each characteristic the way
the model was trained on it. So the folder carries, beside the fitted model:

  bundle.json     format and version; the target definition (instrument, definition, windows,
                  estimand); the feature settings (prediction day, look-back); the feature
                  dictionary (label, unit, kind, phrasing of every model feature); the sample-
                  size assessment the reports quote
  model.json      the classifier, calibrator and feature layout (models/artifact.py), with
  lightgbm.txt    LightGBM's text model, or
  logistic.skops  the scikit-learn pipeline (loaded through an exact type allow-list), or
  ebm.json        the Explainable Boosting Machine's bins and score tables (models/ebm.py)
  domain.json     the out-of-distribution reference (models/ood.py)
  bootstrap/NNN/  the bootstrap refits behind each patient's interval (models/uncertainty.py)

`ModelBundle.save` and `ModelBundle.load` are the only code that knows this layout. The MLflow
model holds the same folder (models/mlflow_model.py); `score`, `explain`, `report` (through
the explanations' metadata) and the pyfunc read only it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from models.artifact import ResponseModel
from models.ood import DomainReference
from models.uncertainty import load_replicates, save_replicates
from pipeline.core.atomic import write_text
from pipeline.core.errors import UserError

FORMAT = "txresponse-model"
FORMAT_VERSION = 2  # 1: settings read from configs/params.yaml and reports/features.json
MANIFEST = "bundle.json"
# What a bundle's target must say (see features: reports/features.json "target").
TARGET_KEYS = ("instrument", "instrument_label", "definition", "baseline_window",
               "endpoint_window", "min_reduction", "remission_max", "missing_endpoint")
SETTINGS_KEYS = ("target_instrument", "baseline_window", "prediction_day",
                 "biomarker_lookback_days")


@dataclass
class ModelBundle:
    model: ResponseModel
    target: dict                      # what a "1" means (TARGET_KEYS)
    feature_settings: dict            # how features were built (SETTINGS_KEYS)
    dictionary: list[dict]            # feature dictionary rows (features/dictionary.py)
    replicates: list[ResponseModel] = field(default_factory=list)
    domain: DomainReference | None = None
    sample_size: dict | None = None   # the Riley et al. assessment the reports quote

    # --- what the reports need -------------------------------------------------------------
    @property
    def labels(self) -> dict[str, str]:
        return {row["name"]: row["label"] for row in self.dictionary}

    @property
    def units(self) -> dict[str, str]:
        return {row["name"]: row.get("unit", "") for row in self.dictionary}

    @property
    def words(self) -> tuple[dict[str, str], dict[str, str]]:
        return self.labels, self.units

    # --- persistence -----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        self.model.save(folder)
        if self.domain is not None:
            self.domain.save(folder / "domain.json")
        save_replicates(self.replicates, folder / "bootstrap")
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "target": self.target,
                    "feature_settings": self.feature_settings, "dictionary": self.dictionary,
                    "sample_size": self.sample_size}
        write_text(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> ModelBundle:
        folder = Path(folder)
        manifest = _manifest(folder)
        domain_path = folder / "domain.json"
        return cls(model=ResponseModel.load(folder), target=manifest["target"],
                   feature_settings=manifest["feature_settings"],
                   dictionary=manifest["dictionary"],
                   replicates=load_replicates(folder / "bootstrap"),
                   domain=DomainReference.load(domain_path) if domain_path.exists() else None,
                   sample_size=manifest.get("sample_size"))

    def require_target(self, other: dict, where: str) -> None:
        require_same_target(self.target, other, where)

    @staticmethod
    def read_target(folder: Path) -> dict:
        """The target of the artifact in `folder`, without loading its models."""
        return _manifest(Path(folder))["target"]


def bundle_in_mlflow_model(model_folder: Path) -> Path | None:
    """The artifact inside a downloaded MLflow model: the folder its MLmodel file names as the
    pyfunc's `model_dir` artifact (models/mlflow_model.py), or None."""
    import yaml  # only here: reading an MLflow model

    try:
        described = yaml.safe_load((Path(model_folder) / "MLmodel").read_text(encoding="utf-8"))
        relative = described["flavors"]["python_function"]["artifacts"]["model_dir"]["path"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
    folder = (Path(model_folder) / relative).resolve()
    inside = folder.is_relative_to(Path(model_folder).resolve())
    return folder if inside and (folder / MANIFEST).is_file() else None


def read_description(features_dir: Path) -> dict:
    """What the features stage says its tables mean: target, feature settings, dictionary
    (pipeline/featurize.py writes it beside the tables; train copies it into the artifact)."""
    path = Path(features_dir) / "description.json"
    if not path.is_file():
        raise UserError(f"{features_dir} has no description.json: it was built by an older "
                        "txresponse; run the features stage again (dvc repro)")
    return json.loads(path.read_text(encoding="utf-8"))


def require_same_target(model: dict, labels: dict, where: str) -> None:
    """Refuse labels built for another target than the model's: a model of response must not
    be evaluated or explained against remission labels, nor the reverse."""
    differing = sorted(k for k in ("instrument", "definition", "baseline_window",
                                   "endpoint_window", "min_reduction", "missing_endpoint")
                       if k in labels and _plain(labels[k]) != _plain(model.get(k)))
    if differing:
        raise UserError(
            f"the model was trained for another target than the labels in {where}: "
            + "; ".join(f"{k} is {model.get(k)!r} for the model, {labels[k]!r} there"
                        for k in differing)
            + ". Rebuild the features with the model's target, or retrain.")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise UserError(f"{folder} is not a txresponse model artifact of this version (no "
                        f"{MANIFEST}: built by an older txresponse, or not a model folder); "
                        "retrain it (dvc repro)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path} is not valid JSON; restore or retrain the model") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{path} does not describe a txresponse model")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path}: model format version {manifest.get('format_version')!r}, "
                        f"this txresponse reads version {FORMAT_VERSION}; retrain the model "
                        "with this version")
    missing = [k for k in ("target", "feature_settings", "dictionary") if k not in manifest]
    missing += [f"target.{k}" for k in TARGET_KEYS if k not in (manifest.get("target") or {})]
    missing += [f"feature_settings.{k}" for k in SETTINGS_KEYS
                if k not in (manifest.get("feature_settings") or {})]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}; retrain the model")
    return manifest
