"""Unpaired fallback: a run whose test predictions are not in the tracking store
(evaluate.log_patient_predictions: false), was never evaluated, or was evaluated on other
patients is compared from each run's logged metrics and intervals, said to be unpaired; runs
predicting different targets are still not compared. Artifacts never pass through the shared
temporary folder. Promotion says why its paired criteria do not apply."""
from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from models.comparison.phrasing import number, sentence, verdict
from models.comparison.render import render_html, render_markdown
from models.comparison.view import comparison_view
from models.governance.champion import PAIRED_AUROC, evaluate_criteria, paired_criteria
from models.governance.criteria import FAIL, NOT_APPLICABLE, PASS
from models.review.config import PromotionCriteria
from models.review.evidence import Run, load_run, private_folder
from models.review.pairing import (LABELS, NOT_EVALUATED, PATIENTS, TARGETS, UNREADABLE,
                                   WITHHELD, pair)
from models.review.statistics import METRICS, unpaired_difference, unpaired_differences
from pipeline.cli import app
from tests.comparison.conftest import fresh_store
from tests.comparison.fake_runs import log_training_run, patients, predictions

runner = CliRunner()
TAG = "evaluation.patient_predictions_logged"
TARGET = {"target.instrument": "madrs", "target.definition": "response"}
ROLE = "candidate_calibrated."


# -- runs in memory -------------------------------------------------------------------------

def _metrics(auroc=(0.70, 0.65, 0.75), brier=(0.20, 0.18, 0.22), ici=(0.030, 0.015, 0.045)):
    """candidate_calibrated.* metrics with intervals; a None bound is left out."""
    out = {}
    for key, (value, low, high) in (("auroc", auroc), ("brier", brier), ("ici", ici)):
        for suffix, number_ in (("", value), ("_ci_low", low), ("_ci_high", high)):
            if number_ is not None:
                out[f"{ROLE}{key}{suffix}"] = number_
    return out


def _run(run_id: str, metrics: dict, tags: dict | None = None,
         predictions_: pd.DataFrame | None = None) -> Run:
    return Run(reference=run_id, run_id=run_id, run_name="train", start_time=0, params={},
               metrics=metrics, tags=TARGET | (tags or {}), predictions=predictions_)


def _frame(ids, labels=None):
    labels = labels or [i % 2 for i in range(len(ids))]
    return pd.DataFrame({"patient_id": ids, "label": labels,
                         "probability": [0.2 + 0.6 * y for y in labels]})


def test_unpaired_interval_by_hand():
    a = _run("a" * 32, _metrics(auroc=(0.70, 0.65, 0.75)))
    b = _run("b" * 32, _metrics(auroc=(0.74, 0.70, 0.78)), {TAG: "false"})
    d = unpaired_difference(METRICS[0], a, b)
    # se_A = 0.10 / (2 × 1.96), se_B = 0.08 / (2 × 1.96); half width 1.96 × sqrt(se_A² + se_B²)
    # = sqrt(0.05² + 0.04²) = 0.064031.
    assert not d.paired and d.difference == pytest.approx(0.04)
    assert d.lower == pytest.approx(0.04 - 0.0640312, abs=1e-6)
    assert d.upper == pytest.approx(0.04 + 0.0640312, abs=1e-6)
    assert (number(d.lower), number(d.upper)) == ("−0.024", "0.104")
    assert not d.clear and verdict(d) == "no clear difference"
    assert sentence(d, "B", "A") == (
        "Run B's logged AUROC is 0.040 higher than run A's (approximate 95 % interval, "
        "unpaired: −0.024 to 0.104): the interval includes 0, so this does not show a "
        "difference between the runs.")


def test_unpaired_sentences_claim_no_more_than_the_interval():
    a = _run("a" * 32, _metrics(brier=(0.20, 0.19, 0.21)))
    b = _run("b" * 32, _metrics(brier=(0.15, 0.14, 0.16)), {TAG: "false"})
    auroc, brier, ici = unpaired_differences(a, b)
    assert brier.clear and brier.improvement and verdict(brier) == "favours the later run"
    text = sentence(brier, "B", "A")
    assert text.startswith("Run B's logged Brier score is 0.050 lower than run A's (lower is "
                           "better; approximate 95 % interval, unpaired: ")
    assert "the interval excludes 0, so run B's evaluation shows a better Brier score than " \
           "run A's; unpaired, this may reflect the test set as well as the model." in text
    worse = sentence(unpaired_difference(METRICS[1], b, a, "A", "B"), "B", "A")
    assert "run A's evaluation shows a better Brier score than run B's" in worse
    for d in (auroc, brier, ici):  # association wording: never an improvement of the model
        words = sentence(d, "B", "A") + verdict(d)
        assert "improvement" not in words and "clearly worse" not in words
        assert "95 % CI" not in words  # the interval is named for what it is


