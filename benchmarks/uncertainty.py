"""Uncertainty benchmark: what does the per-patient 95 % interval cover?

For each seed: simulate two independent development cohorts A and B and a test cohort, all
patients of the same clinics (one site seed, other patient seeds). Train on A with the default
params (bootstrap replicates included) and score the test patients. Report

  * coverage of the TRUE probability: the share of test patients whose simulated true
    probability lies inside their interval, overall and by decile of predicted probability,
    with the mean interval width;
  * coverage of what a bootstrap interval estimates, the variation from development cohort to
    development cohort: the share of test patients whose prediction from a model trained on B
    falls inside A's interval. B is trained twice: with the full default pipeline (its own
    search and choice of classifier), and as A's classifier with A's hyperparameters refit on B
    (exactly what each bootstrap replicate imitates). A and B are both estimates, so even a
    perfectly calibrated 95 % interval around A catches B only about 83 % of the time
    (2 Phi(1.96 / sqrt 2) - 1, Cumming & Maillardet 2006); the share within the interval
    widened by sqrt 2 about its centre should be about 95 %, and `spread_ratio` (cohort-to-
    cohort spread / bootstrap spread) about 1;
  * coverage of the REACHABLE probability, E[true probability | the features the clinic
    recorded], approximated by a large regression fitted on the true probabilities of a big
    cohort: the most any model of these features can estimate.

The range is named for what it measures (an "estimation range", docs/explanations.md), and what
this benchmark measured is quoted to clinicians and reviewers: the summary `measured_coverage`
(one entry per development-cohort size) is copied into `MEASURED_COVERAGE` in
models/uncertainty.py, from where the explanation meta (clinician reports) and the evaluate
stage (model card) take it; a test checks that the two agree. Run at the demo's size (1,500
simulated patients, about 1,330 labelled) and at 3,000, five seeds each.

A benchmark, not a test: it prints and records, it does not assert.

    .venv/bin/python -m benchmarks.uncertainty [--development 3000 1500] [--test 5000] [--seeds 5]
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from benchmarks.explain import machine
from benchmarks.quality import SITE_SEED, cohort
from models.artifact import ResponseModel
from models.calibration import fit_calibrator
from models.factory import make_classifier
from models.layout import FeatureLayout
from models.scoring import INTERVAL_LEVEL
from models.split import DEVELOPMENT
from models.training import development_data, train
from models.scoring import probability_interval
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries

# A calibrated 95 % interval around one estimate catches an independent estimate this often.
REPLICATION_COVERAGE = float(2 * norm.cdf(norm.ppf(0.975) / np.sqrt(2)) - 1)


def _split(labels: pd.DataFrame) -> pd.DataFrame:
    labelled = labels[labels["label"].notna()]
    return pd.DataFrame({"patient_id": labelled["patient_id"], "set": DEVELOPMENT})


def _train(features, labels, params, replicates: int):
    return train(features, labels, _split(labels), model=params.train.model,
                 calibrator=params.train.calibrator, cv_folds=params.train.cv_folds,
                 search_budget=params.train.search_budget, seed=params.seed,
                 uncertainty_replicates=replicates)


def refit_same_spec(model: ResponseModel, features, labels, params) -> ResponseModel:
    """A's classifier and hyperparameters on B, calibrated by cross-fitting as in train()."""
    dev, y = development_data(features, labels, _split(labels))
    layout = FeatureLayout.fit(dev)
    X = layout.frame(dev)
    folds = list(StratifiedKFold(params.train.cv_folds, shuffle=True,
                                 random_state=params.seed).split(X, y))
    make = lambda: make_classifier(model.classifier, layout, params.seed,  # noqa: E731
                                   **model.hyperparameters)
    oof = cross_val_predict(make(), X, y, cv=folds, method="predict_proba")[:, 1]
    return ResponseModel(model.classifier, make().fit(X, y),
                         fit_calibrator(params.train.calibrator, y, oof), layout,
                         model.hyperparameters)


