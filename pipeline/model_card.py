"""`txresponse model-card`: the model card of a training run (Markdown and self-contained HTML),
with a TRIPOD+AI checklist; both files are also logged to the run under `model_card/`.

The card only renders: every interval on it was computed by the evaluate stage. A metrics.json
without them (written before evaluate recorded every interval) is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from rich.console import Console
from rich.text import Text

from models import tracking
from models.governance.card import CardInputs, card_context, missing_intervals
from models.governance.render import render_html, render_markdown
from models.registration import with_version
from pipeline.core.atomic import write_text
from pipeline.core.params import load_params
from pipeline.core.tables import read_sites

console = Console(stderr=True)
_DAY_COLUMNS = {"assessments": "day", "sessions": "day", "biomarkers": "day",
                "treatments": "start_day"}


def _json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _from_validated(folder: Path) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Patients per site and each table's first and last day (aggregates only)."""
    site = read_sites(folder)
    sites = {} if site is None else \
        {str(k): int(v) for k, v in site.fillna("missing").value_counts().items()}
    days = {}
    for table, column in _DAY_COLUMNS.items():
        path = folder / f"{table}.parquet"
        if path.exists():
            values = pd.read_parquet(path, columns=[column])[column].dropna()
            if len(values):
                days[table] = (int(values.min()), int(values.max()))
    return sites, days


def main(
    run_ref: Path = typer.Option(..., "--run-ref", help="The train stage's mlflow_run.json."),
    metrics: Path = typer.Option(..., "--metrics", help="reports/metrics.json."),
    evaluation: Path = typer.Option(..., "--evaluation", help="reports/evaluation.json."),
    features: Path = typer.Option(..., "--features", help="reports/features.json."),
    training: Path = typer.Option(..., "--training", help="reports/training.json."),
    validation: Path = typer.Option(..., "--validation", help="Validation report.json."),
    out: Path = typer.Option(..., "--out", help="Markdown card; the .html is written beside."),
    validated: Path = typer.Option(None, "--validated", help="Validated tables: sites and "
                                   "observed days of the whole cohort (else: test sites)."),
    data_origin: str = typer.Option(None, "--data-origin",
                                    help="simulated | real (the limitations differ); default: "
                                         "data.origin in the params file."),
    log: bool = typer.Option(True, "--log/--no-log", help="Log the card to the MLflow run."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params",
                                     help="Params (data.origin)."),
) -> None:
    """Write the model card (Markdown and HTML) of a training run and log it to the run."""
    if data_origin is None:
        data_origin = load_params(params_file).data.origin if params_file.exists() else "real"
    if data_origin not in ("simulated", "real"):
        raise typer.BadParameter("must be simulated or real", param_hint="--data-origin")
    metrics_document = _json(metrics)
    missing = missing_intervals(metrics_document)
    if missing:
        console.print(Text(f"{metrics} has no interval for {', '.join(missing)} (evaluated "
                           "before the evaluate stage recorded every interval): run `txresponse "
                           "evaluate` (dvc repro evaluate) again, then the card.", style="red"),
                      soft_wrap=True)
        raise typer.Exit(2)
    run = _json(run_ref)
    tracking.use_store()
    client = MlflowClient()
    run, _ = with_version(client, run)
    try:
        recorded = client.get_run(run["run_id"])
        tags, params = recorded.data.tags, recorded.data.params
    except MlflowException:
        if log:
            console.print(f"[red]Run {run['run_id']} is not in the tracking store "
                          f"{tracking.tracking_uri()}; use --no-log to write the card only.[/red]")
            raise typer.Exit(2) from None
        tags, params = {}, {}
    sites, days = _from_validated(validated) if validated else (None, None)
    inputs = CardInputs(run=run, metrics=metrics_document, evaluation=_json(evaluation),
                        features=_json(features), training=_json(training),
                        validation=_json(validation), run_tags=tags, run_params=params,
                        sites=sites, observed_days=days, data_origin=data_origin)
    context = card_context(inputs)
    html = out.with_suffix(".html")
    write_text(out, render_markdown(context))
    write_text(html, render_html(context))
    if log:
        for path in (out, html):
            client.log_artifact(run["run_id"], str(path), "model_card")
    console.print(f"Model card: {out} and {html}"
                  + (f"; logged to run {run['run_id'][:8]} under model_card/" if log else ""))
