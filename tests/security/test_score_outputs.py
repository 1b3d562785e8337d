"""`txresponse score` leaves a complete result or the previous one, never a mix; a second run
into the same folder is refused; a chunk with no valid patient is simply empty; a model no
evaluation passed is refused; scratch copies of patient data never land in the shared
temporary folder (issue 14, findings 2-5 and 10)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.e2e.test_score import model_dir, new_patients  # noqa: F401 - shared fixtures
from tests.model.test_training import cohort  # noqa: F401 - used by model_dir

runner = CliRunner()
BIN = Path(sys.executable).parent


def _args(repo: Path, data: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return ["score", "--data", str(data), "--out", str(out), "--model-dir", str(model),
            "--params", str(repo / "configs" / "params.yaml"),
            "--configs", str(repo / "configs"), *extra]


@pytest.fixture(scope="module")
def edge_patients(new_patients, tmp_path_factory):  # noqa: F811
    """The new patients with whole patients quarantined at chunk edges: with chunks of 1 and 7
    patients, some chunks hold no valid patient at all."""
    folder = tmp_path_factory.mktemp("edges")
    # The first 30 patients (chunks of one patient each are slow to score one by one).
    patients = pd.read_csv(new_patients / "patients.csv", dtype=str, keep_default_na=False)
    patients = patients.head(30).reset_index(drop=True)
    for file in new_patients.iterdir():
        table = pd.read_csv(file, dtype=str, keep_default_na=False)
        table[table["patient_id"].isin(patients["patient_id"])].to_csv(folder / file.name,
                                                                      index=False)
    # Rows 0, 6, 7, 13 and 14: first and last patients of 7-patient chunks, and for chunks of
    # 1 patient, chunks whose only patient is refused. A negative age is refused by the contract.
    edges = [0, 6, 7, 13, 14]
    patients.loc[edges, "age_years"] = "-3"
    patients.to_csv(folder / "patients.csv", index=False)
    return folder


def _outputs(out: Path) -> dict[str, bytes]:
    """Every output file, except the run's timings and chunk settings."""
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file()}
    summary = json.loads(files.pop("score_summary.json"))
    for key in ("seconds", "chunks", "chunk_patients"):
        summary.pop(key)
    files["score_summary.json"] = json.dumps(summary, sort_keys=True).encode()
    return files


def test_output_is_identical_for_chunks_of_1_7_and_1000_with_refused_patients_at_the_edges(
        model_dir, edge_patients, tmp_path, repo):  # noqa: F811
    results = {}
    for size in (1, 7, 1000):
        out = tmp_path / f"chunks-{size}"
        result = runner.invoke(app, _args(repo, edge_patients, out, model_dir,
                                          "--chunk-patients", str(size), "--max-reports", "3",
                                          "--allow-unevaluated"))
        assert result.exit_code == 0, result.output
        results[size] = _outputs(out)
    assert results[1] == results[7] == results[1000]
    quarantined = pd.read_csv(tmp_path / "chunks-1" / "quarantine" / "patients.csv")
    assert len(quarantined) == 5
    predictions = pd.read_csv(tmp_path / "chunks-1" / "predictions.csv")
    assert len(predictions) == 30 - 5


def test_a_rerun_replaces_the_whole_folder_so_no_stale_report_survives(
        model_dir, new_patients, tmp_path, repo):  # noqa: F811
    out = tmp_path / "out"
    first = runner.invoke(app, _args(repo, new_patients, out, model_dir, "--max-reports", "5",
                                     "--allow-unevaluated"))
    assert first.exit_code == 0, first.output
    (out / "patients" / "someone-from-last-week.html").write_text("old report")
    (out / "quarantine").mkdir(exist_ok=True)
    (out / "quarantine" / "patients.csv").write_text("old quarantine")
    second = runner.invoke(app, _args(repo, new_patients, out, model_dir, "--max-reports", "2",
                                      "--allow-unevaluated"))
    assert second.exit_code == 0, second.output
    assert sorted(p.name for p in (out / "patients").iterdir()) == sorted(
        [f"{i}.html" for i in pd.read_csv(out / "predictions.csv")["patient_id"].head(2)]
        + ["index.html"])
    assert not (out / "quarantine").exists()  # this run quarantined nothing
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.partial")] == []


