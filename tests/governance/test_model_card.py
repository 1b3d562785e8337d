"""`txresponse model-card` from the pipeline's committed reports and a real MLflow run: every
section, the TRIPOD+AI checklist, escaping, no patient identifiers, logged to the run; every
interval from metrics.json (the card computes none, and refuses metrics that lack them)."""
from __future__ import annotations

import json
import re
import shutil

import pandas as pd
from mlflow import MlflowClient
from typer.testing import CliRunner

from models.governance.tripod import FOR_AUTHORS, ITEMS
from pipeline.cli import app
from tests.conftest import REPO
from tests.governance.conftest import log_run, model_name, predictions

runner = CliRunner()
SECTIONS = ["## Intended use", "## Data", "## Model", "### Calibration", "## Performance",
            "## Subgroups", "## Limitations", "## TRIPOD+AI checklist", "## Provenance"]


def _inputs(folder):
    """The committed reports, with a hostile site label slipped into the subgroups."""
    reports = folder / "reports"
    (reports / "validation").mkdir(parents=True)
    for name in ("metrics.json", "features.json", "training.json", "evaluation.json"):
        shutil.copy(REPO / "reports" / name, reports / name)
    shutil.copy(REPO / "reports" / "validation" / "report.json", reports / "validation")
    evaluation = json.loads((reports / "evaluation.json").read_text(encoding="utf-8"))
    evaluation["subgroups"].append(dict(evaluation["subgroups"][0], group="site",
                                        level="<script>alert(1)</script>"))
    (reports / "evaluation.json").write_text(json.dumps(evaluation), encoding="utf-8")
    validated = folder / "validated"
    validated.mkdir()
    pd.DataFrame({"patient_id": ["a", "b", "c"], "site": ["s1", "s1", "s2"]}) \
        .to_parquet(validated / "patients.parquet")
    pd.DataFrame({"patient_id": ["a", "b"], "day": [-14, 27]}) \
        .to_parquet(validated / "assessments.parquet")
    return reports, validated


def _card(store, reports, out, run_id="0" * 32, registered_model="x", version="1"):
    """`txresponse model-card` arguments for the reports in `reports` and that run."""
    run_ref = store / "mlflow_run.json"
    run_ref.write_text(json.dumps({"run_id": run_id, "registered_model": registered_model,
                                   "version": version}), encoding="utf-8")
    return ["model-card", "--run-ref", str(run_ref), "--metrics", str(reports / "metrics.json"),
            "--evaluation", str(reports / "evaluation.json"),
            "--features", str(reports / "features.json"),
            "--training", str(reports / "training.json"),
            "--validation", str(reports / "validation" / "report.json"), "--out", str(out)]


def test_model_card_has_every_section_checklist_and_no_patient_ids(store):
    run_id, version = log_run(store)
    reports, validated = _inputs(store)
    table = predictions(seed=1)  # the run's test predictions (log_run): none may reach the card
    out = store / "out" / "model_card.md"
    result = runner.invoke(app, [
        *_card(store, reports, out, run_id, model_name(), version),
        "--validated", str(validated), "--params", str(REPO / "configs" / "params.yaml")])
    assert result.exit_code == 0, result.output
    markdown = out.read_text(encoding="utf-8")
    html = out.with_suffix(".html").read_text(encoding="utf-8")

    positions = [markdown.index(section + "\n") for section in SECTIONS]
    assert positions == sorted(positions)
    for expected in ("Decision support", "not a diagnosis", "Psychiatrists", "too small",
                     "simulated", "days -14 to 27", "| s1 | 2 |", "exactly additive",
                     "Calibration slope", "AUROC"):
        assert expected in markdown, expected
    # Every measure has an interval, as the evaluate stage recorded it in metrics.json.
    brier = next(line for line in markdown.splitlines() if line.startswith("| Brier score"))
    assert re.search(r"\d\.\d{4} \(\d\.\d{4} to \d\.\d{4}\)", brier)

    # TRIPOD+AI: items 1..27 all present; the pipeline-blind ones left to the authors.
    checklist = markdown.split("## TRIPOD+AI checklist")[1].split("## Provenance")[0]
    numbers = {int(re.match(r"\d+", row.split("|")[1].strip()).group())
               for row in checklist.splitlines() if re.match(r"\| \d", row)}
    assert numbers == set(range(1, 28))
    for number in ("17", "18a", "18b", "19", "25"):
        row = next(r for r in checklist.splitlines() if r.startswith(f"| {number} |"))
        assert FOR_AUTHORS in row
    assert len(ITEMS) == checklist.count("\n| ") - 1  # one row per item, plus the header

    # Self-contained, escaped HTML with the same sections.
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for anchor in ("intended-use", "data", "model", "performance", "subgroups",
                   "limitations", "tripod", "provenance"):
        assert f'id="{anchor}"' in html
    assert FOR_AUTHORS in html and '<a href="#data">Data</a>' in html

    for text in (markdown, html):
        assert not [pid for pid in table["patient_id"] if pid in text]
    logged = {a.path for a in MlflowClient().list_artifacts(run_id, "model_card")}
    assert logged == {"model_card/model_card.md", "model_card/model_card.html"}


