"""The `txresponse` command. Each sub-command is one stage module's `main`."""
from __future__ import annotations

import typer

from pipeline import (compare, evaluate, explain, featurize, model_card, promote, report, score,
                      simulate, train, validate)

app = typer.Typer(
    name="txresponse",
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


app.command("simulate")(simulate.main)
app.command("validate")(validate.main)
app.command("features")(featurize.main)
app.command("train")(train.main)
app.command("evaluate")(evaluate.main)
app.command("explain")(explain.main)
app.command("report")(report.main)
app.command("score")(score.main)
app.command("compare")(compare.main)
app.command("promote")(promote.main)
app.command("model-card")(model_card.main)


if __name__ == "__main__":  # pragma: no cover
    app()
