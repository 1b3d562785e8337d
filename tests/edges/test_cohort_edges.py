"""Cohorts that are not the demo: features nobody recorded, one or no numeric feature, only
categorical features, tiny outcome classes. Each either trains with exactly additive
explanations or is refused with a message that says what was found and what is needed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.selection import unusable_features
from models.explain import explain
from models.feasibility import CannotTrain, check_labels, check_split, needed_per_outcome
from models.layout import FeatureLayout
from models.ood import fit_domain, flag
from models.split import split_patients
from models.training import train
from models.uncertainty import _resample


def _cohort(n: int, seed: int = 0, **columns) -> tuple[pd.DataFrame, pd.DataFrame]:
    """features and labels for n patients; each keyword is a column-maker(rng, n)."""
    rng = np.random.default_rng(seed)
    ids = [f"pt-{i:04d}" for i in range(n)]
    features = pd.DataFrame({"patient_id": ids} | {k: f(rng, n) for k, f in columns.items()})
    numeric = [k for k in columns if features[k].dtype != object]
    signal = np.zeros(n)
    for k in numeric:
        values = pd.to_numeric(features[k], errors="coerce").astype(float).fillna(0).to_numpy()
        spread = values.std() or 1.0
        signal += (values - values.mean()) / spread
    for k in columns:
        if features[k].dtype == object:
            signal += 1.5 * (features[k] == features[k].iloc[0]).to_numpy()
    labels = pd.DataFrame({"patient_id": ids,
                           "label": (rng.random(n) < 1 / (1 + np.exp(-0.8 * signal + 0.2)))
                           .astype(int)})
    return features, labels


def _numeric(rng, n):
    return rng.normal(30, 6, n)


def _category(rng, n):
    return pd.Series(rng.choice(["iv", "intranasal", "oral"], n), dtype=object)


def _never(rng, n):
    return pd.Series([np.nan] * n, dtype="Float64")


def _constant(rng, n):
    return np.full(n, 1.0)


def _train(features, labels, seed=1):
    split = split_patients(labels, None, 0.25, seed)
    outcome = train(features, labels, split, model="auto", calibrator="platt", cv_folds=3,
                    search_budget=1, seed=seed, uncertainty_replicates=3)
    return outcome, split


def _assert_additive(outcome, features, split):
    test_ids = split.loc[split["set"] == "test", "patient_id"]
    rows = features[features["patient_id"].isin(test_ids)]
    for model in outcome.models.values():
        e = explain(model, rows)
        np.testing.assert_allclose(e.additivity_gap, 0, atol=1e-9)


def test_rule_leaves_out_never_recorded_and_constant_features_with_a_reason():
    frame = pd.DataFrame({"patient_id": ["a", "b", "c"],
                          "baseline_hamd17": pd.Series([np.nan] * 3, dtype="Float64"),
                          "lives_alone": [1, 1, np.nan], "dose": [0.5, 0.5, 0.5],
                          "route": ["iv", "iv", None], "age_years": [30, 40, 50],
                          "sex": ["female", "male", None]})
    reasons = unusable_features(frame)
    assert set(reasons) == {"baseline_hamd17", "lives_alone", "dose", "route"}
    assert reasons["baseline_hamd17"] == "not recorded for any of the 3 development patients"
    assert reasons["lives_alone"] == ("the same value (1.0) for all 2 development patients "
                                      "who have it (1 have none)")
    assert reasons["dose"] == "the same value (0.5) for all 3 development patients"


def test_scales_nobody_rated_are_not_model_features_and_training_runs():
    # The first crash of the issue: an all-missing registered scale reached the spline.
    features, labels = _cohort(300, baseline_madrs=_numeric, baseline_hamd17=_never,
                               route=_category, dose=_constant)
    outcome, split = _train(features, labels)
    assert outcome.layout.order == ["baseline_madrs", "route"]
    assert set(outcome.layout.excluded) == {"baseline_hamd17", "dose"}
    _assert_additive(outcome, features, split)


@pytest.mark.parametrize("columns", [
    {"baseline_madrs": _numeric},                               # one numeric feature
    {"route": _category},                                       # only categorical
    {"route": _category, "sex": _category, "flag": lambda r, n: r.integers(0, 2, n)},
])
def test_trains_on_one_numeric_or_only_categorical_features(columns):
    features, labels = _cohort(240, seed=3, **columns)
    outcome, split = _train(features, labels)
    _assert_additive(outcome, features, split)
    # The out-of-distribution reference works with zero or one numeric feature.
    ood, warnings, _ = flag(outcome.domain, outcome.layout, features)
    assert len(ood) == len(features)


def test_ood_reference_with_one_numeric_feature_flags_a_far_patient():
    features, _ = _cohort(200, seed=4, baseline_madrs=_numeric)
    layout = FeatureLayout.fit(features)
    reference = fit_domain(layout, layout.frame(features))
    assert np.shape(reference.inverse_covariance) == (1, 1)
    far = pd.DataFrame({"patient_id": ["x"], "baseline_madrs": [59.0]})
    ood, warnings, _ = flag(reference, layout, far)
    assert ood[0] == 1 and "above the highest value" in warnings[0]


def test_a_category_never_seen_in_development_is_flagged_and_treated_as_missing():
    features, labels = _cohort(240, seed=5, baseline_madrs=_numeric, route=_category)
    outcome, _ = _train(features, labels)
    new = pd.DataFrame({"patient_id": ["new-1"], "baseline_madrs": [30.0],
                        "route": ["subcutaneous"]})
    ood, warnings, _ = flag(outcome.domain, outcome.layout, new)
    assert ood[0] == 1 and "'subcutaneous' was never seen" in warnings[0]
    e = explain(outcome.models[outcome.candidate], new)
    assert abs(e.additivity_gap[0]) < 1e-9


def _search(name, oof, auroc, log_loss=0.6):
    from models.tuning import SearchResult
    return SearchResult(name, {}, [], {}, log_loss, auroc, np.asarray(oof, dtype=float))


def test_a_classifier_that_cannot_rank_patients_is_never_the_candidate():
    from models.calibration import PlattCalibrator
    from models.procedure import choose, no_signal

    good = PlattCalibrator(0.0, 1.0)
    assert "same out-of-fold prediction" in no_signal(_search("lightgbm", [0.3] * 5, 0.5), good)
    assert "no better than chance" in no_signal(_search("x", [0.2, 0.4], 0.47), good)
    assert "higher predictions went with fewer" in no_signal(_search("x", [0.2, 0.4], 0.6),
                                                              PlattCalibrator(-5.5, -4.36))
    assert no_signal(_search("x", [0.2, 0.4], 0.6), good) is None
    # The constant LightGBM of a 72-patient cohort had the lower log loss and still loses.
    searches = {"lightgbm": 0.55, "logistic": 0.58}  # calibrated cross-validated log loss
    unusable = {"lightgbm": "it gave every patient the same out-of-fold prediction"}
    assert choose("auto", searches, unusable, n_patients=72, n_events=19) == "logistic"
    with pytest.raises(CannotTrain, match=r"72 development patients \(19 with the outcome\)"):
        choose("lightgbm", searches, unusable, n_patients=72, n_events=19)
    with pytest.raises(CannotTrain, match="A model would give every patient about the same"):
        choose("auto", searches, unusable | {"logistic": "chance"}, n_patients=72,
               n_events=19)


def test_no_usable_feature_is_refused_clearly():
    features, labels = _cohort(200, seed=6, baseline_hamd17=_never, dose=_constant)
    with pytest.raises(CannotTrain, match="no characteristic varies"):
        _train(features, labels)


@pytest.mark.parametrize("labels, message", [
    (pd.Series([pd.NA] * 40, dtype="Int64"), "none of the 40 patients has an outcome label"),
    (pd.Series([1] * 38, dtype="Int64"), "38 labelled patients, 38 responders and 0 non-"),
    (pd.Series([1] * 6 + [0] * 32, dtype="Int64"),
     "38 labelled patients, 6 responders and 32 non-responders: the pipeline needs at least 10"),
])
def test_cohorts_that_cannot_support_a_model_are_refused_with_what_was_found(labels, message):
    with pytest.raises(CannotTrain, match=message):
        check_labels(labels, cv_folds=5, test_fraction=0.25)


def test_the_floor_follows_the_cross_validation_folds():
    assert needed_per_outcome(5, 0.25) == 10
    assert needed_per_outcome(10, 0.25) == 15
    check_labels(pd.Series([1] * 10 + [0] * 10, dtype="Int64"), 5, 0.25)  # exactly enough


def test_a_held_out_site_with_one_outcome_is_refused():
    labels = pd.DataFrame({"patient_id": [f"p{i}" for i in range(60)],
                           "label": [1, 0] * 25 + [1] * 10})
    sites = pd.Series(["a"] * 50 + ["b"] * 10, index=labels["patient_id"])
    split = split_patients(labels, sites, 0.25, 0, holdout_site="b")
    with pytest.raises(CannotTrain, match="test set holds 10 patients, 10 responders and 0"):
        check_split(split, labels, cv_folds=5)


def test_bootstrap_resamples_always_hold_both_outcomes():
    y = np.array([1, 1] + [0] * 18)
    rng = np.random.default_rng(0)
    for _ in range(200):
        rows, out_of_bag = _resample(rng, y)
        assert set(y[rows]) == {0, 1} and set(y[out_of_bag]) == {0, 1}


def test_train_command_refuses_without_a_traceback(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    features, labels = _cohort(38, seed=7, baseline_madrs=_numeric)
    labels["label"] = [1] * 6 + [0] * 32
    (tmp_path / "features").mkdir()
    (tmp_path / "validated").mkdir()
    features.to_parquet(tmp_path / "features" / "features.parquet", index=False)
    labels.to_parquet(tmp_path / "features" / "labels.parquet", index=False)
    features[["patient_id"]].to_parquet(tmp_path / "validated" / "patients.parquet")
    result = CliRunner().invoke(app, [
        "train", "--features", str(tmp_path / "features"), "--validated",
        str(tmp_path / "validated"), "--out", str(tmp_path / "model"), "--report",
        str(tmp_path / "training.json")])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "38 labelled patients, 6 responders and 32 non-responders" in result.output
    assert not (tmp_path / "model").exists()


def test_features_stage_reports_and_documents_what_it_leaves_out(tmp_path, repo):
    """A clinic that rates MADRS, PHQ-9 and GAD-7 only, with no biomarkers table."""
    import json

    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.core.tables import write_csv
    from pipeline.simulation import simulate_cohort

    tables = simulate_cohort(n_patients=150, n_sites=2, seed=21).tables
    raw = tmp_path / "raw"
    for name, table in tables.items():
        if name == "biomarkers":
            continue
        if name == "assessments":
            table = table[table["instrument"].isin(["madrs", "phq9", "gad7"])]
        write_csv(table, raw / f"{name}.csv")
    params = repo / "configs" / "params.yaml"
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", "--raw", str(raw), "--out",
                                    str(tmp_path / "validated"), "--report",
                                    str(tmp_path / "validation"), "--params", str(params)])
    assert validated.exit_code == 0, validated.output
    result = runner.invoke(app, [
        "features", "--validated", str(tmp_path / "validated"), "--out",
        str(tmp_path / "features"), "--report", str(tmp_path / "features.json"),
        "--dictionary", str(tmp_path / "dictionary.md"), "--params", str(params)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "features.json").read_text())
    never = {"baseline_hamd17", "baseline_qids_sr16", "baseline_bdi2", "crp_mg_l",
             "il6_pg_ml", "bdnf_serum_ng_ml", "bdnf_met_alleles"}
    assert never <= set(report["left_out"])
    assert "baseline_madrs" not in report["left_out"]
    assert report["model_features"] == report["features"] - len(report["left_out"])
    rows = {r["name"]: r for r in report["dictionary"]}
    assert not rows["baseline_hamd17"]["used_by_model"]
    assert rows["baseline_hamd17"]["left_out_because"].startswith("not recorded for any of")
    markdown = (tmp_path / "dictionary.md").read_text()
    main_table, left_out_table = markdown.split("## Registered but not used")
    assert "`baseline_hamd17`" in left_out_table and "`baseline_hamd17`" not in main_table
    assert "`baseline_phq9`" in main_table
    assert report["estimand"]["missing_endpoint"] == "exclude"
    assert report["estimand"]["excluded_without_endpoint"] == \
        report["unlabelled_by_reason"].get("no endpoint rating in the endpoint window", 0)


def _card(repo, features_changes=None, evaluation_changes=None, **training_changes):
    import json

    from models.governance.card import CardInputs, card_context
    from models.governance.render import render_markdown

    def load(name):
        return json.loads((repo / "reports" / name).read_text(encoding="utf-8"))
    training = load("training.json") | training_changes
    inputs = CardInputs(run={"run_id": "r", "registered_model": "m", "version": "1"},
                        metrics=load("metrics.json"),
                        evaluation=load("evaluation.json") | (evaluation_changes or {}),
                        features=load("features.json") | (features_changes or {}),
                        training=training,
                        validation=load("validation/report.json"), sites={})
    return render_markdown(card_context(inputs))


def test_model_card_lists_left_out_features_and_warns_on_a_small_cohort(repo):
    from models.sample_size import assess

    small = assess(55, 25, 17, 0.051).to_dict()
    card = _card(repo, sample_size=small,
                 features_left_out={"baseline_hamd17": "not recorded for any of the 55 "
                                                       "development patients"})
    head = card.split("## Intended use")[0]
    assert "**Warning — sample size.**" in head and "SMALLER than the minimum of 2,915" in head
    assert "## Sample size" in card
    assert "| baseline HAM-D-17 (`baseline_hamd17`) | not recorded for any of the 55" in card
    assert "The data do not record the treating site" in card
    adequate = assess(20000, 9000, 17, 0.051).to_dict()
    assert "**Warning — sample size.**" not in _card(repo, sample_size=adequate)


@pytest.mark.parametrize("args, message", [
    (["score", "--data", "x", "--out", "y"],
     "no params file at configs/params.yaml"),
    (["train", "--features", "x", "--validated", "y", "--out", "z", "--report", "r",
      "--params", "{params}"],
     "train.search_budget: Input should be greater than or equal to 1"),
])
def test_configuration_problems_are_one_line_messages(tmp_path, args, message):
    import subprocess
    import sys
    from pathlib import Path

    params = tmp_path / "params.yaml"
    params.write_text("seed: 1\ndata: {raw_dir: x}\ntrain: {search_budget: 0}\n")
    binary = Path(sys.executable).parent / "txresponse"
    result = subprocess.run([str(binary), *[a.format(params=params) for a in args]],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in " ".join(result.stderr.split())


def test_a_remission_model_card_speaks_of_remission_and_says_what_was_not_analysed(repo):
    card = _card(repo, features_changes={"target": {
        "instrument": "hamd17", "instrument_label": "HAM-D-17", "definition": "remission",
        "remission_max": 7, "baseline_window": [-14, 0], "endpoint_window": [10, 28]}},
        evaluation_changes={"subgroups_skipped": {"route": "not recorded for any test "
                                                            "patient"}})
    assert "remission prevalence" in card and "predicted remitters" in card
    assert "responders" not in card.replace("non-remitters", "")
    assert "Remission: endpoint HAM-D-17 at or below the remission threshold (7 or less)" in card
    assert "Not analysed by route: not recorded for any test patient." in card
    assert "**Sites.** The data do not record the treating site." in card


def test_reports_say_when_the_model_learned_from_too_few_patients():
    from models.report.render import render_index
    from models.report.view import model_caution

    small = {"sample_size": {"adequate": False, "actual_n": 72, "actual_events": 33,
                             "required_n": 702, "required_events": 322, "reason": None}}
    assert "learned from 72 patients" in model_caution(small)
    assert "at least 702" in model_caution(small)
    assert model_caution({"sample_size": {"adequate": True}}) == ""
    assert model_caution({}) == ""
    assert "could not be judged" in model_caution(
        {"sample_size": {"adequate": None, "reason": "R² not above 0"}})
    page = render_index([], small, "remission", "logistic")
    assert 'id="model-caution"' in page and "at least 702" in page
    assert 'id="model-caution"' not in render_index([], {}, "remission", "logistic")


def test_score_names_model_features_no_new_patient_has():
    from collections import Counter

    from pipeline.score import never_recorded
    from pipeline.score_chunks import ChunkResult

    chunks = [ChunkResult(0, recorded=Counter({"baseline_madrs": 3, "bmi": 0})),
              ChunkResult(1, recorded=Counter({"baseline_madrs": 2, "bmi": 0}))]
    assert never_recorded(chunks, ["baseline_madrs", "bmi", "route"],
                          {"bmi": "body-mass index"}) == ["body-mass index", "route"]


def test_platt_calibration_stays_finite_when_the_predictions_separate_the_outcomes():
    from models.calibration import MAX_PLATT_SLOPE, fit_calibrator

    y = np.array([0] * 10 + [1] * 10)
    p = np.r_[np.linspace(0.2, 0.45, 10), np.linspace(0.55, 0.8, 10)]  # perfectly separated
    calibrator = fit_calibrator("platt", y, p)
    assert 0 < calibrator.slope <= MAX_PLATT_SLOPE
    calibrated = calibrator.transform(p)
    assert 0.01 < calibrated.min() and calibrated.max() < 0.99


def test_calibration_curve_with_many_tied_predictions_is_the_observed_rate():
    """A model on a few categorical features predicts a handful of values; lowess then divided
    by zero and reported an observed rate of 1.0 where it was 0.5 (ICI 0.80 instead of 0.40)."""
    from models.calibration_metrics import ici, smoothed_calibration

    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    p = np.r_[np.full(12, 0.05), [0.5, 0.96, 0.97]]
    np.testing.assert_allclose(smoothed_calibration(y, p)[:12], 0.5)
    assert ici(y, p).ici == pytest.approx((12 * 0.45 + 0.5 + 0.04 + 0.03) / 15)
    # Continuous predictions still get the lowess curve.
    rng = np.random.default_rng(1)
    q = rng.uniform(0.1, 0.9, 300)
    smooth = smoothed_calibration((rng.random(300) < q).astype(int), q)
    assert len(np.unique(smooth.round(6))) > 50


def test_the_unused_dose_unit_is_not_reported_as_not_recorded():
    """One dose feature per unit: an IV patient (mg/kg) has no mg dose by design."""
    from models.report.phrasing import Characteristic
    from models.report.view import patient_view

    dictionary = {
        "dose_mg_per_kg": Characteristic("dose_mg_per_kg", "weight-based first dose", "mg/kg",
                                         alternatives="first_dose"),
        "dose_mg": Characteristic("dose_mg", "fixed first dose", "mg", alternatives="first_dose"),
        "bmi": Characteristic("bmi", "body-mass index", "kg/m²"),
    }
    explanations = [
        {"feature": "dose_mg_per_kg", "value": "0.5", "contribution_points": 1.0,
         "contribution_logodds": 0.04},
        {"feature": "dose_mg", "value": "", "contribution_points": 0.0,
         "contribution_logodds": 0.0},
        {"feature": "bmi", "value": "", "contribution_points": -2.0,
         "contribution_logodds": -0.08},
    ]
    prediction = {"patient_id": "p1", "calibrated_probability": 0.5, "base_probability": 0.5,
                  "interval_low": 0.4, "interval_high": 0.6, "n_missing_features": 2}
    view = patient_view(prediction, explanations, dictionary, {})
    assert view["missing"] == ["body-mass index"] and view["n_missing"] == 1


def test_each_clinician_report_states_the_estimand():
    from models.report.phrasing import estimand_sentence

    exclude = estimand_sentence({"definition": "response", "missing_endpoint": "exclude"})
    assert "only from patients who completed the course" in exclude
    assert "somewhat lower" in exclude
    counted = estimand_sentence({"definition": "remission", "missing_endpoint": "non_response"})
    assert "counted as not reaching remission" in counted
    assert estimand_sentence({"definition": "response"}) == ""


@pytest.mark.parametrize("rule", ["exclude", "non_response"])
def test_the_estimand_sentence_passes_the_wording_scan(rule):
    import re

    from models.report.phrasing import estimand_sentence
    from tests.report.test_wording import FORBIDDEN

    sentence = estimand_sentence({"definition": "response", "missing_endpoint": rule})
    found = [kind for kind, pattern in FORBIDDEN.items()
             if re.search(pattern, sentence, re.IGNORECASE)]
    assert not found, (sentence, found)


def test_the_model_card_states_the_estimand(repo):
    card = _card(repo, features_changes={"estimand": {
        "missing_endpoint": "non_response", "description": "patients without an endpoint "
        "rating were counted as not reaching response: the chance is that of completing the "
        "course with response", "excluded_without_endpoint": 0,
        "counted_as_not_reaching_outcome": 166}})
    assert ("**Estimand.** `target.missing_endpoint: non_response` — patients without an "
            "endpoint rating were counted as not reaching response") in card
    assert "(166 patients without an endpoint rating counted as not reaching the outcome)" in card


def test_the_unused_dose_unit_is_folded_into_the_recorded_one_in_what_clinicians_read():
    from models.report.phrasing import Characteristic
    from models.report.view import patient_view

    dictionary = {
        "dose_mg_per_kg": Characteristic("dose_mg_per_kg", "weight-based first dose", "mg/kg",
                                         alternatives="first_dose"),
        "dose_mg": Characteristic("dose_mg", "fixed first dose", "mg", alternatives="first_dose"),
    }
    explanations = [
        {"feature": "dose_mg_per_kg", "value": "0.5", "contribution_points": 3.0,
         "contribution_logodds": 0.12},
        {"feature": "dose_mg", "value": "", "contribution_points": 1.0,
         "contribution_logodds": 0.04},
    ]
    prediction = {"patient_id": "p1", "calibrated_probability": 0.54, "base_probability": 0.5}
    view = patient_view(prediction, explanations, dictionary, {})
    shown = view["higher"] + view["lower"]
    assert [f["feature"] for f in shown] == ["dose_mg_per_kg"]
    assert shown[0]["points"] == pytest.approx(4.0)
    assert view["n_characteristics"] == 1 and view["missing"] == []
    assert len(view["appendix"]) == 2  # the technical appendix keeps each feature


def test_ood_counts_the_dose_once():
    from models.ood import missing_characteristics

    frame = pd.DataFrame({"bmi": [np.nan, 25.0], "dose_mg_per_kg": [0.5, np.nan],
                          "dose_mg": [np.nan, np.nan]})
    missing, total = missing_characteristics(frame)
    assert missing.tolist() == [1, 1] and total == 2
