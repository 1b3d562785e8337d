"""`python -m benchmarks.run --quick` end to end, into a temporary folder: the table's
structure only (rows and headers), never its timings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run import BEGIN, END, Table

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_quick_run_writes_the_table(tmp_path, repo):
    doc, results = tmp_path / "benchmarks.md", tmp_path / "results"
    recorded = {p: p.stat().st_mtime_ns for p in [repo / "docs" / "benchmarks.md",
                                                   *(repo / "docs" / "benchmarks").glob("*")]}
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--doc",
                             str(doc), "--results", str(results)], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    text = doc.read_text()
    assert text.startswith("# Benchmarks (quick run)\n")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    for header in ("- Date:", "- Machine:", "cores", "GiB memory", "- Python ", "lightgbm ",
                   "scikit-learn ", "shap ", "numpy ", "pandas ", "pandera ", "mlflow ",
                   "dvc "):
        assert header in block, header
    table = [line for line in block.splitlines() if line.startswith("|")]
    assert table[0] == "| " + " | ".join(Table.HEADER) + " |"
    assert all(line.count("|") == len(Table.HEADER) + 1 for line in table[2:]), table
    labels = [line.split("|")[1].strip() for line in table[2:]]
    for expected in ("quality: AUROC / truth's AUROC", "explain: ratio ours / shap",
                     "interval coverage", "simulate (not a pipeline stage)",
                     "stage `validate`", "stage `features`", "stage `train`",
                     "stage `evaluate`", "stage `explain`", "stage `report`",
                     "stage `model_card`", "`dvc repro` after changing only",
                     "incremental / full", "score: rate end to end",
                     "score: rate predicting with explanations", "score: peak memory"):
        assert any(label.startswith(expected) for label in labels), expected
    # training cost: measured, or "not available" while its module does not exist.
    assert any(label.startswith("training cost") for label in labels)

    status = json.loads((results / "run.json").read_text())["status"]
    assert status["uncertainty"] == "skipped"
    for name in ("quality", "explain", "stages", "incremental", "score"):
        assert status[name] == "ok", (name, status)
        assert (results / f"{name}.json").exists()
    # A quick run never writes to docs/.
    assert {p: p.stat().st_mtime_ns for p in recorded} == recorded
