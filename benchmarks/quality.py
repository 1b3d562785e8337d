"""Quality benchmark: how close does the default model get to the best possible?

Simulates a development cohort and an independent test cohort of N patients each (other
patient seeds, the same clinics: one site seed), trains with
the default params, and compares the test performance of the calibrated candidate, the
uncalibrated candidate and the comparator with that of the true probabilities (the Bayes-optimal
predictor). Targets (issue 5): AUROC >= 0.97 x truth, Brier <= 1.04 x truth, calibration slope
0.9-1.1, ICI <= 0.02. A benchmark, not a test: it prints and records, it does not assert.

    .venv/bin/python -m benchmarks.quality [--patients 5000] [--out docs/benchmarks/quality.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import compute_features
from features.catalog import build_registry
from features.labels import make_labels
from features.records import known_on
from models.evaluation import TestSet, evaluate
from models.metrics import headline_metrics
from models.split import DEVELOPMENT
from models.training import train
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries
from pipeline.core.schemas import contract_schemas
from pipeline.simulation import simulate_cohort

SITE_SEED = 100


def cohort(n: int, seed: int, registries, params):
    # One population: the site seed is shared, so both cohorts come from the same clinics (a new
    # site seed would measure transport to new clinics, not the fit to this population).
    simulated = simulate_cohort(n_patients=n, n_sites=4, seed=seed, site_seed=SITE_SEED)
    schemas = contract_schemas(registries)
    tables = {name: schemas[name].validate(t.convert_dtypes()) for name, t in
              simulated.tables.items()}
    features, labels = features_and_labels(tables, registries, params)
    return features, labels, simulated.truth, tables["patients"]


def features_and_labels(tables: dict, registries, params):
    """The features and labels stage on validated tables, with the given params."""
    target = params.target
    features = compute_features(known_on(tables, params.features.prediction_day),
                                build_registry(registries, target.instrument,
                                               target.baseline_window,
                                               params.features.biomarker_lookback_days))
    labels = make_labels(tables["patients"]["patient_id"], tables["assessments"],
                         registries.instruments[target.instrument], target.definition,
                         target.baseline_window, target.endpoint_window, target.min_reduction)
    return features, labels


def run(n_patients: int, seed: int) -> dict:
    params, registries = load_params(), load_registries()
    started = time.perf_counter()
    dev_features, dev_labels, _, _ = cohort(n_patients, seed, registries, params)
    test_features, test_labels, truth, _ = cohort(n_patients, seed + 1, registries, params)
    labelled = dev_labels[dev_labels["label"].notna()]
    split = pd.DataFrame({"patient_id": labelled["patient_id"], "set": DEVELOPMENT})
    outcome = train(dev_features, dev_labels, split, model=params.train.model,
                    calibrator=params.train.calibrator, cv_folds=params.train.cv_folds,
                    search_budget=params.train.search_budget, seed=params.seed)
    train_seconds = time.perf_counter() - started

    ids = test_labels.loc[test_labels["label"].notna(), "patient_id"].to_numpy()
    rows = test_features.set_index("patient_id").loc[ids].reset_index()
    y = test_labels.set_index("patient_id").loc[ids, "label"].astype(int).to_numpy()
    test = TestSet(ids, y, rows, {})
    result = evaluate(outcome.models[outcome.candidate], outcome.models[outcome.comparator],
                      test, seed=params.seed, n_resamples=200, thresholds=[0.5], min_n=30,
                      min_events=10)
    p_true = truth.set_index("patient_id").loc[ids, "true_probability"].to_numpy()
    figures = {result["names"][role]: h for role, h in result["headline"].items()}
    figures["true probabilities"] = headline_metrics(y, p_true, seed=params.seed,
                                                     n_resamples=200)
    truth_h = figures["true probabilities"]
    main = result["headline"]["candidate_calibrated"]
    targets = {
        "auroc >= 0.97 x truth": main["auroc"] >= 0.97 * truth_h["auroc"],
        "brier <= 1.04 x truth": main["brier"] <= 1.04 * truth_h["brier"],
        "calibration slope 0.9-1.1": 0.9 <= main["calibration_slope"] <= 1.1,
        "ici <= 0.02": main["ici"] <= 0.02,
    }
    return {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
                   f"{__import__('os').cpu_count()} cores",
        "n_development": int(len(labelled)), "n_test": int(len(y)),
        "candidate": outcome.candidate,
        "cv_log_loss": {n: round(r.cv_log_loss, 4) for n, r in outcome.searches.items()},
        "train_seconds": round(train_seconds, 1),
        "ratios": {"auroc": round(main["auroc"] / truth_h["auroc"], 4),
                   "brier": round(main["brier"] / truth_h["brier"], 4)},
        "targets_met": targets,
        "figures": {name: {k: h[k] for k in ("auroc", "brier", "calibration_slope",
                                             "calibration_intercept", "ici")}
                    for name, h in figures.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--repeats", type=int, default=3,
                        help="independent cohort pairs (seeds seed, seed+100, ...)")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/quality.json"))
    args = parser.parse_args()
    runs = [run(args.patients, args.seed + 100 * i) for i in range(args.repeats)]
    ratios = {k: [r["ratios"][k] for r in runs] for k in ("auroc", "brier")}
    result = {
        "runs": runs,
        "median": {k: float(np.median(v)) for k, v in ratios.items()},
        "range": {k: [min(v), max(v)] for k, v in ratios.items()},
        "targets_met_in_runs": {t: sum(r["targets_met"][t] for r in runs)
                                for t in runs[0]["targets_met"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
