"""The pipeline against a real `mlflow server` on 127.0.0.1, and the reviewers' DVC loop:
two experiments queued and run with --jobs 2 both land complete, unmixed, and tagged with their
DVC experiment names; `dvc exp show`, `dvc metrics diff` and `dvc plots diff` work on them."""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.e2e.project import BIN, copy_project, run

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                pytest.fail(process.stderr.read().decode()[-3000:])
            time.sleep(1)
    else:
        process.terminate()
        pytest.fail("mlflow server did not answer /health within 120 s")
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def experiments(tmp_path_factory, repo, server):
    root = tmp_path_factory.mktemp("project")
    env = copy_project(repo, root) | {"MLFLOW_TRACKING_URI": server}
    dvc = str(BIN / "dvc")
    run([dvc, "exp", "run", "--queue", "-n", "exp-a",
         "-S", "configs/params.yaml:train.search_budget=2"], root, env)
    run([dvc, "exp", "run", "--queue", "-n", "exp-b",
         "-S", "configs/params.yaml:train.search_budget=3"], root, env)
    run([dvc, "exp", "run", "--run-all", "--jobs", "2"], root, env, timeout=1500)
    return root, env


def test_both_experiments_land_complete_and_unmixed_on_the_server(experiments, server):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server)
    experiment = client.get_experiment_by_name("txresponse")
    assert experiment is not None, [e.name for e in client.search_experiments()]
    runs = client.search_runs([experiment.experiment_id],
                              filter_string="tags.`dvc.experiment` LIKE 'exp-%'")
    training = {r.data.tags["dvc.experiment"]: r for r in runs
                if "mlflow.parentRunId" not in r.data.tags}
    assert set(training) == {"exp-a", "exp-b"}
    for name, budget in (("exp-a", "2"), ("exp-b", "3")):
        r = training[name]
        assert r.info.status == "FINISHED"
        assert r.data.params["train.search_budget"] == budget   # its own params, not the other's
        for key in ("candidate_calibrated.auroc", "candidate_calibrated.auroc_ci_low",
                    "comparator_calibrated.brier", "candidate_uncalibrated.ici"):
            assert key in r.data.metrics, (name, key)
        artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"evaluation", "figures", "training.json"} <= artifacts
    versions = client.search_model_versions("name='txresponse-response'")
    assert {v.run_id for v in versions} == {r.info.run_id for r in training.values()}


def test_reviewers_dvc_loop(experiments, tmp_path):
    root, env = experiments
    dvc = str(BIN / "dvc")
    shown = json.loads(run([dvc, "exp", "show", "--json"], root, env).stdout)
    names = {e.get("name") for baseline in shown for e in (baseline.get("experiments") or [])}
    assert {"exp-a", "exp-b"} <= names
    diff = json.loads(run([dvc, "metrics", "diff", "exp-a", "exp-b", "--json"], root, env).stdout)
    assert "reports/metrics.json" in diff
    run([dvc, "plots", "diff", "exp-a", "exp-b", "-o", str(tmp_path / "plots")], root, env)
    assert (tmp_path / "plots" / "index.html").exists()
