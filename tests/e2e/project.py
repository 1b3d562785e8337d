"""A copy of this repository in a fresh git repo, for tests that run real DVC."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def run(args, cwd, env, timeout=900):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            check=False, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def copy_project(repo: Path, root: Path, **param_changes: dict) -> dict:
    """Copy tracked (and new, unignored) files into `root`, shrink the search so the test is
    quick, commit, and return the environment to run DVC with."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        source = repo / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    params_path = root / "configs" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["train"].update(search_budget=2, cv_folds=3, uncertainty_replicates=3)
    params["split"]["folds"] = 3  # the validation's developments, as few as still mean something
    params["evaluate"]["bootstrap_resamples"] = 200
    params["report"]["max_patients"] = 20
    for section, values in param_changes.items():
        params[section].update(values)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)  # the embedded SQLite store inside the copy
    run(["git", "init", "-q"], root, env)
    run(["git", "config", "user.email", "test@txresponse.invalid"], root, env)
    run(["git", "config", "user.name", "txresponse test"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-qm", "snapshot"], root, env)
    return env
