"""The promotion criteria on hand-written evidence: thresholds, missing figures, subgroups and
the paired comparison (the review core's pairing rule, target included), without MLflow."""
from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from models.governance.champion import (PAIRED_AUROC, PAIRED_BRIER, SUBGROUP,
                                        evaluate_criteria, paired_criteria, subgroup_criterion)
from models.governance.criteria import FAIL, NOT_APPLICABLE, PASS, absolute_criteria
from models.review.config import PromotionCriteria, load_criteria
from models.review.evidence import Run
from models.review.pairing import pair
from tests.conftest import REPO
from tests.governance.conftest import GOOD, predictions, subgroups

CRITERIA = PromotionCriteria()
STRICT = CRITERIA.model_copy(update={"paired": CRITERIA.paired.model_copy(
    update={"when_test_sets_differ": "fail"})})
TARGET = {"target.instrument": "madrs", "target.definition": "response"}


def _frame(seed=1, **kwargs):
    return predictions(seed=seed, **kwargs)[["patient_id", "label", "candidate_calibrated"]] \
        .rename(columns={"candidate_calibrated": "probability"})


def _run(seed=1, tags=TARGET, groups=None, frame=None, **kwargs) -> Run:
    """A run as promote reads it: GOOD metrics, a target definition, subgroups, predictions."""
    return Run(f"{seed:032x}", metrics={f"candidate_calibrated.{k}": v for k, v in GOOD.items()},
               tags=dict(tags), subgroups=groups,
               predictions=_frame(seed=seed, **kwargs) if frame is None else frame)


def _status(results, name):
    return next(r for r in results if r.name == name).status


