"""Strict configuration (issue 15, item 2): an unknown key in the params file or a registry is
refused with its dotted path and the closest valid key, a value out of range is one line, and
every command finds `configs/` from the project folder when started below it.

Nothing here trains a model; the command-line cases run the real `txresponse` in a subprocess.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import UserError
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
BINARY = Path(sys.executable).parent / "txresponse"


def _params(folder: Path, text: str) -> Path:
    path = folder / "params.yaml"
    path.write_text("seed: 1\ndata: {raw_dir: x}\n" + text, encoding="utf-8")
    return path


def _refused(path: Path) -> str:
    with pytest.raises(UserError) as caught:
        load_params(path)
    message = str(caught.value)
    assert "\n" not in message and "pydantic" not in message and "Extra inputs" not in message
    return message


# --- params: one misspelt key per section ----------------------------------------------------

MISSPELT = [
    ("data", "orign: real", "data.orign", "data.origin"),
    ("target", "instrumnet: madrs", "target.instrumnet", "target.instrument"),
    ("validate", "max_quarantine_fractoin: 0.5", "validate.max_quarantine_fractoin",
     "validate.max_quarantine_fraction"),
    ("features", "prediction_dya: 3", "features.prediction_dya", "features.prediction_day"),
    ("split", "holdout_sit: A", "split.holdout_sit", "split.holdout_site"),
    ("train", "serch_budget: 3", "train.serch_budget", "train.search_budget"),
    ("evaluate", "bootstrap_resample: 500", "evaluate.bootstrap_resample",
     "evaluate.bootstrap_resamples"),
    ("evaluate", "poor_subgroup: {min_aurc: 0.7}", "evaluate.poor_subgroup.min_aurc",
     "evaluate.poor_subgroup.min_auroc"),
    ("report", "max_patient: 5", "report.max_patient", "report.max_patients"),
]


@pytest.mark.parametrize("section, line, key, closest", MISSPELT,
                         ids=[key for _, _, key, _ in MISSPELT])
def test_a_misspelt_key_names_the_closest_valid_one(tmp_path, section, line, key, closest):
    text = f"{section}: {{{line}}}\n"
    if section == "data":  # data: is already written, with raw_dir
        text, path = "", tmp_path / "params.yaml"
        path.write_text(f"seed: 1\ndata: {{raw_dir: x, {line}}}\n", encoding="utf-8")
    else:
        path = _params(tmp_path, text)
    assert _refused(path) == f"{path}: {key} is not a setting; did you mean {closest}?"


def test_a_key_like_no_other_lists_the_settings_of_its_section(tmp_path):
    path = _params(tmp_path, "train: {zzz: 3}\n")
    assert _refused(path) == (f"{path}: train.zzz is not a setting; the settings of train are "
                              "model, calibrator, cv_folds, search_budget, "
                              "uncertainty_replicates, workers, experiment, registered_model")


@pytest.mark.parametrize("line, expected", [
    ("trian: {search_budget: 3}", "trian is not a setting; did you mean train?"),
    ("validation: {max_quarantine_fraction: 0.5}",
     "validation is not a setting; did you mean validate?"),
    ("monitoring: {window: 30}", "monitoring is not a setting; the settings at the top level "
     "are seed, data, target, validate, features, split, train, evaluate, report"),
])
def test_an_unknown_top_level_section_is_refused(tmp_path, line, expected):
    path = _params(tmp_path, line + "\n")
    assert _refused(path) == f"{path}: {expected}"


def test_the_command_line_says_it_in_one_line_without_a_traceback(tmp_path):
    params = yaml.safe_load((CONFIGS / "params.yaml").read_text(encoding="utf-8"))
    params["train"]["serch_budget"] = 3
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    result = subprocess.run([str(BINARY), "validate", "--raw", "raw", "--out", "o", "--report",
                             "rep", "--params", str(path), "--configs", str(CONFIGS)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"txresponse validate: {path}: train.serch_budget is not a setting; did you mean "
        "train.search_budget?"]
    assert not (tmp_path / "o").exists()


# --- params: values ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, named", [
    ("validate: {max_quarantine_fraction: true}", "validate.max_quarantine_fraction"),
    ("evaluate: {poor_subgroup: {min_auroc: yes}}", "evaluate.poor_subgroup.min_auroc"),
    ("evaluate: {poor_subgroup: {max_abs_calibration_intercept: .inf}}",
     "evaluate.poor_subgroup.max_abs_calibration_intercept"),
    ("train: 3", "train: expected a mapping of settings"),
])
def test_a_number_that_is_not_one_is_refused_in_one_line(tmp_path, line, named):
    # true/false were read as 1/0, and .inf passed a check with no upper bound.
    path = _params(tmp_path, line + "\n")
    assert _refused(path).startswith(f"{path}: {named}")


# --- registries -------------------------------------------------------------------------------

REGISTRY_TYPOS = [
    ("instruments.yaml", "madrs: {label: M, name: M, min: 0, max: 60, remision_max: 10}\n",
     "madrs.remision_max is not a setting; did you mean madrs.remission_max?"),
    ("instruments.yaml", "madrs: {lable: M, name: M, min: 0, max: 60}\n",
     "madrs.lable is not a setting; did you mean madrs.label?"),
    ("biomarkers.yaml", "crp: {label: CRP, unit: mg/L, min: 0, max: 300, "
     "time_invarient: true}\n",
     "crp.time_invarient is not a setting; did you mean crp.time_invariant?"),
    ("covariates.yaml", "smoker: {kind: binary, labl: smoker}\n",
     "smoker.labl is not a setting; did you mean smoker.label?"),
]


@pytest.mark.parametrize("name, text, expected", REGISTRY_TYPOS,
                         ids=[expected.split(" ")[0] for _, _, expected in REGISTRY_TYPOS])
def test_an_unknown_field_of_a_registry_entry_names_the_closest(tmp_path, name, text, expected):
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS, configs)
    (configs / name).write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_registries(configs)
    # Only the misspelling: not also "madrs.label: Field required", nor the hidden `key`.
    assert str(caught.value) == f"{configs / name}: {expected}"


# --- the project folder -----------------------------------------------------------------------

@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project's configuration (configs/ and dvc.yaml) with a sub-folder."""
    root = tmp_path / "project"
    shutil.copytree(CONFIGS, root / "configs")
    shutil.copy2(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / "notebooks" / "deeper").mkdir(parents=True)
    return root


