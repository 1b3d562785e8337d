"""`txresponse evaluate`: test-set performance of the candidate (calibrated and not) and the
comparator, with intervals, calibration, decision curves and subgroups; logged to the training
run in MLflow."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import typer
from rich.console import Console

from models import figures, registration, tracking
from models.artifact import ResponseModel
from models.bundle import ModelBundle, read_description, require_same_target
from models.evaluation import evaluate, evaluate_predictions, evaluation_set, role_names, test_set
from models.optimism import BootstrapFit, optimism_corrected
from models.site_validation import site_performance, summary_sentences
from models.validation_files import Validated, load_validation
from models.metrics import INTERVAL_METHOD
from models.plot_data import calibration_points, decision_points, roc_points
from models.subgroups import PoorSubgroupRule
from pipeline.core.atomic import staged_folder, write_text
from pipeline.core.escaping import write_csv
from pipeline.core.params import load_params
from pipeline.core.tables import read_sites

console = Console(stderr=True)


def _metrics_document(result: dict, candidate: ResponseModel, target: dict,
                      validated: Validated, sites: dict | None) -> dict:
    """reports/metrics.json: the calibrated candidate's headline figures at the top level (what
    `dvc metrics show` prints), each compared model under `models`, how the figures were
    estimated under `validation`, and the leave-one-site-out summary under `by_site`."""
    document = {
        **result["headline"]["candidate_calibrated"],
        "model": {
            "classifier": candidate.classifier,
            "calibrator": candidate.calibrator.method,
            "exactly_additive": candidate.calibrator.exactly_additive,
            "target": f"{target['definition']} on {target['instrument']}",
            "split": validation_method(validated, candidate),
        },
        "validation": validation_summary(validated, result),
        "models": {result["names"][role]: figures_ for role, figures_ in
                   result["headline"].items()},
    }
    if sites is not None:
        document["by_site"] = {"pooled": sites["pooled"], "method": sites["method"],
                               "sites": len(sites["sites"])}
    return document


def validation_method(validated: Validated, candidate: ResponseModel) -> str:
    """One sentence: how the reported figures were estimated (model card, metrics.json)."""
    summary, n = validated.summary, candidate.info.get("n_development")
    deployed = (f"the deployed model was developed on all {n:,} labelled patients"
                if n else "the deployed model was developed on all labelled patients")
    if validated.strategy == "cross_validation":
        repeats = summary.get("repeats", 1)
        return (f"{summary['folds']}-fold cross-validation"
                + (f" repeated {repeats} times" if repeats > 1 else "")
                + " of the whole development procedure (feature selection, classifier choice, "
                "hyperparameters, calibration); every figure is from out-of-fold predictions"
                + (", averaged over repeats" if repeats > 1 else "") + f"; {deployed}")
    if validated.strategy == "bootstrap":
        return (f"Harrell's bootstrap optimism correction over {summary['resamples_used']} "
                "resamples of the whole development procedure: apparent figures minus the mean "
                f"optimism; per-patient outputs are out-of-bag predictions; {deployed}")
    split = summary.get("holdout_site")
    return (f"held-out site {split}" if split else "a held-out stratified test set") + \
        "; the deployed model was developed on the other labelled patients"


def validation_summary(validated: Validated, result: dict) -> dict:
    """The strategy, its settings and what the choice of classifier cost (reviewers)."""
    summary = {k: v for k, v in validated.summary.items() if k != "by_site"}
    if "optimism" in result:
        summary["optimism"] = result["optimism"]
    return summary


def _plain(value, digits: int = 4):
    """JSON-ready: floats rounded (NaN -> None), lists and tuples element-wise, numpy scalars
    as Python numbers."""
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, digits) for k, v in value.items()}
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), digits)
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


# How each interval in reports/metrics.json and reports/evaluation.json was made (the model card
# says so next to the figures).
INTERVALS = {
    "resampling": {name: method for name, (_, method) in INTERVAL_METHOD.items()} | {
        "thresholds": "patients", "net_benefit": "patients", "subgroups": "as the headline "
        "measure of the same name, within the subgroup"},
    "stratified": "responders and non-responders resampled separately, their counts kept",
    "patients": "patients resampled as drawn, so the response rate varies as in another sample",
    "kind": "percentile bootstrap, 95 %",
}


def details_document(result: dict) -> dict:
    """reports/evaluation.json: thresholds (with intervals), net benefit against treating all,
    subgroups (with intervals and the poor-subgroup judgement), the per-patient range, and how
    every interval was made."""
    return {
        "validation": result.get("validation"),
        "by_site": result.get("by_site"),
        "thresholds": _records(result["thresholds"]),
        "net_benefit": _records(result["net_benefit"]),
        "subgroups": _records(result["subgroups"]),
        "subgroups_skipped": result["subgroups_skipped"],
        "poor_subgroup_rule": result["poor_subgroup_rule"],
        "patient_interval": _plain(result["patient_interval"]),
        "intervals": INTERVALS | {"resamples": result["n_resamples"]},
    }


def validated_result(validated: Validated, candidate: ResponseModel, comparator: ResponseModel,
                     features: pd.DataFrame, labels: pd.DataFrame, split: pd.DataFrame,
                     sites: pd.Series | None, settings: dict, n_replicates: int) -> dict:
    """Every figure, estimated as the model's validation strategy says. No patient's figure
    or per-patient prediction comes from a model that learned from that patient, except the
    bootstrap's apparent figures, which are corrected by their estimated optimism."""
    names = role_names(candidate, comparator)
    common = dict(settings, n_replicates=n_replicates,
                  n_development=candidate.info.get("n_development"))
    if validated.strategy == "holdout":
        return evaluate(candidate, comparator, test_set(features, labels, split, sites),
                        **settings, n_replicates=n_replicates)
    oos = validated.out_of_sample
    ids = oos["patient_id"].to_numpy()
    evaluated = evaluation_set(features, labels, ids, sites)
    roles = list(names)
    if validated.strategy == "cross_validation":
        return evaluate_predictions({role: oos[role].to_numpy() for role in roles}, names,
                                    evaluated.y, ids, evaluated.groups,
                                    evaluated.skipped_groups, **common)
    # Bootstrap: the apparent figures of the deployed models on every labelled patient,
    # corrected by each resample's optimism; curves and per-patient rows are out-of-bag.
    apparent = evaluate_predictions(
        {"candidate_calibrated": candidate.predict_proba(evaluated.features),
         "candidate_uncalibrated": candidate.predict_uncalibrated(evaluated.features),
         "comparator_calibrated": comparator.predict_proba(evaluated.features)},
        names, evaluated.y, ids, evaluated.groups, evaluated.skipped_groups, **common)
    corrected = optimism_corrected(apparent, evaluated.y, evaluated.groups,
                                   bootstrap_fits(validated.bootstrap, roles),
                                   thresholds=settings["thresholds"], min_n=settings["min_n"],
                                   min_events=settings["min_events"], rule=settings["rule"])
    covered = oos["resamples_out_of_bag"].to_numpy() > 0
    out_of_bag = {role: oos[role].to_numpy()[covered] for role in roles}
    y_oob = evaluated.y[covered]
    corrected["curves"] = {role: {"roc": roc_points(y_oob, p),
                                  "calibration": calibration_points(y_oob, p),
                                  "decision": decision_points(y_oob, p)}
                           for role, p in out_of_bag.items()}
    corrected["predicted"] = out_of_bag
    corrected["predictions"] = pd.DataFrame({"patient_id": ids[covered], "label": y_oob,
                                             **out_of_bag})
    return corrected


