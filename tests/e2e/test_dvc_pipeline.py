"""The real pipeline under real DVC, in a temporary git repository.

Slow (a few DVC invocations); CI runs it with everything else.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory, repo):
    """A copy of this repository's tracked (and new, unignored) files in a fresh git repo."""
    root = tmp_path_factory.mktemp("project")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        source = repo / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(root), "DVC_NO_ANALYTICS": "1"}
    _run(["git", "init", "-q"], root, env)
    _run(["git", "config", "user.email", "test@txresponse.invalid"], root, env)
    _run(["git", "config", "user.name", "txresponse test"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "snapshot"], root, env)
    _run([str(BIN / "dvc"), "repro"], root, env)
    return root, env


def test_repro_builds_validated_tables_features_and_labels(project):
    root, _ = project
    report = json.loads((root / "reports" / "validation" / "report.json").read_text())
    assert report  # the validation report exists and is JSON
    features = pd.read_parquet(root / "data" / "features" / "features.parquet")
    labels = pd.read_parquet(root / "data" / "features" / "labels.parquet")
    assert len(features) == len(labels) == 2000
    facts = json.loads((root / "reports" / "features.json").read_text())
    assert facts["labelled"] + facts["unlabelled"] == 2000
    assert 0.4 < facts["label_prevalence"] < 0.6
    assert (root / "reports" / "feature_dictionary.md").read_text().count("| `") == \
        features.shape[1] - 1


def _stale_stages(root, env) -> set[str]:
    status = json.loads(_run([str(BIN / "dvc"), "status", "--json"], root, env).stdout or "{}")
    return set(status)


def test_changing_the_target_reruns_only_what_reads_it(project):
    root, env = project
    assert _stale_stages(root, env) == set()
    params_path = root / "configs" / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["target"]["definition"] = "remission"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        stale = _stale_stages(root, env)
        assert "features" in stale
        assert "validate" not in stale
    finally:
        params_path.write_text(original)
