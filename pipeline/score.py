"""`txresponse score`: explained predictions and reports for new patients. Never retrains.

New patients pass the same de-identification gate and checks as training data, get the same
features (only what is known on the prediction day, so no endpoint is needed), and are scored
by exactly the model that was evaluated: by default the one the pipeline last trained, or any
MLflow model URI (`models:/<name>@champion`, `runs:/<id>/...`).

Any number of patients: the folder is split into chunks of whole patients (the gate and the
structural checks see every row first), each chunk is scored on its own and appended, and
reports are rendered only for the patients asked for. See pipeline/score_chunks.py.
"""
from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress

from models import tracking
from models.references import model_version, parse_model_uri
from models.registration import (is_evaluated, require_evaluated, run_is_evaluated,
                                 with_version)
from models.report.writer import write_reports
from models.bundle import ModelBundle, bundle_in_mlflow_model
from models.scoring import explanation_meta, write_scored
from pipeline.core.atomic import staged_folder, write_text
from pipeline.core.contract import contract_tables
from pipeline.core.errors import UserError
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries
from pipeline.report import parse_patient_ids
from pipeline.score_chunks import FORMATS, ScoringJob, run_chunks
from pipeline.validation.chunks import partition
from pipeline.validation.errors import StructuralError

console = Console(stderr=True)


def _from_mlflow(uri: str, into: Path) -> tuple[Path, dict, object]:
    """Download a logged model and find the saved ResponseModel folder inside it."""
    tracking.use_store()
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into)))
    except MlflowException as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
        raise UserError(
            f"cannot load {uri} from the tracking store {tracking.tracking_uri()}: {first}. "
            "A new model is registered with the alias 'candidate'; 'champion' exists only "
            "after `txresponse promote`. Use --model-dir for the model the pipeline last "
            "trained.") from None
    folder = bundle_in_mlflow_model(local)
    if folder is None:
        raise UserError(f"{uri} is not a txresponse model (its MLmodel names no model "
                        "artifact): log models with `txresponse train`")
    run = {"registered_model": None, "version": None, "run_id": None, "uri": uri}
    version = None
    reference = parse_model_uri(uri)
    if reference is not None:
        version = model_version(mlflow.MlflowClient(), reference)
        run |= {"registered_model": reference.name, "version": version.version,
                "run_id": version.run_id}
    elif uri.startswith("runs:/"):
        run["run_id"] = uri.removeprefix("runs:/").split("/", 1)[0]
    return folder, run, version


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = folder.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _local_run(model_dir: Path) -> tuple[dict, object]:
    """The train stage's run reference with the version its evaluation registered (if any)."""
    reference = model_dir / "mlflow_run.json"
    if not reference.is_file():
        raise UserError(f"no trained model in {model_dir} (no mlflow_run.json): run the "
                        "pipeline (dvc repro) or pass --model-uri")
    run = json.loads(reference.read_text(encoding="utf-8"))
    return with_version(tracking.store_client(), run)


def _differences_from_params(scoring: ModelBundle, params) -> list[str]:
    """Where configs/params.yaml now differs from what the model was built with: the model's own
    settings and target are used, and the user is told (never silently either way)."""
    current = params.feature_settings()
    changed = [k for k in sorted(scoring.feature_settings)
               if scoring.feature_settings[k] != current.get(k)]
    target = {"definition": params.target.definition, "instrument": params.target.instrument,
              "endpoint_window": list(params.target.endpoint_window),
              "min_reduction": params.target.min_reduction}
    changed += [f"target.{k}" for k in target if scoring.target.get(k) != target[k]]
    return changed