def test_missing_metric_or_interval_shows_a_dash_and_says_why():
    a = _run("a" * 32, _metrics(ici=(0.03, None, None)))
    b = _run("b" * 32, {k: v for k, v in _metrics().items() if not k.startswith(ROLE + "brier")},
             {TAG: "false"})
    auroc, brier, ici = unpaired_differences(a, b)
    assert auroc.has_interval
    assert brier.difference is None and brier.baseline == 0.20 and brier.other is None
    assert brier.notes == ("run B logged no Brier score (candidate_calibrated.brier)",)
    assert verdict(brier) == "not judged: a value is missing"
    assert sentence(brier, "B", "A") == (
        "No unpaired Brier score difference between run B and run A: run B logged no Brier "
        "score (candidate_calibrated.brier).")
    assert ici.difference == pytest.approx(0.0) and not ici.has_interval and not ici.clear
    assert ici.notes == ("run A logged no 95 % interval for its ICI "
                         "(candidate_calibrated.ici_ci_low and _ci_high)",)
    assert verdict(ici) == "not judged: no interval"
    assert "without an interval, this says nothing" in sentence(ici, "B", "A")


def test_pairing_says_why_it_is_impossible():
    ids = ["pt-1", "pt-2", "pt-3", "pt-4"]
    a = _run("a" * 32, {}, {TAG: "true"}, _frame(ids))
    withheld = _run("b" * 32, {}, {TAG: "false"})
    assert pair(a, withheld).kind == WITHHELD
    assert pair(a, withheld).reason == ("run B's test predictions are not in the tracking store "
                                        "(its evaluation ran with "
                                        "evaluate.log_patient_predictions: false)")
    assert pair(withheld, a).kind == WITHHELD and "run A's test predictions" in \
        pair(withheld, a).reason
    never = _run("c" * 32, {})
    assert pair(a, never).kind == NOT_EVALUATED and "it was not evaluated" in pair(a, never).reason
    lost = _run("d" * 32, {}, {TAG: "true"})
    assert pair(a, lost).kind == UNREADABLE and "cannot be read" in pair(a, lost).reason
    assert pair(a, _run("e" * 32, {}, {}, _frame(["pt-1", "pt-9"]))).kind == PATIENTS
    assert pair(a, _run("f" * 32, {}, {}, _frame(ids, [1, 1, 1, 0]))).kind == LABELS
    # The target is checked first: without predictions, a different target still means no
    # comparison at all.
    other_target = _run("g" * 32, {}, {TAG: "false", "target.definition": "remission"})
    assert pair(a, other_target).kind == TARGETS


def test_a_never_evaluated_run_is_unpaired_with_dashes(tmp_path):
    a = _run("a" * 32, _metrics(), {TAG: "false"})
    never = _run("c" * 32, {})
    view = comparison_view([a, never], tmp_path / "figures", n_resamples=100, seed=1,
                           store="sqlite:///x.db")
    (c,) = view["comparisons"]
    assert c["unpaired"] and c["kind"] == WITHHELD  # the baseline's reason comes first
    assert c["reason"].startswith(
        "Paired comparison of run B with run A is impossible: run A's test predictions are not "
        "in the tracking store (its evaluation ran with evaluate.log_patient_predictions: "
        "false); run B has no test predictions logged (evaluation/test_predictions.csv): it "
        "was not evaluated.")
    assert all(d.difference is None for d in c["differences"])
    md = render_markdown(view)
    assert "| AUROC | 0.700 | — | — | — | not judged: a value is missing — because run B logged " \
           "no AUROC (candidate\\_calibrated.auroc) |" in md
    assert "(not evaluated)" in md and "(test predictions not in the store" in md
    html = render_html(view)
    assert "No curves for run A (its test predictions are not in the tracking store" in html


# -- end to end, on a real MLflow store ------------------------------------------------------

