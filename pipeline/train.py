"""`txresponse train`: split, tune, calibrate and refit the response classifiers; track the run
in MLflow and register the candidate."""
from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress

from features.labels import OUTCOME_WORDS
from models import registration, tracking
from models.bundle import ModelBundle, read_description
from models.feasibility import CannotTrain, check_labels, check_split, held_out_share
from models.split import split_patients
from models.training import TrainingOutcome, train, validation_steps
from models.validation_files import save_validation
from pipeline.core.atomic import staged_folder, write_text
from pipeline.core.params import Params, load_params
from pipeline.core.tables import read_sites

console = Console(stderr=True)


def _estimand(labels: pd.DataFrame, split: pd.DataFrame, params: Params) -> dict:
    """The estimand the model answers and how many of its patients it relabelled."""
    imputed = labels.set_index("patient_id")["endpoint_imputed"] \
        if "endpoint_imputed" in labels else pd.Series(dtype=bool)
    counts = {role: int(imputed.reindex(split.loc[split["set"] == role, "patient_id"])
                        .fillna(False).astype(bool).sum())
              for role in ("development", "test")}
    return {"missing_endpoint": params.target.missing_endpoint,
            "endpoint_counted_as_not_reached": counts}


def _training_summary(outcome: TrainingOutcome, params: Params, estimand: dict) -> dict:
    return {
        "estimand": estimand,
        "candidate": outcome.candidate,
        "comparator": outcome.comparator,
        "selection": "best calibrated cross-validated log loss" if params.train.model == "auto"
        else f"train.model = {params.train.model}",
        "validation": outcome.validation.summary if outcome.validation else None,
        "calibrator": params.train.calibrator,
        "exactly_additive": params.train.calibrator == "platt",
        "n_development": outcome.n_development,
        "features_used": list(outcome.layout.order),
        "features_left_out": dict(outcome.layout.excluded),
        "sample_size": outcome.sample_size.to_dict() if outcome.sample_size else None,
        "development_prevalence": round(outcome.development_prevalence, 4),
        "classifiers": {
            name: {"cv_log_loss": round(r.cv_log_loss, 5), "cv_auroc": round(r.cv_auroc, 5),
                   "calibrated_cv_log_loss": round(outcome.calibrated_log_loss[name], 5),
                   "chosen_hyperparameters": r.best, "search_space": r.space,
                   "candidates": r.candidates,
                   "calibrator": outcome.models[name].calibrator.to_dict()}
            for name, r in outcome.searches.items()
        },
    }


def _sample_size_metrics(outcome: TrainingOutcome) -> dict[str, float]:
    """The Riley et al. figures as run metrics (numbers only; the reasons are in training.json)."""
    if outcome.sample_size is None:
        return {}
    a, r = outcome.sample_size, outcome.sample_size.requirement
    figures = {"actual_n": a.actual_n, "actual_events": a.actual_events,
               "required_n": r.n, "required_events": r.events_required,
               "candidate_parameters": r.parameters, "anticipated_r2_cox_snell": r.r2_cox_snell}
    return {f"sample_size.{k}": float(v) for k, v in figures.items()
            if v is not None and np.isfinite(v)}


def sample_size_summary(outcome: TrainingOutcome) -> dict | None:
    """The figures a clinician report needs (the full assessment is in training.json)."""
    a = outcome.sample_size
    if a is None:
        return None
    return {"adequate": a.adequate, "actual_n": a.actual_n, "actual_events": a.actual_events,
            "required_n": a.requirement.n, "required_events": a.requirement.events_required,
            "reason": a.requirement.reason}


def sample_size_sentence(outcome: TrainingOutcome) -> str | None:
    """One line for the console when the cohort is below the minimum (or it cannot be told)."""
    a = outcome.sample_size
    if a is None or a.adequate:
        return None
    r = a.requirement
    if a.adequate is None:
        return f"Minimum sample size could not be computed: {r.reason}"
    return (f"WARNING: {a.actual_n:,} development patients ({a.actual_events:,} with the "
            f"outcome) are fewer than the {r.n:,} patients ({r.events_required:,} events) that "
            f"Riley et al.'s criteria need for {r.parameters} candidate parameters at a "
            f"cross-validated R² (Cox-Snell) of {r.r2_cox_snell:.3f}: expect overfitting; the "
            "model card says so.")


