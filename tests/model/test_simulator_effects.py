"""The effects the simulator plants are real and recoverable from the tables it writes.

Features are derived here from the written tables with plain pandas, independently of the
pipeline's feature code, and a logistic regression is fitted on a large draw.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from pipeline.simulation import simulate_cohort
from tests.support import madrs_response

ANTIDEPRESSANTS = ["ssri", "snri", "tca", "maoi", "bupropion", "mirtazapine",
                   "other_antidepressant"]


def _design(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    patients = tables["patients"].set_index("patient_id")
    t = tables["treatments"]
    failed = t[t["treatment_class"].isin(ANTIDEPRESSANTS) & (t["adequate_trial"] == 1)
               & t["outcome"].isin(["none", "partial", "intolerant"])]
    benzo = t[(t["treatment_class"] == "benzodiazepine") & (t["ongoing_at_index"] == 1)]
    b = tables["biomarkers"]
    met = b[b["marker"] == "bdnf_met_alleles"].groupby("patient_id")["value"].last()
    route = tables["sessions"].query("day == 0").set_index("patient_id")["route"]
    x = pd.DataFrame(index=patients.index)
    x["bmi_per_5"] = pd.to_numeric(patients["bmi"]) / 5
    x["family_history_aud"] = pd.to_numeric(patients["family_history_aud"])
    x["prior_suicide_attempt"] = patients["prior_suicide_attempt"]
    x["failed_trials"] = failed.groupby("patient_id").size().reindex(x.index, fill_value=0)
    x["benzodiazepine_at_index"] = x.index.isin(benzo["patient_id"]).astype(int)
    # A patient whose history was not exported has unknown history, not none: left out here.
    exported = x.index.isin(t["patient_id"])
    x.loc[~exported, ["failed_trials", "benzodiazepine_at_index"]] = np.nan
    x["met_alleles"] = met.reindex(x.index)
    x["intranasal"] = (route.reindex(x.index) == "intranasal").astype(int)
    x["male"] = (patients["sex"] == "male").astype(int)          # planted null
    x["comorbid_ptsd"] = patients["comorbid_ptsd"]                # planted null
    x["lives_alone"] = patients["lives_alone"]                    # planted null
    return x


@pytest.fixture(scope="module")
def large_draw():
    cohort = simulate_cohort(n_patients=20000, n_sites=4, seed=3)
    x = _design(cohort.tables)
    y = madrs_response(cohort.tables["assessments"])
    data = x.join(y, how="inner").dropna()
    return cohort, data


def test_planted_effects_recovered_in_direction(large_draw):
    _, data = large_draw
    x = data.drop(columns="response")
    fit = LogisticRegression(C=1e6, max_iter=2000).fit((x - x.mean()) / x.std(), data["response"])
    coef = dict(zip(x.columns, fit.coef_[0]))
    for better in ("bmi_per_5", "family_history_aud"):
        assert coef[better] > 0.1, (better, coef[better])
    for worse in ("prior_suicide_attempt", "failed_trials", "benzodiazepine_at_index",
                  "met_alleles", "intranasal"):
        assert coef[worse] < -0.05, (worse, coef[worse])
    # Null effects are small next to the real ones.
    for null in ("male", "comorbid_ptsd", "lives_alone"):
        assert abs(coef[null]) < 0.06, (null, coef[null])


def test_biomarkers_missing_not_at_random(large_draw):
    cohort, _ = large_draw
    # CRP is ordered more often when it is high: measured values run above the cohort's truth.
    crp = cohort.tables["biomarkers"].query("marker == 'crp_mg_l' and day > -31")["value"]
    assert (crp >= 3).mean() > 0.40  # about 28 % of all patients have CRP >= 3 mg/L


def test_default_demo_settings_are_realistic():
    # The bounds for the documented demo settings: the best possible AUROC (from the
    # true probabilities) in 0.72-0.85 and response prevalence in 40-60 %, on several seeds.
    for seed in (20261126, 1, 2):
        cohort = simulate_cohort(n_patients=2000, n_sites=4, seed=seed)
        y = madrs_response(cohort.tables["assessments"])
        truth = cohort.truth.set_index("patient_id")["true_probability"].reindex(y.index)
        assert 0.40 <= y.mean() <= 0.60, (seed, y.mean())
        assert 0.72 <= roc_auc_score(y, truth) <= 0.85, seed


def test_site_base_rates_differ(large_draw):
    cohort, data = large_draw
    site = cohort.tables["patients"].set_index("patient_id")["site"]
    rates = data["response"].groupby(site.reindex(data.index)).mean()
    assert rates.max() - rates.min() > 0.05
    assert np.all(rates > 0.2)  # placebo-level response is far from zero everywhere


def test_history_not_exported_is_independent_of_outcome(large_draw):
    # Issue 13: a few percent of histories are missing completely at random, so a model learns
    # what "history not recorded" means without it standing for a better or worse outcome.
    cohort, _ = large_draw
    truth = cohort.truth.set_index("patient_id")["true_probability"]
    exported = truth.index.isin(cohort.tables["treatments"]["patient_id"])
    assert 0.03 <= 1 - exported.mean() <= 0.07
    assert abs(truth[~exported].mean() - truth[exported].mean()) < 0.02


def test_current_episode_treatments_start_inside_the_recorded_episode(large_draw):
    # The feature stage counts failed trials, augmentation and ECT from day
    # -episode_months x 30.44 on (docs/features.md). The simulated current-episode history
    # must lie inside that window, or the features would drop planted failures.
    cohort, _ = large_draw
    episode = cohort.tables["patients"].set_index("patient_id")["episode_months"]
    t = cohort.tables["treatments"]
    current = t[t["outcome"] != "response"]  # a response from an earlier episode is older
    start = -pd.to_numeric(current["patient_id"].map(episode)) * 30.44
    known = start.notna()
    outside = current.loc[known & (current["start_day"] < start)]
    assert outside.empty, outside.head()
    assert (current["start_day"] < 0).all()  # a trial before the first session, not on it