@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Run A with its predictions; B on the same patients but with its predictions left out by
    policy; C as B with another target definition; D as B without Brier and ICI intervals
    (an older run); all with the intervals evaluate logs now unless said otherwise."""
    folder = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as monkeypatch:
        store = fresh_store(folder, monkeypatch)
        cohort = patients(240, seed=3)
        runs = {
            "a": log_training_run(store / "a", cohort, predictions(cohort, 1.2, seed=20),
                                  all_intervals=True),
            "b": log_training_run(store / "b", cohort, predictions(cohort, 0.8, seed=21),
                                  all_intervals=True, log_predictions=False),
            "c": log_training_run(store / "c", cohort, predictions(cohort, 0.8, seed=22),
                                  all_intervals=True, log_predictions=False,
                                  tags={"target.definition": "remission"}),
            "d": log_training_run(store / "d", cohort, predictions(cohort, 1.0, seed=23),
                                  log_predictions=False),
        }
        yield runs | {"store": store, "ids": set(cohort["patient_id"])}
        mlflow.set_tracking_uri(None)


def _downloads(monkeypatch) -> list[Path]:
    """Record where every artifact download goes."""
    seen = []
    original = MlflowClient.download_artifacts

    def spy(self, run_id, path, dst_path=None):
        seen.append(Path(dst_path) if dst_path else None)
        return original(self, run_id, path, dst_path)

    monkeypatch.setattr(MlflowClient, "download_artifacts", spy)
    return seen


def _hand_interval(metrics_a: dict, metrics_b: dict, key: str) -> tuple[float, float, float]:
    """d and d ± 1.96·sqrt(se_A² + se_B²), se = (high − low) / (2 × 1.96), written out."""
    z = 1.96
    d = metrics_b[ROLE + key] - metrics_a[ROLE + key]
    se_a = (metrics_a[ROLE + key + "_ci_high"] - metrics_a[ROLE + key + "_ci_low"]) / (2 * z)
    se_b = (metrics_b[ROLE + key + "_ci_high"] - metrics_b[ROLE + key + "_ci_low"]) / (2 * z)
    half = z * math.sqrt(se_a ** 2 + se_b ** 2)
    return d, d - half, d + half


def test_compare_falls_back_to_unpaired_and_says_why(logged, monkeypatch):
    shared_tmp = logged["store"] / "shared-tmp"
    shared_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    downloads = _downloads(monkeypatch)
    out = logged["store"] / "reports" / "cmp"
    result = runner.invoke(app, ["compare", logged["a"], logged["b"], logged["c"], logged["d"],
                                 "--out", str(out), "--resamples", "100"])
    assert result.exit_code == 0, result.output
    html = (out / "comparison.html").read_text(encoding="utf-8")
    md = (out / "comparison.md").read_text(encoding="utf-8")
    client = MlflowClient()
    metrics = {k: client.get_run(logged[k]).data.metrics for k in "abd"}
    for text, quote, underscore in ((html, "&#39;", "_"), (md, "'", "\\_"), (result.output, "'",
                                                                             "_")):
        flat = " ".join(text.split())  # the terminal wraps long lines
        said = flat.replace(quote, "'").replace(underscore, "_")
        # B: unpaired, and why: its predictions were left out of the store by policy.
        assert ("Paired comparison of run B with run A is impossible: run B's test predictions "
                "are not in the tracking store (its evaluation ran with "
                "evaluate.log_patient_predictions: false). The differences below are unpaired"
                ) in said
        # The three differences, each with the interval worked out by hand above.
        for metric in METRICS:
            d, low, high = _hand_interval(metrics["a"], metrics["b"], metric.key)
            size = number(abs(d))
            pattern = (f"Run B's logged {metric.label} is {size} "
                       f"{'higher' if d > 0 else 'lower'} than run A's \\("
                       f"{'lower is better; ' if not metric.higher_is_better else ''}"
                       f"approximate 95 % interval, unpaired: {number(low)} to {number(high)}\\)")
            assert re.search(pattern, said), (pattern, said)
        # C: another target definition, so no comparison at all (no unpaired fallback).
        assert ("Paired comparison of run C with run A is impossible: the runs predict different "
                "targets (target definition differ)") in said
        assert "Run C's logged" not in said
        # D: no Brier or ICI interval logged, so a dash and why.
        assert "run D logged no 95 % interval for its Brier score" in said
        assert "run D logged no 95 % interval for its ICI" in said
        assert [pid for pid in logged["ids"] if pid in text] == []
    for text in (html, md):
        said = text.replace("&#39;", "'")
        assert "Run B against run A: unpaired comparison" in said
        assert "Run C against run A: unpaired comparison" not in said
        assert "approximate 95 % interval, unpaired (assumes independent test sets; wider than " \
               "a paired interval when the runs share test patients)" in said
        assert "whether the two runs share test patients cannot be checked" in said
    assert re.search(r"\| Brier score \(lower is better\) \| [\d.]+ \| [\d.]+ \| [−+]?[\d.]+ \| "
                     r"— \| not judged: no interval — because run D logged no 95 % interval",
                     md), md
    # Artifacts went to a private folder beside --out, never the shared temporary folder,
    # and nothing is left of it.
    assert downloads and all(p is not None and p.is_relative_to(out.parent) for p in downloads)
    assert not any(p.is_relative_to(shared_tmp) for p in downloads)
    assert not any(p.exists() for p in downloads)
    assert sorted(p.name for p in out.parent.iterdir()) == ["cmp"]
    assert list(shared_tmp.rglob("*.csv")) == []


def test_an_unknown_run_leaves_no_scratch_folder(logged):
    out = logged["store"] / "new" / "deeper" / "cmp"
    result = runner.invoke(app, ["compare", logged["a"], "0" * 32, "--out", str(out)])
    assert result.exit_code == 2
    assert not (logged["store"] / "new").exists()


def test_promote_evidence_reads_the_tag_outside_the_shared_temporary_folder(logged, monkeypatch,
                                                                           tmp_path):
    shared_tmp = tmp_path / "shared-tmp"
    shared_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    downloads = _downloads(monkeypatch)
    client = MlflowClient()
    with private_folder(Path.cwd(), ".txresponse-promote-") as scratch:  # as promote does
        withheld = load_run(client, logged["b"], scratch)
        kept = load_run(client, logged["a"], scratch)
    assert withheld.predictions is None and withheld.predictions_logged is False
    assert kept.predictions is not None and kept.predictions_logged is True
    assert downloads and all(p.is_relative_to(work) and not p.exists() for p in downloads)
    assert list(work.iterdir()) == [] and list(shared_tmp.iterdir()) == []


# -- promote ---------------------------------------------------------------------------------

CRITERIA = PromotionCriteria()
STRICT = CRITERIA.model_copy(update={"paired": CRITERIA.paired.model_copy(
    update={"when_test_sets_differ": "fail"})})


def _table(seed=1):
    frame = predictions(patients(300, seed=5), 1.0, seed=seed)
    cohort = patients(300, seed=5)
    return pd.DataFrame({"patient_id": cohort["patient_id"], "label": cohort["label"],
                         "probability": frame})


def test_promote_says_the_champions_predictions_were_left_out_by_policy():
    candidate = _run("b" * 32, {}, {TAG: "true"}, _table())
    results = paired_criteria(CRITERIA, candidate, _run("a" * 32, {}, {TAG: "false"}))
    assert [r.status for r in results] == [NOT_APPLICABLE, NOT_APPLICABLE]
    assert results[0].observed == (
        "not applicable: the champion's test predictions are not in the tracking store (its "
        "evaluation ran with evaluate.log_patient_predictions: false)")
    never = paired_criteria(CRITERIA, candidate, _run("a" * 32, {}))
    assert [r.status for r in never] == [NOT_APPLICABLE, NOT_APPLICABLE]
    assert never[0].observed.endswith("(evaluation/test_predictions.csv): it was not evaluated")
    assert [r.status for r in paired_criteria(STRICT, candidate,
                                              _run("a" * 32, {}, {TAG: "false"}))] == \
        [FAIL, FAIL]


def test_promote_a_candidate_whose_predictions_were_left_out_by_policy():
    metrics = {ROLE + k: v for k, v in {
        "auroc": 0.7, "auroc_ci_low": 0.65, "auroc_ci_high": 0.75, "brier": 0.2,
        "calibration_intercept": 0.0, "calibration_slope": 1.0, "ici": 0.01,
        "n_test": 300}.items()}
    candidate = _run("b" * 32, metrics, {TAG: "false"})
    champion = _run("a" * 32, metrics, {TAG: "true"}, _table())
    results = evaluate_criteria(CRITERIA, candidate, champion)
    paired = next(r for r in results if r.name == PAIRED_AUROC)
    assert paired.status == NOT_APPLICABLE and "the candidate's test predictions are not in " \
        "the tracking store (its evaluation ran with " \
        "evaluate.log_patient_predictions: false)" in paired.observed
    assert all(r.status in (PASS, NOT_APPLICABLE) for r in results)
    strict = next(r for r in evaluate_criteria(STRICT, candidate, champion)
                  if r.name == PAIRED_AUROC)
    assert strict.status == FAIL
    # A candidate with no predictions and no record of the policy still fails.
    unevaluated = _run("b" * 32, metrics)
    failed = next(r for r in evaluate_criteria(CRITERIA, unevaluated, champion)
                  if r.name == PAIRED_AUROC)
    assert failed.status == FAIL and failed.observed.endswith("it was not evaluated")