def _track(outcome: TrainingOutcome, summary: dict, params: Params, *, features: pd.DataFrame,
           features_path: Path, labels_path: Path, model_dir: Path, dvc_lock: Path) -> dict:
    experiment_id = tracking.configure(params.train.experiment)
    registration.close_abandoned_runs(mlflow.MlflowClient(), experiment_id)
    # Under `dvc exp run`, DVC names the experiment in DVC_EXP_NAME: the tag links the DVC
    # experiment (dvc exp show, metrics diff) to this MLflow run.
    experiment = os.environ.get("DVC_EXP_NAME")
    run_name = f"{experiment or 'train'}-{outcome.candidate}"
    with mlflow.start_run(run_name=run_name, tags={
            "dvc.experiment": experiment or "workspace",
            "dvc.baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV", ""),
            registration.EVALUATED: "false", **registration.owner_tags()}) as run:
        mlflow.log_params({
            "seed": params.seed, "candidate": outcome.candidate,
            "train.model": params.train.model, "train.calibrator": params.train.calibrator,
            "train.cv_folds": params.train.cv_folds,
            "train.search_budget": params.train.search_budget,
            "train.uncertainty_replicates": params.train.uncertainty_replicates,
            "split.strategy": params.split.strategy,
            "split.folds": params.split.folds, "split.repeats": params.split.repeats,
            "split.resamples": params.split.resamples, "split.by_site": params.split.by_site,
            "split.test_fraction": params.split.test_fraction,
            "split.holdout_site": str(params.split.holdout_site),
            "features.prediction_day": params.features.prediction_day,
            "features.biomarker_lookback_days": params.features.biomarker_lookback_days,
            **{f"hp.{k}": v for k, v in outcome.searches[outcome.candidate].best.items()},
        })
        mlflow.log_metrics({f"cv_log_loss.{n}": r.cv_log_loss for n, r in
                            outcome.searches.items()}
                           | {f"cv_auroc.{n}": r.cv_auroc for n, r in outcome.searches.items()})
        mlflow.log_metrics(_sample_size_metrics(outcome))
        if outcome.sample_size is not None:
            mlflow.set_tag("sample_size.adequate", str(outcome.sample_size.adequate))
        tracking.log_lineage(features, features_path, labels_path, str(params.data.raw_dir),
                             params.target.model_dump(mode="json"), dvc_lock)
        for name, result in outcome.searches.items():
            with tracking.nested_run(f"search-{name}"):
                mlflow.log_params({f"hp.{k}": v for k, v in result.best.items()}
                                  | {"classifier": name})
                mlflow.log_metrics({"cv_log_loss": result.cv_log_loss,
                                    "cv_auroc": result.cv_auroc})
                mlflow.log_dict(summary["classifiers"][name], "search.json")
        mlflow.log_dict(summary, "training.json")
        model_uri = tracking.log_response_model(outcome.models[outcome.candidate],
                                                model_dir / "candidate")
        # No version yet: the evaluate stage registers the model once it is evaluated.
        return {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
                "registered_model": params.train.registered_model, "model_uri": model_uri,
                "version_tags": tracking.version_tags(outcome.models[outcome.candidate])}


def _refuse(error: Exception) -> None:
    console.print(f"[red]train stopped: {error}[/red]")
    raise typer.Exit(2) from None


