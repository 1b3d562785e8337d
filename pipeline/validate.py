"""`txresponse validate`: decide which raw rows the pipeline may trust (docs/validation.md).

Reads the raw tables as text, refuses identifiers and broken files (structural errors stop the
stage with a documented exit code and no traceback), sends failing rows whole and unchanged to
quarantine, writes the passed rows typed to Parquet, and reports the counts.
"""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from pipeline.core.atomic import staged_folder, write_text
from pipeline.core.escaping import write_csv
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries
from pipeline.core.schemas import contract_schemas
from pipeline.validation.errors import ExitCode, StructuralError
from pipeline.validation.quarantine import TableOutcome
from pipeline.validation.report import render_html
from pipeline.validation.run import validate_folder

console = Console(stderr=True)


def _write_report(report: dict, folder: Path) -> None:
    write_text(folder / "report.json", json.dumps(report, indent=2) + "\n")
    write_text(folder / "report.html", render_html(report))


def _write_quarantine(outcomes: dict[str, TableOutcome], out: Path) -> None:
    for name, outcome in outcomes.items():
        if outcome.file is not None:
            write_csv(outcome.quarantined, out / "quarantine" / f"{name}.csv")


def main(
    raw: Path = typer.Option(..., "--raw", help="Folder of raw contract tables (data.raw_dir)."),
    out: Path = typer.Option(..., "--out", help="Folder for <table>.parquet (passed rows) and "
                             "quarantine/<table>.csv (failed rows)."),
    report: Path = typer.Option(..., "--report", help="Folder for report.json and report.html."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params",
                                     help="Params file (reads validate.max_quarantine_fraction)."),
    config_dir: Path = typer.Option(Path("configs"), "--configs",
                                    help="Folder of the instrument, biomarker and covariate "
                                         "registries."),
) -> None:
    """Validate raw tables against the data contract, quarantining bad rows.

    De-identification gate, schema and cross-table checks, quarantine with reasons, and a
    report. Exit codes: docs/validation.md.
    """
    max_fraction = load_params(params_file).validation.max_quarantine_fraction
    registries = load_registries(config_dir)
    schemas = contract_schemas(registries)
    try:
        with console.status(f"Validating {raw}"):
            # The gate runs inside, before anything is written.
            outcomes, summary = validate_folder(raw, registries, max_fraction)
            # The report comes first, so a stage stopped for too much quarantine still shows
            # why. The folder of validated tables and quarantine is replaced whole, and only
            # when every table is written: no table of an earlier run survives beside new ones.
            _write_report(summary, report)
            with staged_folder(out, "the validated tables") as staging:
                _write_quarantine(outcomes, staging)
                over_limit = summary["tables_over_limit"]
                if not over_limit:
                    for name, outcome in outcomes.items():
                        schemas[name].validate(outcome.passed)  # the hand-off obeys the contract
                        outcome.passed.to_parquet(staging / f"{name}.parquet", index=False)
            if over_limit:
                raise StructuralError.one(
                    ExitCode.TOO_MUCH_QUARANTINED, ", ".join(over_limit), None,
                    f"more than {max_fraction:.0%} of the rows were quarantined",
                    f"Read {report / 'report.html'} and {out / 'quarantine'}/, fix the export, "
                    "or raise validate.max_quarantine_fraction in configs/params.yaml.")
    except StructuralError as error:
        console.print(f"[bold red]validate stopped[/] (exit {int(error.code)}):",
                      highlight=False)
        console.print(str(error), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(int(error.code)) from None
    for name, t in summary["tables"].items():
        if t["supplied"]:
            console.print(f"  {name:<12} {t['rows_in']:>8,} in  {t['passed']:>8,} passed  "
                          f"{t['quarantined']:>6,} quarantined", highlight=False)
    console.print(f"Wrote {out}/ and {report}/report.html", highlight=False)
