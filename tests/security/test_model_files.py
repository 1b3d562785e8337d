"""Loading a model never runs code (issue 14, item 1).

A logistic model file is a skops zip whose schema.json names the types to build; a crafted one
naming `builtins.exec` ran its payload on load, from a model folder and from an MLflow artifact
store alike. The crafted files here are genuine model files with one entry of schema.json
replaced, as an attacker who can write the folder or the store would do. A LightGBM text model
holds only numbers, but LightGBM's C++ reader aborted the process on a malformed file and read
out of bounds on indices out of range: those are refused with a message first.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from models.artifact import (SKOPS_NODES, SKOPS_PROTOCOL, SKOPS_TRUSTED, ResponseModel,
                             check_lightgbm_text, skops_nodes)
from models.uncertainty import load_replicates, save_replicates
from pipeline.core.errors import UserError
from pipeline.simulation import simulate_cohort
from tests.conftest import REPO
from tests.support import demo_bundle
from tests.model.test_training import cohort, trained  # noqa: F401 - shared fixtures

REFUSED = "types that txresponse never writes"


@pytest.fixture(scope="module")
def models(trained, tmp_path_factory):  # noqa: F811
    """Both classifiers as the train stage fits and saves them: {name: (model, folder)}."""
    outcome, features, _ = trained
    root = tmp_path_factory.mktemp("models")
    saved = {}
    for name, model in outcome.models.items():
        folder = root / name / "candidate"
        demo_bundle(model).save(folder)  # the model artifact, as train saves it
        (root / name / "mlflow_run.json").write_text(json.dumps(
            {"run_id": None, "registered_model": None, "version": None}), encoding="utf-8")
        saved[name] = (model, folder)
    return saved, features


def _payload(module: str, name: str, argument: str) -> dict:
    """A skops node that calls module.name(argument) when the file is loaded."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                        "content": [{"__class__": "str", "__module__": "builtins",
                                     "__loader__": "JsonNode", "content": json.dumps(argument),
                                     "is_json": True}]}}


def craft(genuine: Path, into: Path, module: str, name: str, argument: str) -> Path:
    """A copy of the model folder `genuine` whose logistic.skops builds module.name(argument)
    in place of the pipeline's `memory` setting (schema.json edited inside the zip)."""
    shutil.copytree(genuine, into)
    path = into / "logistic.skops"
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    schema = json.loads(entries["schema.json"])
    schema["content"]["content"]["memory"] = _payload(module, name, argument)
    entries["schema.json"] = json.dumps(schema).encode("utf-8")
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return into


def _attacks(sentinel: Path) -> dict[str, tuple[str, str, str]]:
    return {"builtins.exec": ("builtins", "exec", f"open({str(sentinel)!r}, 'w').write('x')"),
            "os.system": ("os", "system", f"touch '{sentinel}'")}


def test_allow_list_is_exactly_what_a_freshly_trained_model_holds(models):
    """SKOPS_NODES, SKOPS_TRUSTED and SKOPS_PROTOCOL are literal constants: re-derived here from
    a model trained by the pipeline's own code, so they cannot drift from what it writes."""
    saved, _ = models
    path = saved["logistic"][1] / "logistic.skops"
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    assert skops_nodes(schema) == SKOPS_NODES
    assert sorted(sio.get_untrusted_types(file=path)) == sorted(SKOPS_TRUSTED)
    assert schema["protocol"] == SKOPS_PROTOCOL


@pytest.mark.parametrize("attack", ["builtins.exec", "os.system"])
def test_crafted_logistic_file_is_refused_and_the_genuine_one_still_loads(models, tmp_path,
                                                                          attack):
    saved, features = models
    model, genuine = saved["logistic"]
    sentinel = tmp_path / "payload-ran"
    folder = craft(genuine, tmp_path / "crafted", *_attacks(sentinel)[attack])
    with pytest.raises(UserError, match=REFUSED) as refused:
        ResponseModel.load(folder)
    assert not sentinel.exists()
    assert str(folder / "logistic.skops") in str(refused.value)
    assert attack in str(refused.value)
    # The genuine file beside it: loads, and predicts exactly as the model that was fitted.
    loaded = ResponseModel.load(genuine)
    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))


def test_refusal_quotes_attacker_text_short_and_without_control_characters(models, tmp_path):
    saved, _ = models
    name = "exec\x1b[2J\x1b]0;owned\x07" + "A" * 5000
    folder = craft(saved["logistic"][1], tmp_path / "crafted", "builtins", name, "1")
    with pytest.raises(UserError) as refused:
        ResponseModel.load(folder)
    message = str(refused.value)
    assert "\x1b" not in message and "\x07" not in message
    assert "A" * 100 not in message and len(message) < 600


def test_a_file_with_only_allowed_types_but_another_skops_protocol_is_refused(models, tmp_path):
    saved, _ = models
    folder = tmp_path / "old-protocol"
    shutil.copytree(saved["logistic"][1], folder)
    path = folder / "logistic.skops"
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    schema = json.loads(entries["schema.json"])
    schema["protocol"] = 0  # would make skops use its older, laxer node readers
    entries["schema.json"] = json.dumps(schema).encode("utf-8")
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    with pytest.raises(UserError, match="skops format 0"):
        ResponseModel.load(folder)


def test_bootstrap_replicates_go_through_the_same_check(models, tmp_path):
    saved, features = models
    model, genuine = saved["logistic"]
    save_replicates([model, model], tmp_path / "bootstrap")
    assert [np.array_equal(r.predict_proba(features), model.predict_proba(features))
            for r in load_replicates(tmp_path / "bootstrap")] == [True, True]
    sentinel = tmp_path / "payload-ran"
    shutil.rmtree(tmp_path / "bootstrap" / "001")
    craft(genuine, tmp_path / "bootstrap" / "001", *_attacks(sentinel)["builtins.exec"])
    with pytest.raises(UserError, match=REFUSED):
        load_replicates(tmp_path / "bootstrap")
    assert not sentinel.exists()


