"""ROC, reliability and decision curves of the compared runs overlaid, drawn by
`models.figures` from each run's test predictions; PNG files for the Markdown and base64 data
URIs for the self-contained HTML."""
from __future__ import annotations

import base64
from pathlib import Path

from models import figures
from models.review.evidence import Run

CHARTS = {
    "roc": ("roc.png", figures.roc_curves),
    "reliability": ("reliability.png", figures.reliability_diagram),
    "decision": ("decision.png", figures.decision_curves),
}


def curve_name(label: str, run: Run) -> str:
    return f"{label} · {run.short_id}"


def draw(runs: dict[str, Run], paired: set[str], folder: Path) -> dict[str, dict]:
    """{chart: {"file": path relative to folder's parent, "uri": data URI, "runs": labels}}.

    ROC and reliability curves show every run with test predictions (each on its own test
    patients); the decision curve only the baseline and the runs paired with it, because its
    treat-all line assumes one test set.
    """
    with_predictions = {label: run for label, run in runs.items() if run.predictions is not None}
    drawn = {}
    for chart, (file_name, draw_chart) in CHARTS.items():
        chosen = with_predictions if chart != "decision" else \
            {label: run for label, run in with_predictions.items()
             if label in paired or label == next(iter(runs))}
        if len(chosen) < (2 if chart == "decision" else 1):
            continue
        curves = {curve_name(label, run): (run.predictions["label"].to_numpy(float),
                                           run.predictions["probability"].to_numpy(float))
                  for label, run in chosen.items()}
        path = draw_chart(curves, folder / file_name)
        uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        drawn[chart] = {"file": f"{folder.name}/{file_name}", "uri": uri, "runs": list(chosen)}
    return drawn