def test_model_card_refuses_a_run_missing_from_the_store_unless_no_log(store):
    reports, _ = _inputs(store)
    args = _card(store, reports, store / "card.md")
    assert runner.invoke(app, args).exit_code == 2
    result = runner.invoke(app, [*args, "--no-log"])
    assert result.exit_code == 0, result.output
    markdown = (store / "card.md").read_text(encoding="utf-8")
    assert "test patients only" in markdown  # sites fall back to the evaluation subgroups
    assert "AUROC and AUPRC only" not in markdown


def test_model_card_refuses_metrics_without_every_interval(store):
    """Metrics from before evaluate computed every interval (tests/governance/older_demo/): the
    card does not compute them itself; it says in one line what to run."""
    reports, _ = _inputs(store)
    shutil.copy(REPO / "tests" / "governance" / "older_demo" / "metrics.json",
                reports / "metrics.json")
    result = runner.invoke(app, [*_card(store, reports, store / "card.md"), "--no-log"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "has no interval for brier, scaled_brier, log_loss, calibration_intercept, " \
           "calibration_slope, ici" in said and "txresponse evaluate" in said, said
    assert "Traceback" not in result.output and not (store / "card.md").exists()
    for option in ("--predictions", "--resamples"):  # the card computes no interval itself
        assert option not in runner.invoke(app, ["model-card", "--help"]).output


def test_the_card_shows_each_left_out_site_and_the_pooled_heterogeneity(store):
    """Internal-external validation (issue 16): per-site rows, the random-effects summary with
    I² and a prediction interval, the validation method; a hostile site name is escaped; with
    no leave-one-site-out figures the card says why."""
    run_id, version = log_run(store)
    reports, validated = _inputs(store)
    evaluation = json.loads((reports / "evaluation.json").read_text(encoding="utf-8"))
    assert len(evaluation["by_site"]["sites"]) >= 3  # the demo's four sites
    evaluation["by_site"]["sites"][0]["site"] = "<img src=x onerror=alert(1)>"
    (reports / "evaluation.json").write_text(json.dumps(evaluation), encoding="utf-8")
    out = store / "sites" / "model_card.md"
    result = runner.invoke(app, [*_card(store, reports, out, run_id, model_name(), version),
                                 "--validated", str(validated)])
    assert result.exit_code == 0, result.output
    markdown = out.read_text(encoding="utf-8")
    html = out.with_suffix(".html").read_text(encoding="utf-8")
    section = markdown.split("### Performance by site")[1].split("## Subgroups")[0]
    for row in evaluation["by_site"]["sites"][1:]:
        assert f"| {row['site']} | {row['n']} |" in section
    pooled = evaluation["by_site"]["pooled"]["auroc"]
    auroc_row = next(line for line in section.splitlines() if line.startswith("| AUROC"))
    assert f"{pooled['estimate']:.3f}" in auroc_row and f"{pooled['i2']:.0f} %" in auroc_row
    assert "{:.3f} to {:.3f}".format(*pooled["prediction_interval"]) in auroc_row
    assert "cross-validation of the whole development procedure" in markdown
    assert "<img" not in html and "&lt;img src=x" in html
    checklist = markdown.split("## TRIPOD+AI checklist")[1]
    assert "Performance by site" in next(r for r in checklist.splitlines()
                                         if r.startswith("| 23b |"))

    del evaluation["by_site"]
    (reports / "evaluation.json").write_text(json.dumps(evaluation), encoding="utf-8")
    out = store / "no-sites" / "model_card.md"
    result = runner.invoke(app, [*_card(store, reports, out, run_id, model_name(), version),
                                 "--validated", str(validated)])
    assert result.exit_code == 0, result.output
    section = out.read_text(encoding="utf-8").split("### Performance by site")[1]
    assert "Not estimated" in section.split("## Subgroups")[0]
