"""Subgroup table: counts always, metrics only where the subgroup is large enough."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.subgroups import AGE_BANDS, age_band, level_metrics, subgroup_metrics


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(0)
    n = 400
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame({
        "sex": rng.choice(["female", "male"], n),
        "route": np.where(np.arange(n) < 25, "intranasal", "intravenous"),  # 25 < 30 patients
        "site": rng.choice(["a", "b", None], n, p=[0.6, 0.35, 0.05]),
    }, index=np.arange(1000, 1000 + n))  # an index unlike y's positions
    return frame, y, p


def test_counts_levels_and_metrics(cohort):
    frame, y, p = cohort
    table = subgroup_metrics(frame, y, p, {"sex": "sex", "site": frame["site"]})
    assert table.columns.tolist()[:7] == ["group", "level", "n", "events", "non_events",
                                          "prevalence", "status"]
    sex = table[table["group"] == "sex"].set_index("level")
    assert sex.index.tolist() == ["female", "male"]
    assert sex["n"].sum() == len(y) and sex["events"].sum() == y.sum()
    female = (frame["sex"] == "female").to_numpy()
    assert sex.loc["female", "auroc"] == pytest.approx(level_metrics(y[female], p[female])["auroc"])
    assert sex.loc["female", "prevalence"] == pytest.approx(y[female].mean())
    site = table[table["group"] == "site"]
    assert site["level"].tolist() == ["a", "b", "missing"]


def test_too_small_by_patients(cohort):
    frame, y, p = cohort
    route = subgroup_metrics(frame, y, p, {"route": "route"}).set_index("level")
    assert route.loc["intranasal", "status"] == "too small"
    assert route.loc["intranasal", "n"] == 25
    assert route.loc["intranasal", ["auroc", "brier", "calibration_slope", "ici"]].isna().all()
    assert route.loc["intravenous", "status"] == "ok"
    assert route.loc["intravenous", ["auroc", "brier", "calibration_slope", "ici"]].notna().all()


@pytest.mark.parametrize("events, status", [(9, "too small"), (10, "ok"), (30, "ok"),
                                            (31, "too small")])
def test_too_small_by_responders_or_non_responders(events, status):
    # 40 patients: fewer than 10 responders, or fewer than 10 non-responders, is too small.
    y = np.array([1] * events + [0] * (40 - events))
    p = np.linspace(0.1, 0.9, 40)
    table = subgroup_metrics(None, y, p, {"everyone": np.zeros(40)})
    assert table["status"].tolist() == [status]


def test_thresholds_are_arguments():
    y = np.array([1] * 10 + [0] * 10)
    p = np.linspace(0.1, 0.9, 20)
    assert subgroup_metrics(None, y, p, {"all": np.ones(20)})["status"].item() == "too small"
    assert subgroup_metrics(None, y, p, {"all": np.ones(20)}, min_n=20)["status"].item() == "ok"


def test_group_of_the_wrong_length_is_an_error(cohort):
    frame, y, p = cohort
    with pytest.raises(ValueError):
        subgroup_metrics(None, y, p, {"sex": frame["sex"].iloc[:10]})


def test_age_bands():
    bands = age_band(pd.Series([17, 18, 34.9, 35, 49, 50, 64, 65, 90, None]))
    assert bands.astype(object).where(bands.notna(), None).tolist() == [
        "<18", "18-34", "18-34", "35-49", "35-49", "50-64", "50-64", "65+", "65+", None]
    assert bands.cat.categories.tolist() == AGE_BANDS and bands.cat.ordered


def test_age_band_levels_keep_clinical_order_and_missing_comes_last():
    ages = pd.Series([70] * 40 + [20] * 40 + [40] * 40 + [np.nan] * 5)
    y = np.tile([0, 1], 62).tolist() + [1]
    p = np.linspace(0.05, 0.95, len(ages))
    table = subgroup_metrics(None, y, p, {"age_band": age_band(ages)})
    assert table["level"].tolist() == ["18-34", "35-49", "65+", "missing"]
    assert table.set_index("level").loc["missing", "status"] == "too small"


# -- intervals and the poor-subgroup rule (issue 13, item 7) ---------------------------------

def test_subgroups_big_enough_get_intervals_small_ones_none(cohort):
    frame, y, p = cohort
    table = subgroup_metrics(frame, y, p, {"route": "route"}, n_resamples=200, seed=3)
    route = table.set_index("level")
    for key in ("auroc", "brier", "calibration_intercept", "calibration_slope"):
        lower, upper = route.loc["intravenous", f"{key}_ci"]
        assert lower <= route.loc["intravenous", key] <= upper and lower < upper, key
        assert route.loc["intranasal", f"{key}_ci"] is None  # too small: no figure, no interval


def test_a_subgroup_with_poor_discrimination_or_calibration_is_judged_poor():
    from models.subgroups import PoorSubgroupRule

    rng = np.random.default_rng(8)
    n = 600
    older = np.arange(n) < 120
    p = rng.beta(2, 3, n)
    # Outcomes follow p for younger patients, but are unrelated to it for older ones.
    y = np.where(older, rng.random(n) < 0.35, rng.random(n) < p).astype(int)
    rule = PoorSubgroupRule(min_auroc=0.6, calibration_slope=(0.5, 1.5),
                            max_abs_calibration_intercept=0.5)
    table = subgroup_metrics(None, y, p, {"age": np.where(older, "65+", "18-64")},
                             n_resamples=200, seed=1, rule=rule).set_index("level")
    assert table.loc["65+", "status"] == "ok"  # big enough to judge
    reasons = table.loc["65+", "poor"]
    assert any(r.startswith("AUROC") for r in reasons), reasons
    assert any(r.startswith("calibration slope") for r in reasons), reasons
    assert table.loc["18-64", "poor"] == []
    # Without a rule nothing is judged; too-small subgroups are never judged.
    assert "poor" not in subgroup_metrics(None, y, p, {"age": older}).columns
    tiny = subgroup_metrics(None, y[:20], p[:20], {"all": np.ones(20)}, rule=rule)
    assert tiny["poor"].tolist() == [[]]


def test_the_rule_reads_point_estimates_against_the_configured_bounds():
    from models.subgroups import PoorSubgroupRule, judge

    rule = PoorSubgroupRule(min_auroc=0.6, calibration_slope=(0.5, 1.5),
                            max_abs_calibration_intercept=0.5)
    fine = {"auroc": 0.7, "calibration_slope": 1.0, "calibration_intercept": 0.1}
    assert judge(fine, rule) == []
    assert judge(fine | {"auroc": 0.474}, rule) == ["AUROC 0.474 below 0.60"]
    assert judge(fine | {"calibration_slope": 0.03}, rule) == [
        "calibration slope 0.03 outside 0.50–1.50"]
    assert judge(fine | {"calibration_intercept": -0.63}, rule) == [
        "calibration intercept -0.63 beyond ±0.50"]
    assert judge(fine | {"calibration_slope": float("nan")}, rule) == [
        "calibration slope could not be estimated"]


@pytest.mark.parametrize("rule, message", [
    ("{min_auroc: 0.6, min_aurco: 0.7}", "min_aurco"),
    ("{calibration_slope: [1.5, 0.5]}", "low < high"),
    ("{min_auroc: high}", "min_auroc"),
])
def test_the_poor_subgroup_rule_in_params_is_strict(tmp_path, rule, message):
    from pipeline.core.errors import UserError
    from pipeline.core.params import load_params

    path = tmp_path / "params.yaml"
    path.write_text(f"seed: 1\ndata: {{raw_dir: x}}\nevaluate: {{poor_subgroup: {rule}}}\n")
    with pytest.raises(UserError, match=message):
        load_params(path)
