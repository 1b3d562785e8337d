"""The `txresponse` command. Each sub-command is one stage module's `main`.

Commands are imported when they are called, not all at start-up: importing every stage pulled
in MLflow, LightGBM and scikit-learn (2.5 s) before even `txresponse report` could start, and DVC
starts one command per stage (docs/benchmarks.md, incremental re-runs).
"""
from __future__ import annotations

import functools
import importlib

import click
import typer
from typer.core import TyperGroup

from pipeline.core.errors import UserError

# command -> module whose `main` it runs, in the order `txresponse --help` lists them
COMMANDS = {
    "simulate": "pipeline.simulate",
    "validate": "pipeline.validate",
    "features": "pipeline.featurize",
    "train": "pipeline.train",
    "evaluate": "pipeline.evaluate",
    "explain": "pipeline.explain",
    "report": "pipeline.report",
    "score": "pipeline.score",
    "compare": "pipeline.compare",
    "promote": "pipeline.promote",
    "model-card": "pipeline.model_card",
}


def _user_errors_as_messages(name: str, main):
    """The stage's `main`, with a `UserError` printed as its message and exit 2 instead of a
    traceback (typer reads the signature through `functools.wraps`)."""
    @functools.wraps(main)
    def guarded(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as error:
            typer.echo(f"txresponse {name}: {error}", err=True)
            raise typer.Exit(2) from None
    return guarded


class _LazyCommands(TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        main = importlib.import_module(COMMANDS[name]).main
        single.command(name)(_user_errors_as_messages(name, main))
        return typer.main.get_command(single)


app = typer.Typer(
    name="txresponse",
    cls=_LazyCommands,
    help="Predict and explain response to ketamine or esketamine in treatment-resistant "
         "depression.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Predict and explain response to ketamine or esketamine in treatment-resistant
    depression. Run `txresponse COMMAND --help` for any command."""


if __name__ == "__main__":  # pragma: no cover
    app()
