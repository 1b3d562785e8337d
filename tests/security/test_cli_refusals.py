"""Every refusal of the command line is a message with a documented exit code, never a Python
traceback, and never quotes a patient value (issue 14, items 8 and 10; docs/validation.md,
"Exit codes of every command").

The real `txresponse` runs in a subprocess from an empty temporary folder (outside the project
folder), with no MLFLOW_TRACKING_URI. Nothing here trains a model.
"""
from __future__ import annotations

import csv
import errno
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from pipeline import cli
from pipeline.core.errors import UserError

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(sys.executable).parent / "txresponse"
PARAMS = REPO / "configs" / "params.yaml"
CONFIGS = REPO / "configs"
SECRET = "Jane Doe"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "TXRESPONSE_DEBUG")}
    return env | {"COLUMNS": "200"} | extra


def txresponse(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=_env(**env))


def _said(result: subprocess.CompletedProcess) -> str:
    """stdout and stderr, with rich's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def assert_refused(result: subprocess.CompletedProcess, code: int, *phrases: str) -> str:
    said = _said(result)
    assert result.returncode == code, said
    assert "Traceback" not in result.stdout + result.stderr, said
    for phrase in phrases:
        assert phrase in said, said
    return said


# --- outside the project folder: each command's default paths ------------------------------

OUTSIDE = {
    "validate": (["validate", "--raw", "raw", "--out", "o", "--report", "rep"],
                 ["no params file at configs/params.yaml", "--params"]),
    "features": (["features", "--validated", "v", "--out", "o", "--report", "r.json",
                  "--dictionary", "d.md"],
                 ["no params file at configs/params.yaml", "--params"]),
    "train": (["train", "--features", "f", "--validated", "v", "--out", "o",
               "--report", "r.json"],
              ["no params file at configs/params.yaml", "--params"]),
    "evaluate": (["evaluate", "--features", "f", "--validated", "v", "--model", "m",
                  "--metrics", "m.json", "--details", "d.json", "--plots", "p",
                  "--figures", "fig", "--predictions", "p.csv"],
                 ["no params file at configs/params.yaml", "--params"]),
    # (without --params, score names the params file first, as the others do)
    "score": (["score", "--data", "d", "--out", "o", "--params", PARAMS, "--configs", CONFIGS],
              ["no trained model folder at artifacts/model", "--model-dir"]),
    "validate-configs": (["validate", "--raw", "raw", "--out", "o", "--report", "rep",
                          "--params", PARAMS],
                         ["no configuration folder at configs", "--configs"]),
    "simulate": (["simulate", "--patients", "3", "--messy", "--out", "s", "--truth", "t.csv"],
                 ["no configuration folder at configs", "--configs"]),
    "model-card": (["model-card", "--run-ref", "r.json", "--metrics", "m.json",
                    "--evaluation", "e.json", "--features", "f.json", "--training", "t.json",
                    "--validation", "v.json", "--out", "card.md"],
                   ["no MLflow tracking store", "MLFLOW_TRACKING_URI", "--no-log"]),
    "promote": (["promote", "--run", "candidate"],
                ["no promotion criteria file at configs/promotion.yaml", "--criteria"]),
    "compare": (["compare", "champion", "candidate", "--out", "o"],
                ["no MLflow tracking store", "MLFLOW_TRACKING_URI"]),
}


@pytest.mark.parametrize("case", list(OUTSIDE))
def test_outside_the_project_folder_each_command_says_where_it_looked(tmp_path, case):
    args, phrases = OUTSIDE[case]
    (tmp_path / "d.json").write_text("{}", encoding="utf-8")
    result = txresponse(tmp_path, *args)
    said = assert_refused(result, 2, *phrases)
    assert "project folder" in said and str(tmp_path) in said
    # Nothing was started: no output folder, no empty tracking store created here.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"], said


def test_report_names_a_missing_input_file(tmp_path):
    # `report` has no default paths: a missing input is named with the system's reason.
    result = txresponse(tmp_path, "report", "--predictions", "p.csv", "--explanations",
                        "e.csv", "--meta", "m.json", "--out", "o")
    assert_refused(result, 2, "No such file or directory")
    assert not (tmp_path / "o").exists()


# --- params values --------------------------------------------------------------------------

def _params_file(folder: Path, key: str, value) -> Path:
    params = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    *sections, last = key.split(".")
    node = params
    for section in sections:
        node = node.setdefault(section, {})
    node[last] = value
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


BAD_VALUES = [
    ("evaluate.thresholds", [1.5], "evaluate.thresholds"),
    ("evaluate.thresholds", [], "evaluate.thresholds"),
    ("evaluate.bootstrap_resamples", -1, "evaluate.bootstrap_resamples"),
    ("evaluate.min_subgroup_n", 0, "evaluate.min_subgroup_n"),
    ("evaluate.min_subgroup_events", 0, "evaluate.min_subgroup_events"),
    ("train.cv_folds", 1, "train.cv_folds"),
    ("train.registered_model", "a/b", "train.registered_model"),
    ("train.experiment", "", "train.experiment"),
    ("split.test_fraction", 1.5, "split.test_fraction"),
    ("split.holdout_site", " ", "split.holdout_site"),
    ("seed", -3, "seed"),
    ("seed", "abc", "seed"),
    ("seed", True, "seed"),
    ("report.max_patients", 0, "report.max_patients"),
]


@pytest.mark.parametrize("key, value, named", BAD_VALUES,
                         ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES])
def test_an_out_of_range_params_value_is_one_line_naming_the_key(tmp_path, key, value, named):
    params = _params_file(tmp_path, key, value)
    result = txresponse(tmp_path, "validate", "--raw", "raw", "--out", "o", "--report", "rep",
                        "--params", params, "--configs", CONFIGS)
    assert_refused(result, 2, f"{params}: {named}")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "o").exists()


def test_evaluate_refuses_a_threshold_of_1_5_at_start(tmp_path):
    # Before: accepted on load, then a traceback from models/decision.py once the headline
    # bootstrap had run.
    params = _params_file(tmp_path, "evaluate.thresholds", [1.5])
    result = txresponse(tmp_path, "evaluate", "--features", "f", "--validated", "v", "--model",
                        "m", "--metrics", "m.json", "--details", "d.json", "--plots", "p",
                        "--figures", "fig", "--predictions", "p.csv", "--params", params)
    assert_refused(result, 2, f"{params}: evaluate.thresholds: every threshold must lie "
                              "strictly between 0 and 1")


@pytest.mark.parametrize("text, phrase", [
    ("seed: [1\n", "is not valid YAML: expected ',' or ']'"),
    ("- seed\n- data\n", "expected a mapping of sections"),
    ("", "expected a mapping of sections"),
])
def test_a_broken_params_file_is_one_line(tmp_path, text, phrase):
    params = tmp_path / "params.yaml"
    params.write_text(text, encoding="utf-8")
    result = txresponse(tmp_path, "validate", "--raw", "raw", "--out", "o", "--report", "rep",
                        "--params", params, "--configs", CONFIGS)
    assert_refused(result, 2, phrase)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("text, phrase", [
    ("madrs: {label: MADRS\n", "instruments.yaml is not valid YAML"),
    ("- madrs\n", "instruments.yaml: expected a mapping of key -> settings"),
    ("madrs: 3\n", "madrs: expected a mapping of settings"),
    ("madrs: {key: x, label: M, name: M, min: 0, max: 60}\n", "remove 'key:'"),
    ("madrs: {label: M, name: M, min: 60, max: 0}\n", "min must be below max"),
])
def test_a_broken_registry_is_one_line(tmp_path, text, phrase):
    configs = tmp_path / "configs"
    configs.mkdir()
    for name in ("biomarkers.yaml", "covariates.yaml"):
        (configs / name).write_text((CONFIGS / name).read_text(encoding="utf-8"),
                                    encoding="utf-8")
    (configs / "instruments.yaml").write_text(text, encoding="utf-8")
    result = txresponse(tmp_path, "validate", "--raw", "raw", "--out", "o", "--report", "rep",
                        "--params", PARAMS, "--configs", configs)
    assert_refused(result, 2, phrase)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- the stages' own exit codes still pass through -------------------------------------------

def test_validate_and_score_keep_their_structural_exit_codes(tmp_path):
    validate = txresponse(tmp_path, "validate", "--raw", "missing", "--out", "o", "--report",
                          "rep", "--params", PARAMS, "--configs", CONFIGS)
    assert_refused(validate, 10, "validate stopped", "raw data folder does not exist")
    (tmp_path / "model").mkdir()
    score = txresponse(tmp_path, "score", "--data", "missing", "--out", "o", "--model-dir",
                       "model", "--params", PARAMS, "--configs", CONFIGS)
    assert_refused(score, 10, "score stopped", "raw data folder does not exist")


def test_usage_errors_stay_typer_s(tmp_path):
    result = txresponse(tmp_path, "validate", "--raw", "r")
    assert_refused(result, 2, "Usage:", "--out")


# --- internal errors: type and place, never the message --------------------------------------

def _report_inputs_with_a_secret(folder: Path) -> dict[str, Path]:
    from tests.report.conftest import write_inputs
    paths = write_inputs(folder)
    rows = list(csv.reader(paths["predictions"].open(encoding="utf-8")))
    rows[1][rows[0].index("calibrated_probability")] = SECRET
    with paths["predictions"].open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return paths


def test_an_unexpected_error_never_shows_the_value_that_caused_it(tmp_path):
    # A predictions file with a name where a probability belongs reaches a float() inside the
    # report code: pandas/Python quote the cell in their message.
    paths = _report_inputs_with_a_secret(tmp_path / "in")
    args = ["report", *(a for name, path in paths.items() for a in (f"--{name}", path)),
            "--out", tmp_path / "out"]
    result = txresponse(tmp_path, *args)
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    if result.returncode == cli.INTERNAL_ERROR:  # until the report checks this column
        said = _said(result)
        assert "txresponse report stopped on an internal error (ValueError at models/" in said
        assert "TXRESPONSE_DEBUG=1" in said and "report it" in said
    else:
        assert result.returncode in (1, 2), _said(result)
    # The full traceback on request.
    debug = txresponse(tmp_path, *args, TXRESPONSE_DEBUG="1")
    if result.returncode == cli.INTERNAL_ERROR:
        assert debug.returncode == 1 and "Traceback" in debug.stderr


def _invoke(main, *args: str, **env: str):
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("boom")(cli._user_errors_as_messages("boom", main))
    return CliRunner().invoke(app, list(args), env={"TXRESPONSE_DEBUG": None, **env})


def _reads_a_patient_value() -> None:
    pd.Series([SECRET]).astype(float)  # ValueError: could not convert string to float: ...


def test_the_handler_prints_type_and_place_and_exits_70():
    line = _reads_a_patient_value.__code__.co_firstlineno + 1
    result = _invoke(_reads_a_patient_value)
    assert result.exit_code == cli.INTERNAL_ERROR == 70
    assert SECRET not in result.output and "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert f"(ValueError at tests/security/test_cli_refusals.py:{line})" in said
    assert "txresponse boom stopped on an internal error" in said
    assert "TXRESPONSE_DEBUG=1" in said


def test_debug_re_raises_for_the_full_traceback():
    result = _invoke(_reads_a_patient_value, TXRESPONSE_DEBUG="1")
    assert isinstance(result.exception, ValueError)
    assert SECRET in str(result.exception)


def _interrupted() -> None:
    raise KeyboardInterrupt


def _user_error() -> None:
    raise UserError("no such thing: do this")


def _own_exit() -> None:
    raise typer.Exit(12)


def _disk_full() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _missing_file() -> None:
    Path("surely-not-here.csv").read_text(encoding="utf-8")


def _out_of_memory() -> None:
    raise MemoryError


@pytest.mark.parametrize("main, code, phrase", [
    (_interrupted, 130, "txresponse boom: interrupted."),
    (_user_error, 2, "txresponse boom: no such thing: do this"),
    (_own_exit, 12, ""),
    (_disk_full, 74, "No space left on device"),
    (_missing_file, 2, "txresponse boom: surely-not-here.csv: No such file or directory"),
    (_out_of_memory, 71, "ran out of memory"),
])
def test_each_kind_of_failure_has_its_code_and_one_line(main, code, phrase):
    result = _invoke(main)
    assert result.exit_code == code, result.output
    assert phrase in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 1


def test_a_bug_outside_any_command_module_is_located_in_the_project():
    with pytest.raises(ValueError) as caught:
        _reads_a_patient_value()
    where = cli.raised_at(caught.value)
    assert where is not None and where.startswith("tests/security/test_cli_refusals.py:")
    message = cli.internal_error_message("score", caught.value)
    assert SECRET not in message and "\n" not in message


def _reads_parquet(features: Path = typer.Option(..., "--features")) -> None:
    pd.read_parquet(features / "features.parquet")  # pandas: FileNotFoundError(path), no errno


def _not_found_quoting_a_value(features: Path = typer.Option(..., "--features")) -> None:
    raise FileNotFoundError(f"no template for '{SECRET}'")


def test_a_missing_input_read_by_a_library_is_named_from_the_option(tmp_path):
    result = _invoke(_reads_parquet, "--features", str(tmp_path / "nope"))
    assert result.exit_code == 2, result.output
    assert f"txresponse boom: {tmp_path / 'nope' / 'features.parquet'}: No such file" \
        in result.output
    # Only a path under one of the command's path options is ever shown.
    result = _invoke(_not_found_quoting_a_value, "--features", str(tmp_path))
    assert result.exit_code == 70 and SECRET not in result.output