def bootstrap_fits(frame: pd.DataFrame, roles: list[str]) -> list[BootstrapFit]:
    """The resamples' predictions (models/validation_files.py) as models/optimism.py takes
    them."""
    fits = []
    for _, rows in frame.groupby("resample", sort=True):
        drawn = rows[rows["set"] == "sample"]
        original = rows[rows["set"] == "original"].sort_values("row")
        fits.append(BootstrapFit(sample=drawn["row"].to_numpy(),
                                 on_sample={r: drawn[r].to_numpy() for r in roles},
                                 on_original={r: original[r].to_numpy() for r in roles}))
    return fits


def _write_outputs(result: dict, metrics: dict, metrics_path: Path, details_path: Path,
                   plots_dir: Path, figures_dir: Path, predictions_path: Path,
                   outcome: str) -> None:
    # Folders are replaced whole and files in one rename: a stopped run leaves the previous
    # evaluation or nothing, never curves of one model beside figures of another.
    with staged_folder(plots_dir, "the plot data") as staging:
        for role, curves in result["curves"].items():
            for curve, frame in curves.items():
                path = staging / curve / f"{role}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                frame.round(6).to_csv(path, index=False, lineterminator="\n")
    y = result["predictions"]["label"].to_numpy()
    curves = {result["names"][role]: (y, p) for role, p in result["predicted"].items()}
    with staged_folder(figures_dir, "the figures") as staging:
        figures.reliability_diagram(curves, staging / "reliability.png", outcome=outcome)
        figures.roc_curves(curves, staging / "roc.png")
        figures.decision_curves(curves, staging / "decision_curve.png", outcome=outcome)
    write_csv(result["predictions"].round(6), predictions_path)
    write_text(details_path, json.dumps(details_document(result), indent=2) + "\n")
    # The headline metrics last: DVC and reviewers read them as "the evaluation is complete".
    write_text(metrics_path, json.dumps(metrics, indent=2) + "\n")


