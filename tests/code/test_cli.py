"""Every command of the `txresponse` CLI answers --help."""
from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import COMMANDS, app

runner = CliRunner()


def _command_names() -> list[str]:
    group = typer.main.get_command(app)
    return group.list_commands(None)


def test_root_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    names = _command_names()
    assert "simulate" in names
    for name in names:
        assert name in result.output


@pytest.mark.parametrize("name", _command_names())
def test_each_command_has_help(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_commands_load_only_when_called():
    # A stage must not pay for importing every other stage (MLflow, LightGBM...): DVC starts
    # one command per stage.
    code = ("import sys; import pipeline.cli; "
            "print(any(m in sys.modules for m in ('mlflow', 'lightgbm', 'sklearn')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
    assert set(COMMANDS) == set(_command_names())


def test_console_script_is_installed():
    # The entry point in pyproject.toml must resolve, not only the Python object.
    result = subprocess.run([sys.executable, "-m", "pipeline.cli", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_truth_inside_output_folder_is_refused(tmp_path):
    result = runner.invoke(app, ["simulate", "--patients", "5", "--out", str(tmp_path),
                                 "--truth", str(tmp_path / "truth.csv")])
    assert result.exit_code != 0
    assert not (tmp_path / "patients.csv").exists()