def test_the_shipped_criteria_file_is_valid_and_its_hash_ignores_formatting(tmp_path):
    shipped = load_criteria(REPO / "configs" / "promotion.yaml")
    assert shipped.auroc_lower_bound_min == 0.60 and shipped.calibration_slope_range == (0.8, 1.2)
    assert shipped.paired.when_test_sets_differ == "pass"
    compact = tmp_path / "p.yaml"
    compact.write_text("paired: {seed: 20261126}\n", encoding="utf-8")
    assert load_criteria(compact).digest() == shipped.digest()  # same values, same hash
    typo = tmp_path / "typo.yaml"
    typo.write_text("ici_maximum: 0.5\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="ici_maximum"):
        load_criteria(typo)


@pytest.mark.parametrize("change, failing", [
    ({}, set()),
    ({"auroc_ci_low": 0.59}, {"auroc_lower_bound"}),
    ({"calibration_slope": 0.5}, {"calibration_slope"}),
    ({"calibration_slope": 1.25}, {"calibration_slope"}),
    ({"calibration_intercept": -0.25}, {"calibration_intercept"}),
    ({"ici": 0.051}, {"ici"}),
    ({"n_test": 199}, {"n_test"}),
    ({"calibration_slope": 0.8, "calibration_intercept": 0.2, "ici": 0.05, "n_test": 200,
      "auroc_ci_low": 0.60}, set()),  # bounds are inclusive
])
def test_absolute_thresholds(change, failing):
    results = absolute_criteria(CRITERIA, GOOD | change)
    assert {r.name for r in results if r.status == FAIL} == failing


def test_a_metric_that_was_never_logged_fails_rather_than_passes():
    metrics = {k: v for k, v in GOOD.items() if k != "ici"}
    result = next(r for r in absolute_criteria(CRITERIA, metrics) if r.name == "ici")
    assert result.status == FAIL and "not recorded" in result.observed


def test_subgroups_compare_only_where_both_are_big_enough():
    champion = subgroups(site_01=0.72, site_02=0.70)
    ok = subgroup_criterion(0.05, subgroups(site_01=0.68, site_02=0.71), champion)
    assert ok.status == PASS and "-0.040" in ok.observed
    bad = subgroup_criterion(0.05, subgroups(site_01=0.60, site_02=0.71), champion)
    assert bad.status == FAIL and "site=site_01 0.600 vs 0.720" in bad.observed
    # A subgroup "too small" in the champion's run cannot be compared.
    small = [dict(r, status="too small", auroc=None) if r["level"] == "site_01" else r
             for r in champion]
    assert subgroup_criterion(0.05, subgroups(site_01=0.50, site_02=0.71), small).status == PASS
    assert subgroup_criterion(0.05, None, champion).status == NOT_APPLICABLE


def test_paired_differences_use_the_same_patients():
    champion = _run(seed=1)
    results = paired_criteria(CRITERIA, _run(seed=2), champion)
    assert [r.status for r in results] == [PASS, PASS]
    assert "400 paired patients" in results[0].observed
    # Row order does not matter: patients are matched by id.
    shuffled = _run(seed=1, frame=champion.predictions.sample(frac=1, random_state=0))
    assert paired_criteria(CRITERIA, _run(seed=2), shuffled) == results
    worse = paired_criteria(CRITERIA, _run(seed=2, signal=0.0), _run(seed=1, signal=1.5))
    assert [r.status for r in worse] == [FAIL, FAIL]


def test_unpaired_test_sets_are_not_applicable_or_refused_as_configured():
    mine, other = _run(seed=2), _run(seed=1, ids_seed=9)
    assert pair(other, mine, "the champion", "the candidate").reason == \
        "different test patients: the champion has 400, the candidate has 400, 0 in common"
    relabelled = _run(seed=2, frame=mine.predictions.assign(
        label=np.where(np.arange(400) < 3, 1 - mine.predictions["label"],
                       mine.predictions["label"])))
    assert "3 of their labels differ" in pair(mine, relabelled).reason
    results = paired_criteria(CRITERIA, mine, other)
    assert [r.status for r in results] == [NOT_APPLICABLE, NOT_APPLICABLE]
    assert results[0].observed.startswith("not applicable: different test patients")
    assert [r.status for r in paired_criteria(STRICT, mine, other)] == [FAIL, FAIL]


def test_runs_predicting_different_targets_are_not_compared():
    """Same patients, same labels, but the candidate predicts remission and the champion
    response: the labels mean different things, so no champion-relative criterion applies
    (before the review core, promote paired them)."""
    champion = _run(seed=1, groups=subgroups(site_01=0.80))
    candidate = _run(seed=2, tags=TARGET | {"target.definition": "remission"},
                     groups=subgroups(site_01=0.60))
    results = {r.name: r for r in evaluate_criteria(CRITERIA, candidate, champion)}
    for name in (SUBGROUP, PAIRED_AUROC, PAIRED_BRIER):
        assert results[name].status == NOT_APPLICABLE, results[name]
        assert results[name].observed == (
            "not applicable: the runs predict different targets (target definition differ), "
            "so their labels do not mean the same thing")
    strict = {r.name: r.status for r in evaluate_criteria(STRICT, candidate, champion)}
    assert strict[PAIRED_AUROC] == strict[PAIRED_BRIER] == FAIL
    same = {r.name: r for r in evaluate_criteria(CRITERIA, _run(seed=2), champion)}
    assert "400 paired patients" in same[PAIRED_AUROC].observed


def test_the_subgroup_margin_comes_from_the_criteria_file(tmp_path):
    champion = _run(seed=1, groups=subgroups(site_01=0.72, site_02=0.70))
    candidate = _run(seed=2, groups=subgroups(site_01=0.62, site_02=0.71))  # a 0.10 drop
    shipped = load_criteria(REPO / "configs" / "promotion.yaml")
    verdict = {r.name: r for r in evaluate_criteria(shipped, candidate, champion)}[SUBGROUP]
    assert verdict.status == FAIL and "0.05 below" in verdict.required
    wider = tmp_path / "promotion.yaml"
    wider.write_text("subgroup_auroc_margin: 0.15\n", encoding="utf-8")
    verdict = {r.name: r for r in evaluate_criteria(load_criteria(wider), candidate,
                                                    champion)}[SUBGROUP]
    assert verdict.status == PASS and "0.15 below" in verdict.required


def test_no_champion_makes_relative_criteria_not_applicable():
    candidate = _run(groups=subgroups(site_01=0.7))
    results = evaluate_criteria(CRITERIA, candidate, None)
    assert [r.name for r in results][-3:] == ["subgroup_auroc_vs_champion", PAIRED_AUROC,
                                              PAIRED_BRIER]
    assert all(r.status == NOT_APPLICABLE for r in results[-3:])
    assert all(r.passed for r in results)
