"""Training cost: how long does the train stage's work take on the demo cohort and on 10,000
patients? (issue 8, item 4). A benchmark, not a test: it prints and records, it does not assert.

The demo cohort is data/raw/demo (2,000 patients); the large one is simulated in process
(10,000 patients, 4 sites, seed 7, as `txresponse simulate --patients 10000 --seed 7`). Each is
validated, featurised and split with the default params as the pipeline's stages do, then timed,
per repetition:

  search_seconds     the hyperparameter searches of both classifiers (`models.tuning.search`)
  bootstrap_seconds  the bootstrap refits of the candidate (`uncertainty_replicates`)
  train_seconds      all of `models.training.train` (searches, refits, calibration, bootstrap)
  save_seconds       writing both models and the replicates (`ResponseModel.save`,
                     `save_replicates`), as the train stage does
  load_replicates_seconds   reading the replicates back (what `txresponse score` does)

Median, min and max over the repetitions. Wall-clock times on a shared machine are upper
bounds. MLflow logging is not included (about 3 s at 10,000 patients).

    .venv/bin/python -m benchmarks.training_cost [--quick] [--repeats 3]
        [--baseline before.json] --out docs/benchmarks/training_cost.json

`--quick`: the demo cohort only, one repetition. `--baseline`: a previous output of this
script (for example measured on the commit before a change), recorded under "before".
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

import numpy as np

import models.training as training
from benchmarks.quality import features_and_labels
from models.split import split_patients
from models.uncertainty import load_replicates, save_replicates
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries
from pipeline.core.tables import write_csv
from pipeline.featurize import read_validated
from pipeline.simulation import simulate_cohort
from pipeline.validation.run import validate_folder

COHORTS = {"demo": {"raw": "data/raw/demo"},
           "10k": {"patients": 10000, "sites": 4, "seed": 7}}
MEASURES = ("search_seconds", "bootstrap_seconds", "train_seconds", "save_seconds",
            "load_replicates_seconds")


def build(spec: dict, params, registries):
    """Features, labels and split as the validate and features stages make them: the raw
    tables are written as CSV (or read from data/raw/demo), validated, round-tripped through
    Parquet, then featurised."""
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(spec["raw"]) if "raw" in spec else Path(folder) / "raw"
        if "raw" not in spec:
            simulated = simulate_cohort(n_patients=spec["patients"], n_sites=spec["sites"],
                                        seed=spec["seed"])
            for name, table in simulated.tables.items():
                write_csv(table, raw / f"{name}.csv")
        outcomes, _ = validate_folder(raw, registries,
                                      params.validation.max_quarantine_fraction)
        validated = Path(folder) / "validated"
        validated.mkdir()
        for name, outcome in outcomes.items():
            outcome.passed.to_parquet(validated / f"{name}.parquet", index=False)
        tables = read_validated(validated)
    features, labels = features_and_labels(tables, registries, params)
    sites = tables["patients"].set_index("patient_id")["site"]
    split = split_patients(labels, sites, params.split.test_fraction, params.seed,
                           params.split.holdout_site)
    return features, labels, split


def _timed(function, sink: list):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - started)
    return wrapper


def measure_once(features, labels, split, params) -> dict:
    searches, bootstraps = [], []
    original_search, original_bootstrap = training.search, training.bootstrap_replicates
    training.search = _timed(original_search, searches)
    training.bootstrap_replicates = _timed(original_bootstrap, bootstraps)
    try:
        started = time.perf_counter()
        outcome = training.train(features, labels, split, model=params.train.model,
                                 calibrator=params.train.calibrator,
                                 cv_folds=params.train.cv_folds,
                                 search_budget=params.train.search_budget, seed=params.seed,
                                 uncertainty_replicates=params.train.uncertainty_replicates)
        train_seconds = time.perf_counter() - started
    finally:
        training.search, training.bootstrap_replicates = original_search, original_bootstrap
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        started = time.perf_counter()
        outcome.models[outcome.candidate].save(out / "candidate")
        outcome.models[outcome.comparator].save(out / "comparator")
        save_replicates(outcome.replicates, out / "candidate" / "bootstrap")
        save_seconds = time.perf_counter() - started
        started = time.perf_counter()
        loaded = load_replicates(out / "candidate" / "bootstrap")
        load_seconds = time.perf_counter() - started
        size = sum(f.stat().st_size for f in (out / "candidate" / "bootstrap").rglob("*")
                   if f.is_file())
    return {"search_seconds": sum(searches), "bootstrap_seconds": sum(bootstraps),
            "train_seconds": train_seconds, "save_seconds": save_seconds,
            "load_replicates_seconds": load_seconds,
            "candidate": outcome.candidate,
            "cv_log_loss": {n: round(r.cv_log_loss, 5) for n, r in outcome.searches.items()},
            "chosen_hyperparameters": {n: r.best for n, r in outcome.searches.items()},
            "n_replicates": len(loaded), "replicates_bytes": size,
            "n_development": int((split["set"] == "development").sum())}


def summarise(runs: list[dict]) -> dict:
    summary = {}
    for key in MEASURES:
        values = [r[key] for r in runs]
        summary[key] = {"median": round(float(np.median(values)), 2),
                        "min": round(min(values), 2), "max": round(max(values), 2)}
    return summary


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(cohorts: list[str], repeats: int) -> dict:
    params, registries = load_params(), load_registries()
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
                   f"{os.cpu_count()} cores (shared: wall times are upper bounds)",
        "versions": {"python": platform.python_version(),
                     **{p: version(p) for p in ("scikit-learn", "lightgbm", "numpy", "skops")}},
        "git_commit": _git_commit(),
        "params": {"cv_folds": params.train.cv_folds,
                   "search_budget": params.train.search_budget,
                   "uncertainty_replicates": params.train.uncertainty_replicates,
                   "seed": params.seed},
        "repeats": repeats,
        "cohorts": {},
    }
    for name in cohorts:
        features, labels, split = build(COHORTS[name], params, registries)
        runs = []
        for i in range(repeats):
            runs.append(measure_once(features, labels, split, params))
            print(f"{name} run {i + 1}/{repeats}: " + ", ".join(
                f"{k} {runs[-1][k]:.1f}" for k in MEASURES), flush=True)
        last = runs[-1]
        result["cohorts"][name] = {
            "cohort": COHORTS[name], "n_development": last["n_development"],
            "candidate": last["candidate"], "cv_log_loss": last["cv_log_loss"],
            "chosen_hyperparameters": last["chosen_hyperparameters"],
            "n_replicates": last["n_replicates"], "replicates_bytes": last["replicates_bytes"],
            **summarise(runs),
            "runs": [{k: round(r[k], 2) for k in MEASURES} for r in runs],
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="demo cohort only, one repetition")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="an earlier output of this script, recorded as 'before'")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/training_cost.json"))
    args = parser.parse_args()
    cohorts, repeats = (["demo"], 1) if args.quick else (list(COHORTS), args.repeats)
    result = run(cohorts, repeats)
    if args.baseline is not None:
        before = json.loads(args.baseline.read_text(encoding="utf-8"))
        before = before.get("after", before)
        result = {"before": before, "after": result, "speedup": {
            name: {key: round(before["cohorts"][name][key]["median"]
                              / max(result["cohorts"][name][key]["median"], 1e-9), 2)
                   for key in MEASURES}
            for name in result["cohorts"] if name in before.get("cohorts", {})}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result.get("speedup", {}), indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