def reachable_model(n: int, seed: int, registries, params):
    """E[true probability | recorded features]: LightGBM regression on the true probability of
    a large cohort (the label is the truth, not a 0/1 outcome, so little data goes far)."""
    features, _, truth, _ = cohort(n, seed, registries, params)
    layout = FeatureLayout.fit(features)
    target = truth.set_index("patient_id").loc[features["patient_id"], "true_probability"]
    held_out = np.arange(n) >= int(0.8 * n)
    regressor = lgb.LGBMRegressor(n_estimators=800, learning_rate=0.03, num_leaves=31,
                                  min_child_samples=40, subsample=0.8, subsample_freq=1,
                                  colsample_bytree=0.8, random_state=seed, verbose=-1)
    X, y = layout.frame(features), target.to_numpy()
    regressor.fit(X[~held_out], y[~held_out])
    residual = y[held_out] - regressor.predict(X[held_out])
    quality = {"n": n, "seed": seed, "held_out_rmse": float(np.sqrt(np.mean(residual ** 2))),
               "held_out_r2": float(1 - residual.var() / y[held_out].var()),
               "true_probability_sd": float(y.std())}
    return (lambda f: np.clip(regressor.predict(layout.frame(f)), 0, 1)), quality


def inside(value, low, high) -> np.ndarray:
    return (value >= low) & (value <= high)


def run(n_development: int, n_test: int, seed: int, reachable, registries, params) -> dict:
    started = time.perf_counter()
    dev_a, labels_a, _, _ = cohort(n_development, seed, registries, params)
    dev_b, labels_b, _, _ = cohort(n_development, seed + 1, registries, params)
    test, test_labels, truth, _ = cohort(n_test, seed + 2, registries, params)
    a = _train(dev_a, labels_a, params, params.train.uncertainty_replicates)
    b = _train(dev_b, labels_b, params, 0)
    model_a = a.models[a.candidate]
    b_same = refit_same_spec(model_a, dev_b, labels_b, params)

    p_true = truth.set_index("patient_id").loc[test["patient_id"], "true_probability"].to_numpy()
    p_a = model_a.predict_proba(test)
    low, high = probability_interval(a.replicates, test, INTERVAL_LEVEL, centre=p_a)
    draws = np.vstack([r.predict_proba(test) for r in a.replicates])
    centre, half = (low + high) / 2, (high - low) / 2
    # The same spread as a normal interval about A's prediction on the probability scale,
    # for comparison with whatever form probability_interval takes.
    sd = draws.std(axis=0, ddof=1)
    z = norm.ppf(0.5 + INTERVAL_LEVEL / 2)
    normal_low, normal_high = p_a - z * sd, p_a + z * sd
    p_reach = reachable(test)

    def replication(p_b: np.ndarray) -> dict:
        return {"coverage": float(inside(p_b, low, high).mean()),
                "coverage_sqrt2_widened": float((np.abs(p_b - centre)
                                                 <= np.sqrt(2) * half).mean()),
                "coverage_normal_interval": float(inside(p_b, normal_low, normal_high).mean()),
                # Cohort-to-cohort spread of the estimate against the bootstrap's spread.
                "spread_ratio": float(np.sqrt(np.mean((p_a - p_b) ** 2) / 2
                                              / np.mean(draws.var(axis=0, ddof=1))))}

    decile = pd.qcut(p_a, 10, labels=False, duplicates="drop")
    by_decile = pd.DataFrame({"decile": decile + 1, "p": p_a, "truth": p_true,
                              "covered": inside(p_true, low, high), "width": high - low})
    by_decile = by_decile.groupby("decile").agg(
        n=("p", "size"), mean_predicted=("p", "mean"), mean_true=("truth", "mean"),
        coverage_true=("covered", "mean"), mean_width=("width", "mean")).round(4)

    frame = test.set_index("patient_id").loc[test["patient_id"]]
    genotyped, crp = frame["bdnf_met_alleles"].notna(), frame["crp_mg_l"].notna()
    covered = inside(p_true, low, high)
    labelled = test_labels.set_index("patient_id").loc[test["patient_id"], "label"].notna()
    baseline_day = test_labels.set_index("patient_id").loc[test["patient_id"], "baseline_day"]
    label = test_labels.set_index("patient_id").loc[test["patient_id"], "label"]
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))  # noqa: E731
    return {
        "seed": seed, "seconds": round(time.perf_counter() - started, 1),
        "n_development_labelled": [int(labels_a["label"].notna().sum()),
                                   int(labels_b["label"].notna().sum())],
        "n_test": int(n_test),
        "candidate_a": a.candidate, "candidate_b": b.candidate,
        "hyperparameters_a": model_a.hyperparameters,
        "hyperparameters_b": b.models[b.candidate].hyperparameters,
        "n_replicates": len(a.replicates),
        "coverage_true_probability": float(covered.mean()),
        "coverage_true_probability_labelled_only": float(covered[labelled.to_numpy()].mean()),
        "coverage_reachable_probability": float(inside(p_reach, low, high).mean()),
        "coverage_true_probability_normal_interval": float(
            inside(p_true, normal_low, normal_high).mean()),
        "half_width_over_bootstrap_sd": float(np.mean(half) / np.mean(sd)),
        "mean_bias": {"model_minus_true": float(np.mean(p_a - p_true)),
                      "model_minus_reachable": float(np.mean(p_a - p_reach))},
        "mean_width": float((high - low).mean()), "median_width": float(np.median(high - low)),
        "replication_b_default_pipeline": replication(b.models[b.candidate].predict_proba(test)),
        "replication_b_same_classifier_and_hyperparameters": replication(
            b_same.predict_proba(test)),
        "rms_error": {"model_vs_true": rms(p_a - p_true), "model_vs_reachable": rms(p_a - p_reach),
                      "reachable_vs_true": rms(p_reach - p_true),
                      "bootstrap_sd_mean": float(sd.mean())},
        "coverage_true_by_unmeasured_biomarkers": {
            "genotyped_and_crp_measured": {"share": float((genotyped & crp).mean()),
                                           "coverage": float(covered[genotyped & crp].mean())},
            "neither_measured": {"share": float((~genotyped & ~crp).mean()),
                                 "coverage": float(covered[~genotyped & ~crp].mean())},
        },
        "labels": {
            "labelled_share": float(labelled.mean()),
            "mean_true_probability_all": float(p_true.mean()),
            "mean_true_probability_labelled": float(p_true[labelled.to_numpy()].mean()),
            "observed_response_rate_labelled": float(label[labelled].astype(float).mean()),
            "baseline_from_screening_share": float((baseline_day[labelled] < 0).mean()),
        },
        "by_decile_of_predicted_probability": by_decile.reset_index().to_dict("records"),
    }


