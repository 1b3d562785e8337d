"""Net benefit and threshold metrics on a five-patient example worked by hand."""
from __future__ import annotations

import numpy as np
import pytest

from models.decision import decision_curve, default_thresholds, threshold_metrics

# Responders are patients 0, 1 and 4.
Y = np.array([1, 1, 0, 0, 1])
P = np.array([0.9, 0.6, 0.7, 0.2, 0.3])


def test_net_benefit_by_hand():
    curve = decision_curve(Y, P, thresholds=[0.25, 0.5, 0.95]).set_index("threshold")
    # pt 0.25 (odds 1/3): flagged 0.9, 0.6, 0.7, 0.3 → TP 3, FP 1 → 3/5 − 1/5 × 1/3 = 8/15.
    assert curve.loc[0.25, ["tp", "fp"]].tolist() == [3, 1]
    assert curve.loc[0.25, "net_benefit"] == pytest.approx(8 / 15)
    assert curve.loc[0.25, "net_benefit_treat_all"] == pytest.approx(3 / 5 - 2 / 5 / 3)
    # pt 0.5 (odds 1): flagged 0.9, 0.6, 0.7 → TP 2, FP 1 → 2/5 − 1/5 = 1/5;
    # treat all: 3/5 − 2/5 × 1 = 1/5.
    assert curve.loc[0.5, "net_benefit"] == pytest.approx(1 / 5)
    assert curve.loc[0.5, "net_benefit_treat_all"] == pytest.approx(1 / 5)
    # Nobody flagged: net benefit 0, the same as treating none.
    assert curve.loc[0.95, "net_benefit"] == 0
    assert (curve["net_benefit_treat_none"] == 0).all()


def test_default_thresholds_are_exact_hundredths_from_5_to_80_percent():
    thresholds = default_thresholds()
    assert len(thresholds) == 76 and thresholds[0] == 0.05 and thresholds[-1] == 0.8
    assert 0.15 in thresholds  # np.arange(0.05, 0.801, 0.01) gives 0.15000000000000002
    assert decision_curve(Y, P)["threshold"].tolist() == thresholds.tolist()


def test_decision_curve_rejects_thresholds_of_0_or_1():
    with pytest.raises(ValueError):
        decision_curve(Y, P, thresholds=[0.0, 0.5])
    with pytest.raises(ValueError):
        decision_curve(Y, P, thresholds=[1.0])


def test_threshold_metrics_by_hand():
    table = threshold_metrics(Y, P, [0.5]).iloc[0]
    assert table[["tp", "fp", "tn", "fn"]].tolist() == [2, 1, 1, 1]
    assert table["sensitivity"] == pytest.approx(2 / 3)
    assert table["specificity"] == pytest.approx(1 / 2)
    assert table["ppv"] == pytest.approx(2 / 3)
    assert table["npv"] == pytest.approx(1 / 2)


def test_threshold_equal_to_a_prediction_counts_as_positive():
    assert threshold_metrics(Y, P, [0.6]).iloc[0]["tp"] == 2


def test_zero_denominators_give_nan_not_an_error():
    table = threshold_metrics(Y, P, [0.0, 0.95]).set_index("threshold")
    assert np.isnan(table.loc[0.0, "npv"]) and table.loc[0.0, "sensitivity"] == 1
    assert np.isnan(table.loc[0.95, "ppv"]) and table.loc[0.95, "specificity"] == 1
    assert table.loc[0.95, "npv"] == pytest.approx(2 / 5)
    only_non_responders = threshold_metrics([0, 0], [0.2, 0.7], [0.5]).iloc[0]
    assert np.isnan(only_non_responders["sensitivity"])


# -- with intervals (issue 13, item 7) -------------------------------------------------------

def _cohort(n: int, seed: int):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, n)
    return (rng.random(n) < p).astype(int), p


def test_net_benefit_against_treat_all_with_intervals_at_the_configured_thresholds():
    from models.decision import clinical_utility

    y, p = _cohort(500, seed=11)
    table = clinical_utility(y, p, [0.3, 0.5], n_resamples=300, seed=1).set_index("threshold")
    curve = decision_curve(y, p, thresholds=[0.3, 0.5]).set_index("threshold")
    for t in (0.3, 0.5):
        row = table.loc[t]
        assert row["net_benefit"] == pytest.approx(curve.loc[t, "net_benefit"])
        assert row["net_benefit_treat_all"] == pytest.approx(curve.loc[t, "net_benefit_treat_all"])
        assert row["net_benefit_vs_treat_all"] == pytest.approx(
            row["net_benefit"] - row["net_benefit_treat_all"])
        for key in ("net_benefit", "net_benefit_treat_all", "net_benefit_vs_treat_all"):
            lower, upper = row[f"{key}_ci"]
            assert lower <= row[key] <= upper, (t, key)
            assert upper - lower > 0.01, (t, key)  # treat-all varies too: patients resampled
    # Paired: the difference's interval is not the two intervals' difference.
    row = table.loc[0.3]
    naive = row["net_benefit_ci"][1] - row["net_benefit_treat_all_ci"][0]
    assert row["net_benefit_vs_treat_all_ci"][1] < naive
    assert clinical_utility(y, p, [0.3], n_resamples=300, seed=1).equals(
        clinical_utility(y, p, [0.3], n_resamples=300, seed=1))


def test_threshold_metrics_carry_intervals():
    from models.decision import threshold_metrics_with_intervals

    y, p = _cohort(500, seed=12)
    table = threshold_metrics_with_intervals(y, p, [0.3, 0.5, 0.7], n_resamples=300, seed=2)
    plain = threshold_metrics(y, p, [0.3, 0.5, 0.7])
    assert table[plain.columns].equals(plain)
    for _, row in table.iterrows():
        for key in ("sensitivity", "specificity", "ppv", "npv"):
            lower, upper = row[f"{key}_ci"]
            assert lower <= row[key] <= upper and upper > lower, (row["threshold"], key)
