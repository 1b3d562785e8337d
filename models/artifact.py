"""The fitted response model as one artifact: classifier + calibrator + feature layout.

The object that is evaluated is the object that is explained and that scores new patients:
every stage loads it with `ResponseModel.load`. On disk it is a folder:

  model.json       classifier name, hyperparameters, feature layout, calibrator, provenance
  lightgbm.txt     LightGBM's own text model format (classifier "lightgbm"), or
  logistic.skops   the scikit-learn pipeline in skops format (classifier "logistic"):
                   loading checks every type against an allow-list, unlike a pickle.
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import skops.io as sio

from models.calibration import Calibrator, calibrator_from_dict, expit
from models.layout import FeatureLayout

FORMAT_VERSION = 1
# Module prefixes whose types a logistic model file may contain.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


@dataclass
class ResponseModel:
    classifier: str                 # "lightgbm" | "logistic"
    estimator: object               # fitted LGBMClassifier / lgb.Booster, or sklearn Pipeline
    calibrator: Calibrator
    layout: FeatureLayout
    hyperparameters: dict
    info: dict = field(default_factory=dict)  # provenance: target, data digest, versions, CV

    @property
    def booster(self) -> lgb.Booster:
        """The LightGBM booster, whether fitted here (LGBMClassifier) or loaded from disk."""
        return getattr(self.estimator, "booster_", self.estimator)

    # --- prediction -----------------------------------------------------------------------
    def model_logodds(self, features: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds of response (the scale SHAP explains)."""
        frame = self.layout.frame(features)
        if self.classifier == "lightgbm":
            return self.booster.predict(frame, raw_score=True)
        return self.estimator.decision_function(frame)

    def predict_uncalibrated(self, features: pd.DataFrame) -> np.ndarray:
        return expit(self.model_logodds(features))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of response, one per row."""
        if self.calibrator.method == "platt":
            return expit(self.calibrator.logodds(self.model_logodds(features)))
        return self.calibrator.transform(self.predict_uncalibrated(features))

    # --- persistence ----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.classifier == "lightgbm":
            self.booster.save_model(str(folder / "lightgbm.txt"))
        else:
            sio.dump(self.estimator, folder / "logistic.skops")
            _canonical_skops(folder / "logistic.skops")
        meta = {
            "format_version": FORMAT_VERSION,
            "classifier": self.classifier,
            "hyperparameters": self.hyperparameters,
            "calibrator": self.calibrator.to_dict(),
            "layout": self.layout.to_dict(),
            "info": self.info,
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ResponseModel:
        meta = json.loads((Path(folder) / "model.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder}: model format {meta.get('format_version')} is not "
                             f"{FORMAT_VERSION}; retrain with this version of txresponse")
        if meta["classifier"] == "lightgbm":
            estimator = lgb.Booster(model_file=str(Path(folder) / "lightgbm.txt"))
        else:
            path = Path(folder) / "logistic.skops"
            untrusted = sio.get_untrusted_types(file=path)
            unexpected = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
            if unexpected:
                raise ValueError(f"{path} contains unexpected types {unexpected}; refusing")
            estimator = sio.load(path, trusted=untrusted)
        return cls(classifier=meta["classifier"], estimator=estimator,
                   calibrator=calibrator_from_dict(meta["calibrator"]),
                   layout=FeatureLayout.from_dict(meta["layout"]),
                   hyperparameters=meta["hyperparameters"], info=meta.get("info", {}))


def _canonical_skops(path: Path) -> None:
    """Make a skops file byte-reproducible. skops names stored arrays and shared objects after
    object ids (memory addresses) and stamps zip entries with the time of writing; renumber
    both in order of first appearance in the schema and use a fixed timestamp, so the same
    model gives the same bytes (determinism, and DVC caching)."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: (info, archive.read(info)) for info in archive.infolist()}
    schema = entries["schema.json"][1].decode("utf-8")
    names = dict.fromkeys(re.findall(r'"([^"/]+\.npy)"', schema))
    renamed = {old: f"array_{i:04d}.npy" for i, old in enumerate(names)}
    schema = re.sub(r'"([^"/]+\.npy)"', lambda m: f'"{renamed[m.group(1)]}"', schema)
    # Memo ids (shared-object references) are memory addresses too: renumber consistently.
    ids = {old: str(i) for i, old in enumerate(dict.fromkeys(re.findall(r'"__id__": (\d+)',
                                                                         schema)))}
    schema = re.sub(r'"__id__": (\d+)', lambda m: f'"__id__": {ids[m.group(1)]}', schema)
    with zipfile.ZipFile(path, "w") as archive:
        for name, (info, data) in sorted(entries.items(),
                                         key=lambda item: renamed.get(item[0], item[0])):
            if name == "schema.json":
                data = schema.encode("utf-8")
            fixed = zipfile.ZipInfo(renamed.get(name, name), date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            archive.writestr(fixed, data)
