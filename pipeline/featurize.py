"""`txresponse features`: one row of leakage-safe features per patient, and outcome labels."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from features.build import compute_features
from features.catalog import build_registry
from features.dictionary import dictionary_markdown, dictionary_rows
from features.estimand import apply_missing_endpoint, estimand_summary
from features.labels import make_labels
from features.records import known_on
from features.selection import unusable_features
from pipeline.core.atomic import staged_folder, write_text
from pipeline.core.contract import TABLE_NAMES
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries

console = Console(stderr=True)


def read_validated(folder: Path) -> dict[str, pd.DataFrame]:
    """The typed tables written by the validate stage; optional tables may be absent."""
    tables = {}
    for name in TABLE_NAMES:
        path = folder / f"{name}.parquet"
        if path.exists():
            tables[name] = pd.read_parquet(path)
    if "patients" not in tables or "assessments" not in tables:
        raise FileNotFoundError(f"{folder} lacks patients.parquet or assessments.parquet: "
                                "run `dvc repro validate` first")
    return tables


def summary(labels: pd.DataFrame, features: pd.DataFrame, left_out: dict[str, str],
            params, instrument) -> dict:
    labelled = labels["label"].notna()
    return {
        "patients": int(len(labels)),
        "labelled": int(labelled.sum()),
        "unlabelled": int((~labelled).sum()),
        "unlabelled_by_reason": {str(k): int(v) for k, v in
                                 labels["no_label_reason"].value_counts().sort_index().items()},
        "label_prevalence": round(float(labels.loc[labelled, "label"].mean()), 4)
        if labelled.any() else None,
        "features": int(features.shape[1] - 1),
        "model_features": int(features.shape[1] - 1 - len(left_out)),
        "left_out": left_out,
        "prediction_day": params.features.prediction_day,
        "target": {
            "instrument": params.target.instrument,
            "instrument_label": instrument.label,
            "remission_max": instrument.remission_max,
            "definition": params.target.definition,
            "baseline_window": list(params.target.baseline_window),
            "endpoint_window": list(params.target.endpoint_window),
            "min_reduction": params.target.min_reduction,
            "missing_endpoint": params.target.missing_endpoint,
        },
        "estimand": estimand_summary(labels, params.target.missing_endpoint,
                                     params.target.definition),
    }


def label_warnings(facts: dict, definition: str) -> list[str]:
    """What makes these labels unusable for training, said before `train` refuses."""
    if facts["labelled"] == 0:
        return [f"none of the {facts['patients']:,} patients has an outcome label (the reasons "
                "are counted in the features report): check target.instrument and the windows "
                "in the params file against the days of your ratings"]
    if facts["label_prevalence"] in (0.0, 1.0):
        share = "every" if facts["label_prevalence"] == 1.0 else "no"
        return [f"{share} labelled patient reached {definition}: a model needs patients with "
                "and without the outcome"]
    return []


def main(
    validated: Path = typer.Option(..., "--validated", help="Folder of validated tables "
                                   "(the validate stage's --out)."),
    out: Path = typer.Option(..., "--out", help="Folder for features.parquet and "
                             "labels.parquet."),
    report: Path = typer.Option(..., "--report", help="Summary JSON (counts, prevalence, "
                                "unlabelled by reason, dictionary)."),
    dictionary: Path = typer.Option(..., "--dictionary", help="Feature dictionary (Markdown)."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params",
                                     help="Params file."),
    config_dir: Path = typer.Option(Path("configs"), "--configs",
                                    help="Folder of the instrument, biomarker and covariate "
                                         "registries."),
) -> None:
    """Build the feature table (known on the prediction day) and outcome labels."""
    params = load_params(params_file)
    registries = load_registries(config_dir)
    if params.target.instrument not in registries.instruments:
        console.print(f"[red]target.instrument {params.target.instrument!r} is not in "
                      f"{config_dir}/instruments.yaml[/red]")
        raise typer.Exit(2)
    try:
        tables = read_validated(validated)
    except FileNotFoundError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    with console.status("Building features"):
        registry = build_registry(registries, params.target.instrument,
                                  params.target.baseline_window,
                                  params.features.biomarker_lookback_days)
        features = compute_features(known_on(tables, params.features.prediction_day), registry)
        try:
            labels = make_labels(tables["patients"]["patient_id"], tables["assessments"],
                                 registries.instruments[params.target.instrument],
                                 params.target.definition, params.target.baseline_window,
                                 params.target.endpoint_window, params.target.min_reduction)
            labels = apply_missing_endpoint(labels, params.target.missing_endpoint)
        except ValueError as error:  # a target the registry cannot support
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    # The train stage applies the same rule to its development patients (models/layout.py).
    labelled = features[features["patient_id"].isin(
        labels.loc[labels["label"].notna(), "patient_id"])]
    # With no labelled patient nothing can be judged: every feature stays (train refuses).
    left_out = unusable_features(labelled, who="labelled patients") if len(labelled) else {}
    facts = summary(labels, features, left_out, params,
                    registries.instruments[params.target.instrument])
    rows = dictionary_rows(registry, features, left_out)
    facts["dictionary"] = rows
    with staged_folder(out, "the features") as staging:  # everything, or nothing
        features.to_parquet(staging / "features.parquet", index=False)
        labels.to_parquet(staging / "labels.parquet", index=False)
        # What the tables mean, for the model artifact: train copies it into the model, so
        # the model says what it predicts and how its features were built (models/bundle.py).
        write_text(staging / "description.json", json.dumps(
            {"target": facts["target"], "feature_settings": params.feature_settings(),
             "dictionary": rows}, indent=2) + "\n")
    write_text(report, json.dumps(facts, indent=2) + "\n")
    write_text(dictionary, dictionary_markdown(rows, params.features.prediction_day,
                                               len(features)))
    for warning in label_warnings(facts, params.target.definition):
        console.print(f"[yellow]WARNING: {warning}[/yellow]")
    if left_out:
        names = list(left_out)
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        console.print(f"{len(left_out)} registered features left out (no information in this "
                      f"cohort): {shown}. See {dictionary}.")
    console.print(f"{facts['patients']:,} patients, {facts['model_features']} model features; "
                  f"{facts['labelled']:,} labelled (prevalence "
                  f"{100 * (facts['label_prevalence'] or 0):.1f} %), {facts['unlabelled']:,} "
                  f"without a label. Wrote {out}/ and {report}")
