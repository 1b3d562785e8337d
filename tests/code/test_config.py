"""Configuration is validated on load, and errors name the offending key."""
from __future__ import annotations

import pytest
import yaml

from pipeline.core.contract import contract_tables
from pipeline.core.errors import UserError
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries


def test_repository_params_load(repo):
    params = load_params(repo / "configs" / "params.yaml")
    assert params.target.instrument == "madrs"
    assert params.target.baseline_window == (-14, 0)
    assert params.target.endpoint_window == (10, 28)
    assert (repo / params.data.raw_dir / "patients.csv").exists()


def test_target_instrument_is_registered(repo, registries):
    params = load_params(repo / "configs" / "params.yaml")
    assert params.target.instrument in registries.instruments


@pytest.mark.parametrize("change, key", [
    ({"definition": "improvement"}, "definition"),
    ({"baseline_window": [1, 5]}, "baseline_window"),
    ({"endpoint_window": [-3, 28]}, "endpoint_window"),
    ({"min_reduction": 1.5}, "min_reduction"),
])
def test_bad_target_is_rejected_naming_the_key(tmp_path, change, key):
    params = {"seed": 1, "data": {"raw_dir": "x"}, "target": change}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(UserError, match=key):
        load_params(path)


def _write_configs(folder, instruments=None, biomarkers=None, covariates=None):
    folder.mkdir(exist_ok=True)
    default_instrument = {"madrs": {"label": "MADRS", "name": "MADRS", "min": 0, "max": 60}}
    (folder / "instruments.yaml").write_text(yaml.safe_dump(instruments or default_instrument))
    (folder / "biomarkers.yaml").write_text(yaml.safe_dump(biomarkers or {}))
    (folder / "covariates.yaml").write_text(yaml.safe_dump(covariates or {}))


def test_new_instrument_needs_no_code(tmp_path):
    _write_configs(tmp_path, instruments={
        "madrs": {"label": "MADRS", "name": "MADRS", "min": 0, "max": 60, "remission_max": 10},
        "cgi_s": {"label": "CGI-S", "name": "Clinical Global Impression, severity", "min": 1,
                  "max": 7},
    })
    registries = load_registries(tmp_path)
    tables = contract_tables(registries)
    assert "cgi_s" in tables["assessments"].column("instrument").levels


def test_declared_covariate_becomes_a_patient_column(tmp_path):
    _write_configs(tmp_path, covariates={"smoker": {"kind": "binary", "label": "smoker"}})
    tables = contract_tables(load_registries(tmp_path))
    assert tables["patients"].column("smoker").kind == "binary"


@pytest.mark.parametrize("instruments, message", [
    ({"x": {"label": "X", "name": "X", "min": 5, "max": 1}}, "min must be below max"),
    ({"x": {"label": "X", "name": "X", "min": 0, "max": 10, "remission_max": 11}},
     "remission_max"),
    ({"x": {"label": "X", "name": "X", "min": 0, "max": 10, "typo_field": 1}}, "typo_field"),
])
def test_bad_instrument_is_rejected(tmp_path, instruments, message):
    _write_configs(tmp_path, instruments=instruments)
    with pytest.raises(UserError, match=message):
        load_registries(tmp_path)


def test_categorical_covariate_needs_levels(tmp_path):
    _write_configs(tmp_path, covariates={"employment": {"kind": "categorical", "label": "e"}})
    with pytest.raises(UserError, match="needs levels"):
        load_registries(tmp_path)


def test_severity_band(registries):
    madrs = registries.instruments["madrs"]
    assert madrs.severity_band(34) == "moderate"
    assert madrs.severity_band(35) == "severe"
