"""`txresponse report`: one HTML report per patient for the psychiatrist, plus an index page,
from the explain stage's predictions, explanations and metadata."""
from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from models.report.inputs import ReportInputError
from models.report.writer import UnsafePatientId, write_reports
from pipeline.core.atomic import staged_folder

console = Console(stderr=True)


def parse_patient_ids(text: str | None) -> list[str] | None:
    """`--patients a,b,c` → ['a', 'b', 'c'] (each once, in order); None when not given."""
    if text is None:
        return None
    ids = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not ids:
        raise typer.BadParameter("give at least one patient id", param_hint="--patients")
    return ids


def main(
    predictions: Path = typer.Option(..., "--predictions", help="predictions.csv (explain)."),
    explanations: Path = typer.Option(..., "--explanations",
                                      help="explanations.csv, long format (explain)."),
    meta: Path = typer.Option(..., "--meta", help="explanations_meta.json (explain)."),
    out: Path = typer.Option(..., "--out", help="Folder for <patient_id>.html and index.html."),
    patients: str | None = typer.Option(None, "--patients",
                                        help="Comma-separated patient ids (default: the first "
                                             "--max-patients in predictions order)."),
    max_patients: int = typer.Option(1000, "--max-patients", min=1,
                                     help="Never render more reports than this."),
) -> None:
    """Write a self-contained, printable report per patient and an index of all of them."""
    started = time.perf_counter()
    try:
        # The folder is replaced whole: no report of an earlier run survives beside new ones.
        with staged_folder(out, "the reports") as staging:
            written = write_reports(predictions, explanations, meta, staging,
                                    patient_ids=parse_patient_ids(patients),
                                    max_patients=max_patients)
    except (ReportInputError, UnsafePatientId) as error:
        console.print(f"[red]Report failed:[/red] {error}", markup=True, highlight=False)
        raise typer.Exit(code=1) from error
    seconds = time.perf_counter() - started
    console.print(f"Wrote {written.reports:,} patient reports and {out / written.index.name} "
                  f"in {seconds:.1f} s.", highlight=False)