def notes(result: dict) -> list[str]:
    """Plain statements with this run's numbers (median over seeds where there are several)."""
    runs = result["runs"]
    med = lambda get: float(np.median([get(r) for r in runs]))  # noqa: E731
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    pts = lambda x: f"{100 * x:.1f} points"  # noqa: E731
    half = med(lambda r: r["mean_width"]) / 2
    both = med(lambda r: r["coverage_true_by_unmeasured_biomarkers"]
               ["genotyped_and_crp_measured"]["coverage"])
    neither = med(lambda r: r["coverage_true_by_unmeasured_biomarkers"]
                  ["neither_measured"]["coverage"])
    share_both = med(lambda r: r["coverage_true_by_unmeasured_biomarkers"]
                     ["genotyped_and_crp_measured"]["share"])
    share_neither = med(lambda r: r["coverage_true_by_unmeasured_biomarkers"]
                        ["neither_measured"]["share"])
    same = "replication_b_same_classifier_and_hyperparameters"
    default = "replication_b_default_pipeline"
    return [
        f"Coverage of the true probability is {pct(med(lambda r: r['coverage_true_probability']))}"
        f", not 95 %, and it is not meant to be: the interval expresses estimation uncertainty "
        f"(how much the answer depends on which patients were in the development cohort), "
        f"mean width {pts(2 * half)} (half-width {pts(half)}).",
        f"The true probability uses values the clinic never recorded: BDNF Met alleles (-0.5 "
        f"log-odds each) and CRP >= 3 mg/L (-0.4) enter the truth for every patient, but "
        f"only {pct(share_both)} of test patients have both a genotype and a CRP value on "
        f"record and {pct(share_neither)} have neither; the site's own offset (SD 0.3 "
        f"log-odds) is not a feature either. The true probability scatters around the best "
        f"any model of the recorded features can reach, E[truth | features] (a regression "
        f"fitted on the truth of {result['reachable_probability_model']['n']:,} simulated "
        f"patients), by RMS {pts(med(lambda r: r['rms_error']['reachable_vs_true']))}, "
        f"against the model's own error about that reachable probability of RMS "
        f"{pts(med(lambda r: r['rms_error']['model_vs_reachable']))}. No interval for the "
        f"estimate can shrink that first part, however large the cohort.",
        f"Accordingly, coverage of the true probability is {pct(both)} for patients with both "
        f"the genotype and CRP on record and {pct(neither)} for those with neither; coverage of "
        f"the reachable probability is "
        f"{pct(med(lambda r: r['coverage_reachable_probability']))}.",
        f"Labels: a patient's label is a single draw from the true probability, so a "
        f"{result['setup']['n_development']:,}-patient cohort pins each prediction down only "
        f"to within the interval above. Labels "
        f"exist only for completers ({pct(med(lambda r: r['labels']['labelled_share']))} of "
        f"test patients) and, in the simulator, completion depends on response: the model "
        f"learns response among completers. Observed response rate of labelled test patients "
        f"{pct(med(lambda r: r['labels']['observed_response_rate_labelled']))}, their mean "
        f"true probability {pct(med(lambda r: r['labels']['mean_true_probability_labelled']))}"
        f", all test patients' "
        f"{pct(med(lambda r: r['labels']['mean_true_probability_all']))}. For "
        f"{pct(med(lambda r: r['labels']['baseline_from_screening_share']))} of labelled "
        f"patients the baseline is a screening rating, not the day-0 score the truth used, so "
        f"their label can disagree with the latent response (label noise).",
        f"What the interval is for: a model trained on an independent development cohort B "
        f"from the same clinics lands inside A's interval for "
        f"{pct(med(lambda r: r[default]['coverage']))} of test patients (default pipeline on B, "
        f"its own search) and {pct(med(lambda r: r[same]['coverage']))} (A's classifier and "
        f"hyperparameters refit on B). Both A and B are estimates, so a perfectly calibrated "
        f"95 % interval around A catches B only about {pct(REPLICATION_COVERAGE)} of the time; "
        f"within the interval widened by sqrt 2 the shares are "
        f"{pct(med(lambda r: r[default]['coverage_sqrt2_widened']))} and "
        f"{pct(med(lambda r: r[same]['coverage_sqrt2_widened']))} (95 % if calibrated). "
        f"The cohort-to-cohort spread is {med(lambda r: r[same]['spread_ratio']):.2f} times "
        f"the bootstrap spread (same classifier and hyperparameters; "
        f"{med(lambda r: r[default]['spread_ratio']):.2f} with B's own search).",
        f"Interval form: the half-width is on average "
        f"{med(lambda r: r['half_width_over_bootstrap_sd']):.2f} bootstrap SDs of the "
        f"calibrated probability (1.96 for a normal 95 % interval; the 2.5th/97.5th "
        f"percentiles of 20 replicates, used before, gave 1.66: about a 90 % interval). "
        f"For comparison, A's prediction +- 1.96 bootstrap SDs on the probability scale "
        f"catches B for {pct(med(lambda r: r[default]['coverage_normal_interval']))} "
        f"(expected {pct(REPLICATION_COVERAGE)}) and the true probability for "
        f"{pct(med(lambda r: r['coverage_true_probability_normal_interval']))}.",
        f"Predictions sit above the truth on average by "
        f"{pts(med(lambda r: r['mean_bias']['model_minus_true']))} (above the reachable "
        f"probability by {pts(med(lambda r: r['mean_bias']['model_minus_reachable']))}), in "
        f"every decile: the model is calibrated to completers, among whom responders are "
        f"over-represented; this shift alone moves many true probabilities out of a "
        f"{pts(med(lambda r: r['mean_width']))}-wide interval.",
    ]


