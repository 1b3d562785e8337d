"""`txresponse simulate`: write a synthetic cohort in the data contract, and its truth file."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from pipeline.core.tables import write_csv
from pipeline.core.registries import load_registries
from pipeline.simulation import simulate_cohort
from pipeline.simulation.messy import make_messy

console = Console(stderr=True)


def main(
    patients: int = typer.Option(2000, "--patients", min=1, help="Number of patients."),
    sites: int = typer.Option(4, "--sites", min=1, help="Number of treating sites."),
    seed: int = typer.Option(20261126, "--seed", help="Random seed; same seed, same bytes."),
    site_seed: int = typer.Option(None, "--site-seed",
                                  help="Seed of the sites (default: --seed). Same site seed, "
                                       "other --seed: new patients of the same clinics."),
    out: Path = typer.Option(..., "--out", help="Folder to write the five contract tables to."),
    truth: Path = typer.Option(
        ..., "--truth",
        help="CSV for each patient's true response probability. Keep it outside --out: the "
             "pipeline must never see it.",
    ),
    messy: bool = typer.Option(
        False, "--messy",
        help="Inject realistic row-level faults (text in numbers, N/A, out-of-range scores, "
             "duplicate ids, orphan rows, conflicting scores...) for trying the validate stage. "
             "No identifiers are added.",
    ),
    config_dir: Path = typer.Option(Path("configs"), "--configs",
                                    help="Registries folder; --messy reads scale ranges from it."),
) -> None:
    """Simulate a ketamine/esketamine TRD cohort grounded in published effects.

    See docs/simulator.md for the generating model and its sources.
    """
    if truth.resolve().parent == out.resolve():
        raise typer.BadParameter("the truth file must not sit inside --out", param_hint="--truth")
    with console.status(f"Simulating {patients:,} patients at {sites} sites"):
        cohort = simulate_cohort(n_patients=patients, n_sites=sites, seed=seed,
                                 site_seed=site_seed)
        tables = cohort.tables
        if messy:
            instruments = load_registries(config_dir).instruments
            scale_top = {key: item.max for key, item in instruments.items()}
            tables = make_messy(tables, seed=seed, instrument_max=scale_top)
        for name, table in tables.items():
            write_csv(table, out / f"{name}.csv")
        write_csv(cohort.truth, truth)
    counts = ", ".join(f"{name} {len(t):,}" for name, t in tables.items())
    console.print(f"Wrote {out}/ ({counts} rows) and truth to {truth}")
