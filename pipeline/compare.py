"""`txresponse compare`: put training runs side by side for a model reviewer, with paired
statistics where the runs share their test patients and unpaired ones, said to be unpaired,
where they cannot be paired. Never trains or changes anything. References, evidence, pairing,
statistics and the subgroup margins (configs/promotion.yaml) are the review core `promote` uses
too (models/review).

Artifacts (test predictions hold pseudonymous patient-level rows) are downloaded into a private
folder beside --out, removed once the runs are read: never into the shared temporary folder."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import typer
from mlflow import MlflowClient
from rich.console import Console
from rich.text import Text

from models import tracking
from models.comparison.render import render_html, render_markdown
from models.comparison.view import comparison_view
from models.references import UnknownReference, resolve
from models.review.config import (DEFAULT_FILE, CriteriaError, PromotionCriteria,
                                  read_criteria)
from models.review.evidence import load_run, private_folder

console = Console(stderr=True)


def _shown_store(uri: str) -> str:
    """The tracking URI without any user name or password in it."""
    parts = urlsplit(uri)
    if not (parts.username or parts.password):
        return uri  # unchanged: urlunsplit would drop a slash from sqlite:///abs/path
    return urlunsplit(parts._replace(netloc=(parts.hostname or "")
                                     + (f":{parts.port}" if parts.port else "")))


def _margins(path: Path) -> tuple[PromotionCriteria, str]:
    """The reviewers' file and where it came from: `path`, or its defaults when the default file
    (configs/promotion.yaml, in the project folder) is not there, said on the terminal."""
    if not path.exists() and path.parts[-2:] == DEFAULT_FILE.parts:
        defaults = PromotionCriteria()
        console.print(f"No {DEFAULT_FILE}: subgroup margins are the defaults (AUROC "
                      f"{defaults.subgroup_auroc_margin}, ICI {defaults.subgroup_ici_margin}).",
                      highlight=False, soft_wrap=True)
        return defaults, f"defaults, no {DEFAULT_FILE}"
    try:
        return read_criteria(path), str(path)
    except CriteriaError as error:
        console.print(Text(str(error), style="red"), soft_wrap=True)
        raise typer.Exit(2) from None


def main(
    runs: list[str] = typer.Argument(..., help="Two or more MLflow run ids or aliases of the "
                                     "registered model (champion, candidate, models:/name@alias,"
                                     " models:/name/version). The first is the baseline."),
    out: Path = typer.Option(..., "--out", help="Folder for comparison.html, comparison.md and "
                             "the charts."),
    registered_model: str = typer.Option("txresponse-response", "--registered-model",
                                         help="Registered model that bare aliases refer to."),
    seed: int = typer.Option(20261126, "--seed", help="Seed of the paired bootstrap."),
    resamples: int = typer.Option(1000, "--resamples", min=100,
                                  help="Paired bootstrap resamples."),
    criteria_file: Path = typer.Option(DEFAULT_FILE, "--criteria", help="The reviewers' file "
                                       "with the subgroup margins (as promote reads it); "
                                       "without one, its defaults."),
) -> None:
    """Compare training runs: metrics with intervals, paired differences (bootstrap, DeLong)
    or, where runs cannot be paired, unpaired ones from the logged intervals; differing params,
    data lineage, overlaid curves and subgroups."""
    if len(runs) < 2:
        console.print("[red]Give at least two runs to compare (the first is the baseline).[/red]")
        raise typer.Exit(2)
    criteria, criteria_from = _margins(criteria_file)
    uri = tracking.use_store()
    client = MlflowClient(uri)
    try:
        with private_folder(out.absolute().parent, ".txresponse-compare-") as scratch:
            loaded = [load_run(client, resolve(client, reference, registered_model).run_id,
                               scratch, reference) for reference in runs]
    except (UnknownReference, ValueError) as error:
        console.print(f"[red]{error}[/red] (tracking store: {_shown_store(uri)})",
                      soft_wrap=True)
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    view = comparison_view(loaded, out / "figures", n_resamples=resamples, seed=seed,
                           store=_shown_store(uri), criteria=criteria,
                           criteria_from=criteria_from)
    (out / "comparison.html").write_text(render_html(view), encoding="utf-8")
    (out / "comparison.md").write_text(render_markdown(view), encoding="utf-8")
    for comparison in view["comparisons"]:
        lines = comparison["sentences"] if comparison["paired"] else \
            [comparison["reason"], *comparison["sentences"]]
        for line in lines:
            console.print(line, highlight=False, soft_wrap=True)
    console.print(f"Wrote {out / 'comparison.html'} and {out / 'comparison.md'}.")