def measured_coverage(runs_by_size: dict[int, list[dict]], n_test: int, day: str) -> dict:
    """What models/uncertainty.py quotes (MEASURED_COVERAGE): per development size, the median
    over seeds (and the range) of each coverage."""
    by_size = []
    for size, runs in sorted(runs_by_size.items()):
        med = lambda get: round(float(np.median([get(r) for r in runs])), 3)  # noqa: E731
        true = [r["coverage_true_probability"] for r in runs]
        by_size.append({
            "n_development": size,
            "n_development_labelled": int(np.median([r["n_development_labelled"][0]
                                                     for r in runs])),
            "n_test": n_test, "repeats": len(runs),
            "true_probability": med(lambda r: r["coverage_true_probability"]),
            "true_probability_range": [round(min(true), 3), round(max(true), 3)],
            "reachable_probability": med(lambda r: r["coverage_reachable_probability"]),
            "independent_model": med(lambda r: r["replication_b_default_pipeline"]["coverage"]),
            "mean_width": med(lambda r: r["mean_width"]),
        })
    return {"what": "the calibrated prediction plus or minus 1.96 standard deviations of the "
                    "bootstrap refits' calibrated log-odds (chosen classifier and "
                    "hyperparameters kept)",
            "source": "benchmarks/uncertainty.py (docs/benchmarks.md)", "date": day,
            "replicates": runs_by_size[next(iter(runs_by_size))][0]["n_replicates"],
            "independent_model_expected": round(REPLICATION_COVERAGE, 3),
            "by_size": by_size}


