"""Same arguments, same bytes; and the committed demo cohort is what the documented command
writes."""
from __future__ import annotations

import filecmp

from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
TABLES = ["patients", "treatments", "assessments", "sessions", "biomarkers"]

# The documented demo arguments (README, docs/simulator.md).
DEMO_ARGS = ["--patients", "2000", "--sites", "4", "--seed", "20261126"]


def _simulate(out, truth, *args):
    result = runner.invoke(app, ["simulate", *args, "--out", str(out), "--truth", str(truth)])
    assert result.exit_code == 0, result.output


def test_same_arguments_give_identical_bytes(tmp_path):
    for run in ("a", "b"):
        _simulate(tmp_path / run, tmp_path / f"{run}_truth.csv", "--patients", "300",
                  "--sites", "3", "--seed", "11")
    for table in TABLES:
        a, b = tmp_path / "a" / f"{table}.csv", tmp_path / "b" / f"{table}.csv"
        assert a.read_bytes() == b.read_bytes(), table
    assert (tmp_path / "a_truth.csv").read_bytes() == (tmp_path / "b_truth.csv").read_bytes()


def test_another_seed_gives_another_cohort(tmp_path):
    _simulate(tmp_path / "a", tmp_path / "a.csv", "--patients", "100", "--seed", "1")
    _simulate(tmp_path / "b", tmp_path / "b.csv", "--patients", "100", "--seed", "2")
    assert not filecmp.cmp(tmp_path / "a" / "patients.csv", tmp_path / "b" / "patients.csv",
                           shallow=False)


def test_committed_demo_cohort_is_reproduced_byte_for_byte(tmp_path, repo):
    _simulate(tmp_path / "demo", tmp_path / "truth.csv", *DEMO_ARGS)
    for table in TABLES:
        committed = repo / "data" / "raw" / "demo" / f"{table}.csv"
        assert committed.read_bytes() == (tmp_path / "demo" / f"{table}.csv").read_bytes(), table
    committed_truth = repo / "data" / "truth" / "demo_truth.csv"
    assert committed_truth.read_bytes() == (tmp_path / "truth.csv").read_bytes()