def main(
    features_dir: Path = typer.Option(..., "--features", help="features.parquet/labels.parquet."),
    validated_dir: Path = typer.Option(..., "--validated",
                                       help="Validated tables (for sites)."),
    model_dir: Path = typer.Option(..., "--model", help="The train stage's --out folder."),
    metrics_path: Path = typer.Option(..., "--metrics", help="Headline metrics JSON."),
    details_path: Path = typer.Option(..., "--details", help="Thresholds and subgroups JSON."),
    plots_dir: Path = typer.Option(..., "--plots", help="Folder for DVC plot data (CSV)."),
    figures_dir: Path = typer.Option(..., "--figures", help="Folder for PNG figures."),
    predictions_path: Path = typer.Option(..., "--predictions",
                                          help="Test-set predictions CSV (pseudonymous ids)."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
    dictionary: Path = typer.Option(Path("reports/feature_dictionary.md"), "--dictionary",
                                    help="Feature dictionary, logged with the run."),
) -> None:
    """Evaluate the candidate and comparator on the held-out test patients.

    AUROC/AUPRC with bootstrap intervals (every measure for the calibrated candidate), Brier,
    calibration (intercept, slope, ICI, ECE), decision curves and net benefit against treating
    all, sensitivity/specificity/PPV/NPV at thresholds, and subgroups, all with intervals.
    """
    params = load_params(params_file)
    # The labels must mean what the model predicts (models/bundle.py).
    target = ModelBundle.read_target(model_dir / "candidate")
    require_same_target(target, read_description(features_dir)["target"], str(features_dir))
    candidate = ResponseModel.load(model_dir / "candidate")
    comparator = ResponseModel.load(model_dir / "comparator")
    validated = load_validation(model_dir)
    features = pd.read_parquet(features_dir / "features.parquet")
    labels = pd.read_parquet(features_dir / "labels.parquet")
    sites = read_sites(validated_dir)
    split = pd.read_parquet(model_dir / "split.parquet")
    rule = params.evaluate.poor_subgroup
    settings = {"seed": params.seed, "n_resamples": params.evaluate.bootstrap_resamples,
                "thresholds": params.evaluate.thresholds,
                "min_n": params.evaluate.min_subgroup_n,
                "min_events": params.evaluate.min_subgroup_events,
                "rule": PoorSubgroupRule(rule.min_auroc, tuple(rule.calibration_slope),
                                         rule.max_abs_calibration_intercept)}
    replicates = model_dir / "candidate" / "bootstrap"
    n_replicates = sum(1 for path in replicates.iterdir() if path.is_dir()) \
        if replicates.exists() else 0
    who = "test patients" if validated.strategy == "holdout" else \
        "labelled patients, each predicted by a procedure that never saw them"
    n_evaluated = int((split["set"] == "test").sum()) if validated.strategy == "holdout" \
        else len(validated.out_of_sample)
    with console.status(f"Evaluating on {n_evaluated:,} {who} "
                        f"({params.evaluate.bootstrap_resamples:,} bootstrap resamples)"):
        result = validated_result(validated, candidate, comparator, features, labels, split,
                                  sites, settings, n_replicates)
        site_figures = None
        if validated.by_site is not None and len(validated.by_site):
            site_figures = site_performance(validated.by_site["label"].to_numpy(),
                                            validated.by_site["candidate_calibrated"].to_numpy(),
                                            validated.by_site["site"].to_numpy())
            site_figures["sites_failed"] = validated.sites_failed
        result["by_site"] = site_figures
        result["validation"] = validation_summary(validated, result) | {
            "method": validation_method(validated, candidate)}
        metrics = _metrics_document(result, candidate, target, validated, site_figures)
        _write_outputs(result, metrics, metrics_path, details_path, plots_dir, figures_dir,
                       predictions_path, target["definition"])

    run = json.loads((model_dir / "mlflow_run.json").read_text(encoding="utf-8"))
    experiment_id = tracking.configure(params.train.experiment)
    client = mlflow.MlflowClient()
    registration.close_abandoned_runs(client, experiment_id)
    client.set_tag(run["run_id"], registration.PID, str(os.getpid()))
    with mlflow.start_run(run_id=run["run_id"]):
        for role, headline in result["headline"].items():
            for key, value in headline.items():
                if isinstance(value, list):
                    # A bound is None where no resample gave a value (tiny cohorts).
                    mlflow.log_metrics({f"{role}.{key}_{end}": bound for end, bound in
                                        zip(("low", "high"), value) if bound is not None})
                elif value is not None:
                    mlflow.log_metric(f"{role}.{key}", value)
        for row in result["net_benefit"].to_dict(orient="records"):
            key = f"candidate_calibrated.net_benefit_vs_treat_all_at_{row['threshold']:.2f}"
            if not math.isnan(row["net_benefit_vs_treat_all"]):
                mlflow.log_metric(key, row["net_benefit_vs_treat_all"])
        mlflow.log_artifact(str(metrics_path), "evaluation")
        mlflow.log_artifact(str(details_path), "evaluation")
        mlflow.log_param("validation.strategy", validated.strategy)
        if site_figures is not None:
            for measure, pooled in site_figures["pooled"].items():
                for key in ("estimate", "i2", "tau2"):
                    if isinstance(pooled, dict) and pooled.get(key) is not None:
                        mlflow.log_metric(f"by_site.{measure}.{key}", pooled[key])
        if params.evaluate.log_patient_predictions:
            mlflow.log_artifact(str(predictions_path), "evaluation")
        mlflow.set_tag(registration.PREDICTIONS_LOGGED,
                       str(params.evaluate.log_patient_predictions).lower())
        mlflow.log_artifacts(str(figures_dir), "figures")
        if dictionary.exists():
            mlflow.log_artifact(str(dictionary), "features")
    # Only now, with every figure logged, may the model be registered and called 'candidate'.
    version = registration.register_evaluated(client, run, run.get("version_tags", {}))
    h = metrics
    measured = {"holdout": "Test", "cross_validation": "Out-of-fold",
                "bootstrap": "Optimism-corrected"}[validated.strategy]
    console.print(f"{measured} AUROC {h['auroc']:.3f} (95 % CI {h['auroc_ci'][0]:.3f}-"
                  f"{h['auroc_ci'][1]:.3f}), Brier {h['brier']:.3f}, calibration slope "
                  f"{h['calibration_slope']:.2f}, ICI {h['ici']:.3f} on {h['n_test']} patients. "
                  f"Registered {version.name} version {version.version} as 'candidate'.",
                  highlight=False)
    if site_figures is not None:
        for line in summary_sentences(site_figures):
            console.print(line, highlight=False)