# --- through the command line, from a model folder and from an MLflow artifact store -----------
@pytest.fixture(scope="module")
def new_patients(tmp_path_factory):
    folder = tmp_path_factory.mktemp("new")
    for name, table in simulate_cohort(n_patients=30, n_sites=2, seed=5).tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _score(tmp_path: Path, data: Path, *model: str) -> subprocess.CompletedProcess:
    from pipeline.score import main

    unevaluated = ["--allow-unevaluated"] if "allow_unevaluated" in \
        inspect.signature(main).parameters else []
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "score", "--data", str(data),
         "--out", str(tmp_path / "out"), *model, *unevaluated,
         "--params", str(REPO / "configs" / "params.yaml"), "--configs", str(REPO / "configs")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("attack", ["builtins.exec", "os.system"])
def test_score_refuses_a_crafted_model_folder(models, new_patients, tmp_path, attack):
    saved, _ = models
    sentinel = tmp_path / "payload-ran"
    model_dir = tmp_path / "model"
    craft(saved["logistic"][1], model_dir / "candidate", *_attacks(sentinel)[attack])
    shutil.copy(saved["logistic"][1].parent / "mlflow_run.json", model_dir)
    result = _score(tmp_path, new_patients, "--model-dir", str(model_dir))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert REFUSED in result.stderr
    assert not sentinel.exists()


def test_score_refuses_a_model_swapped_in_the_mlflow_artifact_store(models, new_patients,
                                                                    tmp_path, monkeypatch):
    import mlflow

    from models import tracking

    saved, _ = models
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.configure("swap-test", root=tmp_path)
    with mlflow.start_run():  # logged as train logs it: the pyfunc with the artifact inside
        model_uri = tracking.log_response_model(saved["logistic"][0], saved["logistic"][1])
    (stored,) = (tmp_path / "mlruns" / "models").rglob("logistic.skops")
    sentinel = tmp_path / "payload-ran"
    crafted = craft(saved["logistic"][1], tmp_path / "crafted",
                    *_attacks(sentinel)["builtins.exec"])
    shutil.copy(crafted / "logistic.skops", stored)  # the swap
    result = _score(tmp_path, new_patients, "--model-uri", model_uri, "--allow-unevaluated")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert REFUSED in result.stderr
    assert not sentinel.exists()


# --- LightGBM text models ----------------------------------------------------------------------
def _with_sizes(text: str) -> str:
    """`text` with tree_sizes recomputed, so a tampered tree is found by where it sits, as
    LightGBM finds it (a careful attacker keeps the sizes right)."""
    head, rest = text.split("\n\n", 1)
    trees, end = rest.split("end of trees\n", 1)
    blocks = re.split(r"(?=^Tree=\d+\n)", trees, flags=re.M)
    sizes = " ".join(str(len(b)) for b in blocks if b)
    head = re.sub(r"^tree_sizes=.*$", f"tree_sizes={sizes}", head, flags=re.M)
    return f"{head}\n\n{trees}end of trees\n{end}"


def _first_tree(text: str, key: str, change) -> str:
    start = text.index("\nTree=0\n")
    line = re.compile(rf"^{key}=(.*)$", re.M).search(text, start)
    values = line.group(1).split(" ")
    return _with_sizes(text[:line.start(1)] + " ".join(change(values)) + text[line.end(1):])


def _first_internal_child(values: list[str]) -> list[str]:
    return ["0" if i == 0 else v for i, v in enumerate(values)]  # node 0 becomes its own child


MALFORMED = {
    "truncated": lambda text: text[: len(text) // 3],
    "field missing": lambda text: text.replace("\nnum_cat=", "\nnum_cats=", 1),
    "not a model": lambda text: "hello\n",
    "feature out of range": lambda text: _first_tree(
        text, "split_feature", lambda v: ["999"] + v[1:]),
    "leaf out of range": lambda text: _first_tree(
        text, "right_child", lambda v: ["-999"] + v[1:]),
    "loop": lambda text: _first_tree(text, "left_child", _first_internal_child),
    "other features": lambda text: text.replace("max_feature_idx=", "max_feature_idx=1", 1),
}


@pytest.mark.parametrize("damage", list(MALFORMED))
def test_a_malformed_lightgbm_model_is_a_clear_error_not_a_crash(models, tmp_path, damage):
    saved, _ = models
    folder = tmp_path / "lightgbm"
    shutil.copytree(saved["lightgbm"][1], folder)
    text = (folder / "lightgbm.txt").read_text(encoding="utf-8")
    (folder / "lightgbm.txt").write_text(MALFORMED[damage](text), encoding="utf-8")
    # In a child process: LightGBM's reader used to abort the whole process.
    script = ("import sys\nfrom models.artifact import ResponseModel\n"
              "from pipeline.core.errors import UserError\n"
              "try:\n    ResponseModel.load(sys.argv[1])\n"
              "except UserError as error:\n    print(error)\n    sys.exit(3)\n")
    result = subprocess.run([sys.executable, "-c", script, str(folder)], cwd=REPO,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 3, (result.returncode, result.stderr[-2000:])
    assert f"refusing to load {folder / 'lightgbm.txt'}" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_genuine_lightgbm_model_passes_the_check_and_predicts_identically(models):
    saved, features = models
    model, folder = saved["lightgbm"]
    check_lightgbm_text(folder / "lightgbm.txt", model.layout)  # a genuine file: no complaint
    loaded = ResponseModel.load(folder)
    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))
