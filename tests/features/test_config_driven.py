"""A covariate or a rating scale added in configs/ becomes a feature, with no code change."""
from __future__ import annotations

import shutil

import pytest
import yaml

from features.labels import make_labels
from pipeline.core.registries import load_registries
from tests.features.conftest import typed


@pytest.fixture
def edited_configs(tmp_path, repo):
    def _edit(file, entries):
        folder = tmp_path / "configs"
        if not folder.exists():
            shutil.copytree(repo / "configs", folder)
        path = folder / file
        data = yaml.safe_load(path.read_text()) or {}
        data.update(entries)
        path.write_text(yaml.safe_dump(data))
        return load_registries(folder)
    return _edit


def test_declared_covariate_becomes_a_feature(edited_configs, build):
    regs = edited_configs("covariates.yaml", {
        "smoker": {"kind": "binary", "label": "current smoker"}})
    tables = typed(regs, patients=[{"patient_id": "a", "smoker": 1},
                                   {"patient_id": "b", "smoker": 0}],
                   assessments=[{"patient_id": "a", "day": 0, "instrument": "madrs",
                                 "score": 30}])
    features = build(tables, regs=regs)
    assert features.loc["a", "smoker"] == 1 and features.loc["b", "smoker"] == 0


def test_new_instrument_is_a_baseline_feature_and_a_target(edited_configs, build):
    regs = edited_configs("instruments.yaml", {"masq": {
        "label": "MASQ-D30", "name": "Mood and Anxiety Symptom Questionnaire", "min": 10,
        "max": 150, "remission_max": 40, "higher_is_worse": True}})
    tables = typed(regs, patients=[{"patient_id": "a"}], assessments=[
        {"patient_id": "a", "day": -1, "instrument": "masq", "score": 90},
        {"patient_id": "a", "day": 28, "instrument": "masq", "score": 35}])
    assert build(tables, regs=regs).loc["a", "baseline_masq"] == 90
    labels = make_labels(tables["patients"]["patient_id"], tables["assessments"],
                         regs.instruments["masq"], "remission", (-14, 0), (10, 28), 0.5)
    assert labels["label"].tolist() == [1]
    # As the target instrument, its bands (none here) are used for the severity band.
    assert "baseline_severity_band" in build(tables, target="masq", regs=regs).columns
