"""Estimand benchmark: how far is each `target.missing_endpoint` rule from the truth?

The simulator knows each patient's true probability of response and makes non-responders stop
the course more often (docs/simulator.md). For each seed, a development and an independent test
cohort from the same clinics are simulated; the model is trained twice on the development
cohort, once per rule, and both are compared with the truth on *every* test patient who starts
the course (the patient a clinician is deciding about), whether or not they were later rated.
A benchmark, not a test: it prints and records, it does not assert.

    .venv/bin/python -m benchmarks.estimand [--patients 3000] [--seeds 3] \
        [--out docs/benchmarks/estimand.json]
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

from benchmarks.quality import cohort
from features.estimand import MISSING_ENDPOINT_RULES, apply_missing_endpoint
from models.split import DEVELOPMENT
from models.training import train
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries

SEARCH_BUDGET = 6  # fewer candidates than the default 12: the rules differ in labels, not tuning


def _fit(features, labels, params, rule: str):
    labels = apply_missing_endpoint(labels, rule)
    labelled = labels[labels["label"].notna()]
    split = pd.DataFrame({"patient_id": labelled["patient_id"], "set": DEVELOPMENT})
    outcome = train(features, labels, split, model=params.train.model,
                    calibrator=params.train.calibrator, cv_folds=params.train.cv_folds,
                    search_budget=SEARCH_BUDGET, seed=params.seed)
    return outcome.models[outcome.candidate], labels


def run_seed(n_patients: int, seed: int, params, registries) -> dict:
    dev_features, dev_labels, _, _ = cohort(n_patients, seed, registries, params)
    test_features, test_labels, truth, _ = cohort(n_patients, seed + 1, registries, params)
    truth = truth.set_index("patient_id")["true_probability"]
    # Everyone who starts the course and has a baseline (without one nobody is labelled).
    starters = test_labels.loc[test_labels["baseline_score"].notna(), "patient_id"]
    rated = test_labels.loc[test_labels["label"].notna(), "patient_id"]
    rows = test_features.set_index("patient_id")
    result = {"seed": seed, "test_starters": int(len(starters)),
              "test_rated": int(len(rated)),
              "true_rate_starters": round(float(truth.loc[starters].mean()), 4),
              "true_rate_rated": round(float(truth.loc[rated].mean()), 4),
              "observed_rate_rated": round(float(test_labels.set_index("patient_id")
                                                 .loc[rated, "label"].mean()), 4),
              "rules": {}}
    for rule in MISSING_ENDPOINT_RULES:
        model, labels = _fit(dev_features, dev_labels, params, rule)
        predicted = model.predict_proba(rows.loc[starters].reset_index())
        gap = predicted - truth.loc[starters].to_numpy()
        result["rules"][rule] = {
            "development_labelled": int(labels["label"].notna().sum()),
            "development_prevalence": round(float(labels["label"].mean()), 4),
            "mean_predicted_starters": round(float(predicted.mean()), 4),
            "bias_points": round(100 * float(gap.mean()), 2),
            "mean_absolute_error_points": round(100 * float(np.abs(gap).mean()), 2),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/estimand.json"))
    args = parser.parse_args()
    params, registries = load_params(), load_registries()
    started = time.perf_counter()
    seeds = [run_seed(args.patients, 7000 + 10 * k, params, registries)
             for k in range(args.seeds)]
    record = {
        "benchmark": "estimand", "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "patients_per_cohort": args.patients, "search_budget": SEARCH_BUDGET,
        "seconds": round(time.perf_counter() - started, 1), "seeds": seeds,
        "summary": {rule: {k: round(float(np.mean([s["rules"][rule][k] for s in seeds])), 2)
                           for k in ("bias_points", "mean_absolute_error_points")}
                    for rule in MISSING_ENDPOINT_RULES},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record["summary"], indent=2))


if __name__ == "__main__":
    main()
