"""End to end: the real `dvc repro validate` in a temporary git repository."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
NEEDED = ["dvc.yaml", ".dvc/config", ".dvcignore", ".gitignore", "configs", "data/raw/demo",
          "pipeline"]


def _run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_dvc_repro_validate(tmp_path, repo):
    for name in NEEDED:
        source, target = repo / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(tmp_path), "DVC_NO_ANALYTICS": "1"}
    for args in (["git", "init", "-q"], ["git", "config", "user.email", "t@txresponse.invalid"],
                 ["git", "config", "user.name", "txresponse test"], ["git", "add", "-A"],
                 ["git", "commit", "-qm", "snapshot"]):
        _run(args, tmp_path, env)
    _run([str(BIN / "dvc"), "repro", "validate"], tmp_path, env)

    report = json.loads((tmp_path / "reports" / "validation" / "report.json").read_text())
    assert report["status"] == "passed"
    assert report["totals"]["quarantined"] == 0
    assert report["tables"]["patients"]["passed"] == 2000
    for table in ("patients", "treatments", "assessments", "sessions", "biomarkers"):
        assert (tmp_path / "data" / "validated" / f"{table}.parquet").exists()
    assert (tmp_path / "reports" / "validation" / "report.html").exists()
    assert "validate" in (tmp_path / "dvc.lock").read_text()
    status = _run([str(BIN / "dvc"), "status", "validate"], tmp_path, env)
    assert "up to date" in status.stdout.lower()