def test_a_failed_run_leaves_the_previous_result_untouched(model_dir, new_patients, tmp_path,
                                                           repo):  # noqa: F811
    out = tmp_path / "out"
    assert runner.invoke(app, _args(repo, new_patients, out, model_dir,
                                    "--allow-unevaluated")).exit_code == 0
    before = _outputs(out)
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in new_patients.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    (broken / "sessions.csv").write_text("patient_id;day\n")  # a structural error mid-way
    failed = runner.invoke(app, _args(repo, broken, out, model_dir, "--allow-unevaluated"))
    assert failed.exit_code != 0
    assert _outputs(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", "broken", ".out.lock"])


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_holds_it(
        model_dir, new_patients, tmp_path, repo):  # noqa: F811
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from pipeline.core.atomic import staged_folder
        with staged_folder(Path({str(out)!r})):
            print("holding", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, cwd=repo)
    try:
        assert holder.stdout.readline().strip() == "holding"
        result = runner.invoke(app, _args(repo, new_patients, out, model_dir,
                                          "--allow-unevaluated"))
        assert result.exit_code == 2
        assert f"pid {holder.pid}" in result.output and "is writing" in result.output
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the lock with the process: the next run goes ahead.
    result = runner.invoke(app, _args(repo, new_patients, out, model_dir, "--max-reports", "0",
                                      "--allow-unevaluated"))
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out / "predictions.csv")) == 120


def test_a_model_no_evaluation_passed_is_refused_unless_allowed(model_dir, new_patients,
                                                                tmp_path, repo):  # noqa: F811
    out = tmp_path / "out"
    refused = runner.invoke(app, _args(repo, new_patients, out, model_dir))
    assert refused.exit_code == 2
    assert "never evaluated" in refused.output and "--allow-unevaluated" in refused.output
    assert not out.exists()
    allowed = runner.invoke(app, _args(repo, new_patients, out, model_dir, "--max-reports", "1",
                                       "--allow-unevaluated"))
    assert allowed.exit_code == 0, allowed.output
    meta = json.loads((out / "explanations_meta.json").read_text())
    assert meta["model"]["evaluated"] is False


@pytest.mark.slow
def test_kill_9_leaves_the_previous_result_and_no_patient_data_in_the_temp_folder(
        model_dir, new_patients, tmp_path, repo):  # noqa: F811
    out, scratch_tmp = tmp_path / "out", tmp_path / "system-tmp"
    scratch_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch_tmp)}
    command = [str(BIN / "txresponse"), *_args(repo, new_patients, out, model_dir,
                                                "--allow-unevaluated", "--chunk-patients", "10")]
    assert subprocess.run(command, env=env, capture_output=True, cwd=repo).returncode == 0
    before = _outputs(out)
    for delay in (1.0, 2.5, 4.0):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, cwd=repo)
        time.sleep(delay)
        process.kill()
        process.wait()
        assert _outputs(out) == before
    assert list(scratch_tmp.iterdir()) == []  # nothing in the shared temporary folder
    # The next run cleans up what the killed ones left beside --out.
    assert subprocess.run(command, env=env, capture_output=True, cwd=repo).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out", "system-tmp"]
    assert _outputs(out) == before


def test_an_output_folder_holding_other_files_or_the_working_folder_is_never_replaced(
        model_dir, new_patients, tmp_path, repo, monkeypatch):  # noqa: F811
    """A probe ran `score --out .` in a project copy and lost the project; `--out data`
    deleted the raw data it had just read."""
    data = tmp_path / "data"
    data.mkdir()
    for file in new_patients.iterdir():
        (data / file.name).write_bytes(file.read_bytes())
    before = sorted(p.name for p in data.iterdir())
    refused = runner.invoke(app, _args(repo, data, data, model_dir, "--allow-unevaluated"))
    assert refused.exit_code == 2
    assert "did not write" in " ".join(refused.output.split())
    assert sorted(p.name for p in data.iterdir()) == before
    monkeypatch.chdir(data)
    for out in (data, tmp_path):  # the working folder, and a folder holding it
        refused = runner.invoke(app, _args(repo, data, out, model_dir, "--allow-unevaluated"))
        assert refused.exit_code == 2 and "working folder" in " ".join(refused.output.split())
    assert sorted(p.name for p in data.iterdir()) == before


def test_unevaluated_reports_say_so_and_quarantined_patients_asked_for_are_counted(
        model_dir, edge_patients, tmp_path, repo):  # noqa: F811
    patients = pd.read_csv(edge_patients / "patients.csv", dtype=str)
    refused_id, kept_id = patients["patient_id"].iloc[0], patients["patient_id"].iloc[1]
    out = tmp_path / "out"
    result = runner.invoke(app, _args(repo, edge_patients, out, model_dir,
                                      "--patients", f"{refused_id},{kept_id}",
                                      "--allow-unevaluated"))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 of the --patients were quarantined" in said and refused_id not in said
    page = (out / "patients" / f"{kept_id}.html").read_text()
    assert "never evaluated" in page
