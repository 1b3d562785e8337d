"""`txresponse compare`: put training runs side by side for a model reviewer, with paired
statistics where the runs share their test patients and unpaired ones, said to be unpaired,
where they cannot be paired. Never trains or changes anything.

Artifacts (test predictions hold pseudonymous patient-level rows) are downloaded into a private
folder beside --out, removed once the runs are read: never into the shared temporary folder."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import typer
from mlflow import MlflowClient
from rich.console import Console

from models import tracking
from models.comparison.render import render_html, render_markdown
from models.comparison.runs import UnknownRun, load_run, private_folder
from models.comparison.view import comparison_view

console = Console(stderr=True)


def _shown_store(uri: str) -> str:
    """The tracking URI without any user name or password in it."""
    parts = urlsplit(uri)
    if not (parts.username or parts.password):
        return uri  # unchanged: urlunsplit would drop a slash from sqlite:///abs/path
    return urlunsplit(parts._replace(netloc=(parts.hostname or "")
                                     + (f":{parts.port}" if parts.port else "")))


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
) -> None:
    """Compare training runs: metrics with intervals, paired differences (bootstrap, DeLong)
    or, where runs cannot be paired, unpaired ones from the logged intervals; differing params,
    data lineage, overlaid curves and subgroups."""
    if len(runs) < 2:
        console.print("[red]Give at least two runs to compare (the first is the baseline).[/red]")
        raise typer.Exit(2)
    uri = tracking.use_store()
    client = MlflowClient(uri)
    try:
        with private_folder(out.absolute().parent) as scratch:
            loaded = [load_run(reference, client, registered_model, scratch)
                      for reference in runs]
    except (UnknownRun, ValueError) as error:
        console.print(f"[red]{error}[/red] (tracking store: {_shown_store(uri)})",
                      soft_wrap=True)
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    view = comparison_view(loaded, out / "figures", n_resamples=resamples, seed=seed,
                           store=_shown_store(uri))
    (out / "comparison.html").write_text(render_html(view), encoding="utf-8")
    (out / "comparison.md").write_text(render_markdown(view), encoding="utf-8")
    for comparison in view["comparisons"]:
        lines = comparison["sentences"] if comparison["paired"] else \
            [comparison["reason"], *comparison["sentences"]]
        for line in lines:
            console.print(line, highlight=False, soft_wrap=True)
    console.print(f"Wrote {out / 'comparison.html'} and {out / 'comparison.md'}.")