def _stop(error: StructuralError) -> typer.Exit:
    console.print(f"[bold red]score stopped[/] (exit {int(error.code)}):", highlight=False)
    console.print(str(error), highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(int(error.code))


def main(
    data: Path = typer.Option(..., "--data", help="Folder of contract tables for the new "
                              "patients (baseline data is enough)."),
    out: Path = typer.Option(..., "--out", help="Folder for predictions, explanations, "
                             "quarantine/ and patients/*.html."),
    model_uri: str = typer.Option(None, "--model-uri", help="MLflow model URI; default: the "
                                  "model the pipeline last trained (--model-dir)."),
    model_dir: Path = typer.Option(Path("artifacts/model"), "--model-dir",
                                   help="The train stage's output folder."),
    max_reports: int = typer.Option(1000, "--max-reports", min=0,
                                    help="Write at most this many patient reports (default: "
                                         "the first ones, in patients-table order)."),
    report_patients: str = typer.Option(None, "--patients",
                                        help="Comma-separated patient ids to write reports "
                                             "for, instead of the first --max-reports."),
    chunk_patients: int = typer.Option(50_000, "--chunk-patients", min=1,
                                       help="Patients validated and scored at a time; memory "
                                            "grows with this, not with the folder."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Processes scoring chunks in parallel (at most the "
                                     "number of CPU cores); each holds one chunk."),
    file_format: str = typer.Option("csv", "--format", help="csv or parquet (faster and "
                                    "smaller for large registries)."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
    config_dir: Path = typer.Option(Path("configs"), "--configs", help="Registries."),
    allow_unevaluated: bool = typer.Option(
        False, "--allow-unevaluated", help="Score with a model no evaluation has passed "
        "(refused by default: its figures were never measured)."),
) -> None:
    """Score new patients with the trained model: predictions, explanations and reports.

    The --out folder is replaced whole when the run succeeds (an interrupted run leaves the
    previous result); a second run into the same folder at the same time is refused."""
    if file_format not in FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")
    started = time.perf_counter()
    params, registries = load_params(params_file), load_registries(config_dir)
    wanted = parse_patient_ids(report_patients)
    tables = contract_tables(registries)
    # Everything, scratch copies of patient data included, is written inside the staged
    # folder beside --out: swapped in when complete, deleted on any error or signal (after
    # kill -9, by the next run into --out), never in the shared temporary folder.
    with staged_folder(out, "--out") as staging:
        scratch = staging / ".scratch"
        try:
            with console.status("Reading and checking every table"):
                split = partition(data, tables, scratch / "chunks", chunk_patients)
        except StructuralError as error:
            raise _stop(error) from None
        if wanted is not None:
            unknown = [i for i in wanted if i not in split.patient_ids]
            if unknown:  # checked before any scoring, so a typo costs nothing
                raise typer.BadParameter(
                    f"{len(unknown)} id(s) are not in the patients table: "
                    f"{', '.join(map(repr, unknown[:5]))}", param_hint="--patients")
        partition_seconds = time.perf_counter() - started

        if model_uri:
            model_folder, run, version = _from_mlflow(model_uri, scratch / "model")
        else:
            model_folder = model_dir / "candidate"
            before = _identity(model_dir)
            run, version = _local_run(model_dir)
        client = tracking.store_client()
        evaluated = is_evaluated(version) or (
            version is None and bool(run.get("run_id")) and client is not None
            and run_is_evaluated(client, run["run_id"]))
        require_evaluated(evaluated, f"the model {model_uri or model_dir}", allow_unevaluated)
        scoring = ModelBundle.load(model_folder)
        if not model_uri and _identity(model_dir) != before:
            # Train swaps its folder in whole: a new inode means the run reference and the
            # model files may come from different trainings.
            raise UserError(f"{model_dir} was replaced while it was being read (a training "
                            "run finished); run score again")
        changed = _differences_from_params(scoring, params)
        if changed:
            console.print(f"[yellow]configs/params.yaml differs from the model for "
                          f"{', '.join(changed)}: the model's own target and feature settings "
                          f"are used (it predicts {scoring.target['definition']} on the "
                          f"{scoring.target['instrument_label']}).[/yellow]", highlight=False)
        job = ScoringJob(
            partition=split, model_folder=model_folder, config_dir=config_dir,
            parts=scratch / "parts",
            file_format=file_format, report_ids=frozenset(wanted) if wanted else None,
            report_count=max_reports)
        with Progress(*Progress.get_default_columns(), console=console) as progress:
            task = progress.add_task(f"Scoring {len(split.patient_ids):,} patients",
                                     total=split.n_chunks)
            results = run_chunks(job, staging, workers,
                                 on_chunk=lambda _: progress.advance(task),
                                 loaded=job.load(scoring) if workers == 1 else None)
        meta = explanation_meta(scoring, run)
        meta["model"]["evaluated"] = evaluated
        meta["base_probability"] = next((r.base_probability for r in results
                                         if r.base_probability is not None), None)
        write_text(staging / "explanations_meta.json", json.dumps(meta, indent=2) + "\n")

        reports_started = time.perf_counter()
        written = _write_reports(results, meta, staging, wanted, max_reports, scratch)
        reports_seconds = time.perf_counter() - reports_started
        shutil.rmtree(scratch)

        summary = _summary(results, split, partition_seconds, reports_seconds,
                           time.perf_counter() - started, written, chunk_patients, workers,
                           file_format)
        summary["model_features_not_recorded"] = never_recorded(
            results, scoring.model.layout.order, scoring.labels)
        write_text(staging / "score_summary.json", json.dumps(summary, indent=2) + "\n")
    if summary["model_features_not_recorded"] and summary["patients"]:
        console.print(
            f"[yellow]The model uses {len(summary['model_features_not_recorded'])} "
            "characteristic(s) that none of these patients has (a column or table your "
            "export lacks?): " + ", ".join(summary["model_features_not_recorded"]) +
            ". Every report lists them as not recorded.[/yellow]", highlight=False)
    quarantined = sum(summary["quarantined"].values())
    where = f", see {out / 'quarantine'}/" if quarantined else ""
    console.print(f"Scored {summary['patients']:,} patients in {summary['chunks']:,} chunk(s) "
                  f"({quarantined:,} rows quarantined{where}); "
                  f"{summary['out_of_distribution']:,} flagged out of distribution; "
                  f"{summary['reports']:,} reports. Wrote {out}/ in "
                  f"{summary['seconds']['total']:.1f} s.", highlight=False)


def _write_reports(results, meta: dict, out: Path, wanted: list[str] | None,
                   max_reports: int, scratch: Path):
    """Reports from the rows kept while scoring: the first `max_reports` patients, or `wanted`
    (in the order given)."""
    predictions = pd.concat([r.report_predictions for r in results], ignore_index=True)
    if wanted is None:
        predictions = predictions.head(max_reports)
    else:
        # Asked-for patients whose rows were quarantined have no prediction: say how many
        # (never which: ids are not printed) and report on the others.
        scored = set(predictions["patient_id"])
        refused = [i for i in wanted if i not in scored]
        if refused:
            console.print(f"[yellow]{len(refused)} of the --patients were quarantined and have "
                          "no report; see quarantine/.[/yellow]", highlight=False)
        wanted = [i for i in wanted if i in scored]
        if not wanted:
            return None
    if not max_reports or predictions.empty:
        return None
    explanations = pd.concat([r.report_explanations for r in results], ignore_index=True)
    explanations = explanations[explanations["patient_id"].isin(predictions["patient_id"])]
    folder = scratch / "reports"
    write_scored(folder, predictions, explanations, meta)
    return write_reports(folder / "predictions.csv", folder / "explanations.csv",
                         folder / "explanations_meta.json", out / "patients",
                         patient_ids=wanted, max_patients=max_reports)


def never_recorded(results, model_features: list[str], labels: dict[str, str]) -> list[str]:
    """Model features no scored patient has, by their clinical label."""
    recorded = sum((r.recorded for r in results), Counter())
    return [labels.get(name, name) for name in model_features if not recorded.get(name)]


def _summary(results, split, partition_seconds: float, reports_seconds: float, total: float,
             written, chunk_patients: int, workers: int, file_format: str) -> dict:
    seconds = {"partition": partition_seconds}
    for phase in results[0].seconds if results else ():
        seconds[phase] = sum(r.seconds[phase] for r in results)
    seconds |= {"reports": reports_seconds, "total": total}
    rows_in = sum((r.rows_in for r in results), Counter())
    quarantined = sum((r.quarantined for r in results), Counter())
    return {
        "patients": sum(r.patients for r in results),
        "patients_in_table": len(split.patient_ids),
        "chunks": split.n_chunks, "chunk_patients": chunk_patients, "workers": workers,
        "format": file_format,
        "rows_in": {name: rows_in.get(name, 0) for name in split.rows_in},
        "rows_read": split.rows_in,
        "quarantined": {name: quarantined.get(name, 0) for name in split.rows_in},
        "out_of_distribution": sum(r.out_of_distribution for r in results),
        "reports": written.reports if written else 0,
        # Phases are summed over chunks; with several workers they overlap in time, so they
        # can add up to more than the total.
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
