"""The promotion criteria on hand-written evidence: thresholds, missing figures, subgroups and
the paired comparison, without MLflow."""
from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from models.governance.champion import (PAIRED_AUROC, PAIRED_BRIER, evaluate_criteria,
                                        paired_criteria, subgroup_criterion, unpaired_reason)
from models.governance.criteria import (FAIL, NOT_APPLICABLE, PASS, PromotionCriteria,
                                        absolute_criteria, load_criteria)
from models.governance.evidence import Evidence
from tests.conftest import REPO
from tests.governance.conftest import GOOD, predictions, subgroups

CRITERIA = PromotionCriteria()


def _frame(seed=1, **kwargs):
    return predictions(seed=seed, **kwargs)[["patient_id", "label", "candidate_calibrated"]] \
        .rename(columns={"candidate_calibrated": "p"})


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
    champion = _frame(seed=1)
    results = paired_criteria(CRITERIA, _frame(seed=2), champion)
    assert [r.status for r in results] == [PASS, PASS]
    assert "400 paired patients" in results[0].observed
    # Row order does not matter: patients are matched by id.
    shuffled = champion.sample(frac=1, random_state=0)
    assert paired_criteria(CRITERIA, _frame(seed=2), shuffled) == results
    worse = paired_criteria(CRITERIA, _frame(seed=2, signal=0.0), _frame(seed=1, signal=1.5))
    assert [r.status for r in worse] == [FAIL, FAIL]


def test_unpaired_test_sets_are_not_applicable_or_refused_as_configured():
    mine, other = _frame(seed=2), _frame(seed=1, ids_seed=9)
    assert unpaired_reason(mine, other).startswith("different test patients (400 vs 400")
    relabelled = mine.assign(label=np.where(np.arange(400) < 3, 1 - mine["label"], mine["label"]))
    assert "different test labels for 3 of 400" in unpaired_reason(relabelled, mine)
    results = paired_criteria(CRITERIA, mine, other)
    assert [r.status for r in results] == [NOT_APPLICABLE, NOT_APPLICABLE]
    assert results[0].observed.startswith("not applicable: different test patients")
    strict = CRITERIA.model_copy(update={"paired": CRITERIA.paired.model_copy(
        update={"when_test_sets_differ": "fail"})})
    assert [r.status for r in paired_criteria(strict, mine, other)] == [FAIL, FAIL]


def test_no_champion_makes_relative_criteria_not_applicable():
    candidate = Evidence("run", GOOD, subgroups(site_01=0.7), _frame())
    results = evaluate_criteria(CRITERIA, candidate, None)
    assert [r.name for r in results][-3:] == ["subgroup_auroc_vs_champion", PAIRED_AUROC,
                                              PAIRED_BRIER]
    assert all(r.status == NOT_APPLICABLE for r in results[-3:])
    assert all(r.passed for r in results)