def _run(cwd: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "TXRESPONSE_DEBUG")} | {"COLUMNS": "200"}
    result = subprocess.run([str(BINARY), *args], cwd=cwd, capture_output=True, text=True,
                            timeout=120, env=env)
    said = " ".join((result.stdout + result.stderr).split())
    assert "Traceback" not in said, said
    return result.returncode, said


FEATURES = ("features", "--validated", "missing", "--out", "x", "--report", "r.json",
            "--dictionary", "d.md")


def test_a_command_started_in_a_sub_folder_finds_the_project_s_configs(project):
    code, said = _run(project / "notebooks" / "deeper", *FEATURES)
    # It read configs/params.yaml and the registries of the project, then stopped on the
    # missing validated folder, which was typed and so stays relative to the working folder.
    assert code == 2, said
    assert "params file" not in said and "configuration folder" not in said, said
    assert "missing lacks patients.parquet" in said, said
    assert sorted(p.name for p in (project / "notebooks" / "deeper").iterdir()) == []


def test_a_typed_path_stays_relative_to_the_working_folder(project):
    code, said = _run(project / "notebooks", *FEATURES, "--params", "configs/params.yaml")
    assert code == 2, said
    assert f"no params file at configs/params.yaml (in {project / 'notebooks'})" in said, said


def test_the_project_s_default_inputs_are_found_from_a_sub_folder(project):
    # score's --model-dir artifacts/model is the project's too: looked for in the project.
    code, said = _run(project / "notebooks", "score", "--data", "d", "--out", "o")
    assert code == 2, said
    assert f"no trained model folder at {project / 'artifacts' / 'model'}" in said, said
    assert "--model-dir" in said and not (project / "notebooks" / "o").exists()


def test_outside_any_project_the_message_says_what_a_project_folder_is(tmp_path):
    # A configs/ folder alone is not a project: dvc.yaml marks it.
    shutil.copytree(CONFIGS, tmp_path / "elsewhere" / "configs")
    (tmp_path / "elsewhere" / "configs" / "params.yaml").unlink()
    code, said = _run(tmp_path / "elsewhere", *FEATURES)
    assert code == 2, said
    assert "no params file at configs/params.yaml" in said, said
    assert "configs/params.yaml and dvc.yaml" in said and "--params" in said, said