def summary(result: dict) -> str:
    lines = [f"{'seed':>5} {'cand.':>9} {'cov. true':>9} {'cov. reach':>10} {'width':>6} "
             f"{'B in A':>7} {'B in A√2':>8} {'spread':>6} {'B* in A':>7} {'B* in A√2':>9} "
             f"{'spread*':>7}"]
    for r in result["runs"]:
        d = r["replication_b_default_pipeline"]
        s = r["replication_b_same_classifier_and_hyperparameters"]
        lines.append(f"{r['seed']:>5} {r['candidate_a']:>9} "
                     f"{r['coverage_true_probability']:>9.3f} "
                     f"{r['coverage_reachable_probability']:>10.3f} {r['mean_width']:>6.3f} "
                     f"{d['coverage']:>7.3f} {d['coverage_sqrt2_widened']:>8.3f} "
                     f"{d['spread_ratio']:>6.2f} {s['coverage']:>7.3f} "
                     f"{s['coverage_sqrt2_widened']:>9.3f} {s['spread_ratio']:>7.2f}")
    lines.append("B = model from the default pipeline on cohort B; B* = A's classifier and "
                 f"hyperparameters refit on B; a calibrated interval catches B about "
                 f"{REPLICATION_COVERAGE:.1%} of the time, B within the √2-widened interval "
                 "about 95 %")
    lines.append(f"{'decile':>6} {'n':>6} {'predicted':>9} {'true':>6} {'cov. true':>9} "
                 f"{'width':>6}   (pooled over seeds)")
    pooled = pd.DataFrame([row for r in result["runs"]
                           for row in r["by_decile_of_predicted_probability"]])
    for decile, g in pooled.groupby("decile"):
        w = g["n"] / g["n"].sum()
        lines.append(f"{decile:>6} {g['n'].sum():>6} {(g['mean_predicted'] * w).sum():>9.3f} "
                     f"{(g['mean_true'] * w).sum():>6.3f} {(g['coverage_true'] * w).sum():>9.3f} "
                     f"{(g['mean_width'] * w).sum():>6.3f}")
    for m in result["measured_coverage"]["by_size"]:
        lines.append(f"{m['n_development']:,} simulated development patients "
                     f"({m['n_development_labelled']:,} labelled), {m['repeats']} seeds: true "
                     f"probability inside {m['true_probability']:.1%} "
                     f"({m['true_probability_range'][0]:.1%}-{m['true_probability_range'][1]:.1%})"
                     f", reachable {m['reachable_probability']:.1%}, model B "
                     f"{m['independent_model']:.1%}, mean width {m['mean_width']:.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--development", type=int, nargs="+", default=[3000, 1500],
                        help="development cohort sizes (simulated patients); the first is the "
                             "one the per-seed table and notes describe")
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=401)
    parser.add_argument("--seeds", type=int, default=5,
                        help="independent repeats (seeds seed, seed+100, ...)")
    parser.add_argument("--reachable-patients", type=int, default=60000)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/uncertainty.json"))
    args = parser.parse_args()
    params, registries = load_params(), load_registries()
    reachable, reachable_quality = reachable_model(args.reachable_patients, 9001, registries,
                                                   params)
    runs_by_size: dict[int, list[dict]] = {}
    for size in args.development:
        runs_by_size[size] = []
        for i in range(args.seeds):
            runs_by_size[size].append(run(size, args.test, args.seed + 100 * i, reachable,
                                          registries, params))
            print(f"{size:,} patients, seed {runs_by_size[size][-1]['seed']} done in "
                  f"{runs_by_size[size][-1]['seconds']:.0f} s", flush=True)
    main_size = args.development[0]
    runs = runs_by_size[main_size]
    keys = ("coverage_true_probability", "coverage_reachable_probability", "mean_width")
    day = date.today().isoformat()
    result = {
        "date": day,
        "machine": machine(),
        "shared_machine_note": "the 2-core machine was shared with other work during this run "
                               "(timings only; the figures do not depend on it)",
        "setup": {"n_development": main_size, "n_test": args.test,
                  "site_seed": SITE_SEED, "interval_level": INTERVAL_LEVEL,
                  "uncertainty_replicates": params.train.uncertainty_replicates,
                  "calibrator": params.train.calibrator,
                  "expected_replication_coverage_if_calibrated": round(REPLICATION_COVERAGE, 4)},
        "reachable_probability_model": reachable_quality,
        "median_over_seeds": {k: float(np.median([r[k] for r in runs])) for k in keys},
        "runs": runs,
        "other_sizes": {str(size): {
            "median_over_seeds": {k: float(np.median([r[k] for r in size_runs])) for k in keys},
            "runs": size_runs} for size, size_runs in runs_by_size.items() if size != main_size},
        "measured_coverage": measured_coverage(runs_by_size, args.test, day),
    }
    result["notes"] = notes(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(summary(result))
    print("\n".join(result["notes"]))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
