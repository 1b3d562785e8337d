"""`txresponse promote`: move the registry alias `champion` to a model version only if it meets
the criteria in configs/promotion.yaml; record the decision either way.

Exit codes: 0 promoted (or forced), 1 refused by the criteria (alias untouched), 2 the command
could not judge (bad options, unknown run or version, unreadable criteria, run not evaluated),
3 the champion changed while the criteria were being evaluated (nothing moved; run it again).
"""
from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import typer
from mlflow import MlflowClient
from rich.console import Console
from rich.table import Table
from rich.text import Text

from models import tracking
from models.governance.champion import evaluate_criteria
from models.governance.criteria import FAIL, PASS, CriterionResult
from models.governance.registry import CHAMPION, Decision, move_champion, record
from models.references import UnknownReference, alias_version, resolve_version
from models.review.config import DEFAULT_FILE, CriteriaError, read_criteria
from models.review.evidence import load_run, private_folder
from pipeline.core.params import load_params

PROMOTED, REFUSED, UNUSABLE, RACE = 0, 1, 2, 3
_STYLE = {PASS: "green", FAIL: "bold red"}


def _table(results: list[CriterionResult]) -> Table:
    table = Table(title="Promotion criteria", show_lines=False)
    table.add_column("criterion", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("required")
    table.add_column("observed")
    for r in results:
        table.add_row(Text(r.name), Text(r.status, style=_STYLE.get(r.status, "yellow")),
                      Text(r.required), Text(r.observed))
    return table


def _registered_model(name: str | None, params_file: Path) -> str:
    if name:
        return name
    if params_file.exists():
        return load_params(params_file).train.registered_model
    return "txresponse-response"


def main(
    run: str = typer.Option(..., "--run", help="Training run id, models:/NAME/VERSION, "
                            "models:/NAME@ALIAS, or an alias such as candidate."),
    registered_model: str = typer.Option(None, "--registered-model", help="Registered model "
                                         "(default: train.registered_model in --params)."),
    criteria_file: Path = typer.Option(DEFAULT_FILE, "--criteria",
                                       help="Promotion criteria and subgroup margins."),
    force: bool = typer.Option(False, "--force", help="Promote despite failed criteria "
                               "(needs --reason; recorded)."),
    reason: str = typer.Option(None, "--reason", help="Why the failures are overridden."),
    by: str = typer.Option(None, "--by", help="Who decides (default: the login name)."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
) -> None:
    """Promote a model version to `champion` if it meets the promotion criteria.

    Prints each criterion with PASS, FAIL or N/A. Exit 0 promoted, 1 refused (the alias stays
    where it was), 2 could not judge, 3 the champion moved meanwhile.
    """
    out, err = Console(), Console(stderr=True)
    if not out.is_terminal:  # a log or a pipe: keep each criterion on one line
        out = Console(width=200)
    if force and not (reason or "").strip():
        err.print("[red]--force needs --reason TEXT: an override must say why.[/red]")
        raise typer.Exit(UNUSABLE)
    try:
        criteria = read_criteria(criteria_file)
    except CriteriaError as error:
        err.print(Text(str(error), style="red"))
        raise typer.Exit(UNUSABLE) from None
    tracking.use_store()
    client = MlflowClient()
    name = _registered_model(registered_model, params_file)
    try:
        version = resolve_version(client, run, name)
    except UnknownReference as error:
        err.print(Text(str(error), style="red"))
        raise typer.Exit(UNUSABLE) from None
    name = version.name
    champion = alias_version(client, name, CHAMPION)
    already = champion is not None and str(champion.version) == str(version.version)
    try:  # test predictions pass through a private folder here, removed once read
        with private_folder(Path.cwd(), ".txresponse-promote-") as scratch:
            candidate = load_run(client, version.run_id, scratch, run)
            champion_evidence = None if champion is None or already else \
                load_run(client, champion.run_id, scratch, CHAMPION)
    except ValueError as error:
        err.print(Text(str(error), style="red"))
        raise typer.Exit(UNUSABLE) from None
    if not candidate.headline_metrics:
        err.print(Text(f"Run {version.run_id} has no test metrics: run `txresponse evaluate` "
                       "first.", style="red"))
        raise typer.Exit(UNUSABLE)
    results = evaluate_criteria(criteria, candidate, champion_evidence,
                                "this version is already champion" if already
                                else "no champion yet")
    out.print(Text(f"{name} version {version.version} (run {version.run_id}) against "
                   + (f"champion version {champion.version}" if champion else "no champion")))
    out.print(_table(results))

    failed = [r for r in results if not r.passed]
    decision = Decision(
        decision="refused" if failed and not force else "forced" if failed else "promoted",
        date=datetime.now(UTC).isoformat(timespec="seconds"), by=by or getpass.getuser(),
        criteria_hash=criteria.digest(), criteria_file=str(criteria_file),
        champion_before=str(champion.version) if champion else None, results=results,
        reason=reason.strip() if force and reason else None)
    now = alias_version(client, name, CHAMPION)
    if (str(now.version) if now else None) != decision.champion_before:
        err.print(f"[red]The champion moved to version {now.version if now else 'none'} "
                  "while the criteria were evaluated; nothing recorded. Run it again.[/red]")
        raise typer.Exit(RACE)
    record(client, version, decision)
    if not decision.moves_alias:
        out.print(Text(f"REFUSED: {len(failed)} criteria failed "
                       f"({', '.join(r.name for r in failed)}); '{CHAMPION}' stays at "
                       f"{'version ' + str(champion.version) if champion else 'no version'}.",
                       style="bold red"))
        raise typer.Exit(REFUSED)
    move_champion(client, version)
    verb = "FORCED" if decision.decision == "forced" else "PROMOTED"
    out.print(Text(f"{verb}: '{CHAMPION}' -> {name} version {version.version}"
                   + (f" despite {len(failed)} failed criteria; reason recorded."
                      if failed else "."), style="bold green"))