def main(
    features_dir: Path = typer.Option(..., "--features", help="Folder with features.parquet "
                                      "and labels.parquet (the features stage's --out)."),
    validated: Path = typer.Option(..., "--validated", help="Validated tables (for sites)."),
    out: Path = typer.Option(..., "--out", help="Folder for the fitted models, the split and "
                             "the MLflow run reference."),
    report: Path = typer.Option(..., "--report", help="Training summary JSON."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
    dvc_lock: Path = typer.Option(Path("dvc.lock"), "--dvc-lock",
                                  help="dvc.lock, for the data lineage of the run."),
) -> None:
    """Develop, calibrate and validate the response classifier; log it to MLflow.

    Tunes LightGBM, a spline logistic regression and an explainable boosting machine by
    cross-validation, calibrates each on its out-of-fold predictions, chooses by calibrated
    log loss and refits (on every labelled patient with a resampling strategy), then repeats
    that whole procedure inside the validation (split.strategy) and once per left-out site.
    The evaluate stage registers the model.
    """
    params = load_params(params_file)
    features_path, labels_path = features_dir / "features.parquet", features_dir / "labels.parquet"
    features, labels = pd.read_parquet(features_path), pd.read_parquet(labels_path)
    sites = read_sites(validated)
    outcome = OUTCOME_WORDS[params.target.definition]["holders"]
    plan = params.split
    try:
        share, how = held_out_share(plan.strategy, plan.test_fraction, plan.folds)
        check_labels(labels["label"], params.train.cv_folds, share, outcome, how)
        split = split_patients(labels, sites, plan.test_fraction, params.seed,
                               plan.holdout_site, plan.strategy)
        check_split(split, labels, params.train.cv_folds, outcome)
    except ValueError as error:
        _refuse(error)
    description = read_description(features_dir)  # what the model will say it predicts

    # One step per development (the deployed model's and each validating one) and per
    # bootstrap refit.
    n_sites = 0 if sites is None or not plan.by_site else int(
        sites.reindex(split["patient_id"]).dropna().nunique())
    steps = (1 + params.train.uncertainty_replicates + validation_steps(plan.strategy, plan.folds, plan.repeats, plan.resamples,
                                n_sites))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Developing the model, then validating its procedure",
                                 total=steps)
        try:
            outcome = train(features, labels, split, model=params.train.model,
                            calibrator=params.train.calibrator, cv_folds=params.train.cv_folds,
                            search_budget=params.train.search_budget, seed=params.seed,
                            uncertainty_replicates=params.train.uncertainty_replicates,
                            progress=lambda: progress.advance(task),
                            kinds={row["name"]: row["kind"] for row in description["dictionary"]},
                            strategy=plan.strategy, folds=plan.folds, repeats=plan.repeats,
                            resamples=plan.resamples, sites=sites, by_site=plan.by_site,
                            workers=params.train.workers)
        except CannotTrain as error:
            _refuse(error)
    if plan.strategy == "holdout":
        outcome.validation.summary |= {"test_fraction": plan.test_fraction,
                                       "holdout_site": plan.holdout_site}

    # The model, its split and its run reference appear together or not at all: a run killed
    # here leaves the previous model folder (DVC then re-runs the stage).
    with staged_folder(out, "the model folder") as staging:
        split.to_parquet(staging / "split.parquet", index=False)
        # The candidate is saved as the model artifact: with what it predicts, how its
        # features are built and what they are called, so that scoring never reads them
        # from configuration that may have changed since (models/bundle.py).
        ModelBundle(model=outcome.models[outcome.candidate], target=description["target"],
                    feature_settings=description["feature_settings"],
                    dictionary=description["dictionary"], replicates=outcome.replicates,
                    domain=outcome.domain,
                    # Every report of this model says when its cohort was below the minimum.
                    sample_size=sample_size_summary(outcome)).save(staging / "candidate")
        outcome.models[outcome.comparator].save(staging / "comparator")
        save_validation(outcome.validation, staging)
        summary = _training_summary(outcome, params, _estimand(labels, split, params))
        run = _track(outcome, summary, params, features=features, features_path=features_path,
                     labels_path=labels_path, model_dir=staging, dvc_lock=dvc_lock)
        write_text(staging / "mlflow_run.json", json.dumps(run, indent=2) + "\n")
    # The run id stays out of the report: the report must be identical for identical inputs.
    write_text(report, json.dumps(summary, indent=2, default=str) + "\n")
    warning = sample_size_sentence(outcome)
    if warning:
        console.print(f"[yellow]{warning}[/yellow]")
    console.print(f"Candidate: {outcome.candidate} (cv log loss "
                  f"{outcome.searches[outcome.candidate].cv_log_loss:.4f}); comparator "
                  f"{outcome.comparator}. Logged to run {run['run_id'][:8]}; the evaluate stage "
                  f"registers it in {run['registered_model']} as 'candidate'.")
