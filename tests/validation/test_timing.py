"""Day 0 before or after the first dose: the optional `timing` column of `assessments` and
`biomarkers` (issue 13, item 3).

A MADRS taken four hours after the first infusion shows ketamine's rapid effect; it must never
become the baseline. Validation accepts `pre_dose` / `post_dose` / empty, does not call a pre-dose
and a post-dose rating of one day a conflict, refuses `post_dose` before day 0 (there is no dose
before the first session), and counts the day-0 records nobody marked.
"""
from __future__ import annotations

import json

import pandas as pd


def _quarantine(run, table: str) -> pd.DataFrame:
    return pd.read_csv(run.out / "quarantine" / f"{table}.csv", dtype=str, keep_default_na=False)


def _report(run) -> dict:
    return json.loads((run.report / "report.json").read_text())


TIMED = ("patient_id,day,instrument,score,timing\n"
         "pt-a,-7,madrs,35,\n"
         "pt-a,0,madrs,32,pre_dose\n"
         "pt-a,0,madrs,20,post_dose\n"       # the 4-hour rating: not a conflict
         "pt-a,14,madrs,12,\n"
         "pt-b,0,madrs,40,\n"                # unmarked: taken as pre-dose ...
         "pt-b,0,madrs,30,post_dose\n"       # ... so this is not a conflict either
         "pt-b,0,phq9,20,\n")


def test_a_pre_and_a_post_dose_rating_on_day_0_both_pass(run_with):
    run = run_with(assessments=TIMED)
    assert run.code == 0, run.text
    passed = pd.read_parquet(run.out / "assessments.parquet")
    assert len(passed) == 7
    assert list(passed.columns) == ["patient_id", "day", "instrument", "score", "timing"]
    day0 = passed[(passed["patient_id"] == "pt-a") & (passed["day"] == 0)]
    assert sorted(day0["timing"]) == ["post_dose", "pre_dose"]
    assert passed["timing"].isna().sum() == 4, "an empty cell stays unknown, not guessed"
    assert _report(run)["tables"]["assessments"]["quarantined"] == 0


def test_two_pre_dose_ratings_of_one_day_still_conflict(run_with):
    run = run_with(assessments=TIMED + "pt-a,0,madrs,33,\n"    # unmarked = pre-dose: vs 32
                                       "pt-b,0,madrs,28,post_dose\n")  # two post-dose: vs 30
    assert run.code == 0, run.text
    bad = _quarantine(run, "assessments")
    assert set(bad["failed_checks"]) == {"score.conflicting_scores"}
    assert sorted(zip(bad["patient_id"], bad["score"], bad["timing"])) == [
        ("pt-a", "32", "pre_dose"), ("pt-a", "33", ""),
        ("pt-b", "28", "post_dose"), ("pt-b", "30", "post_dose")]
    passed = pd.read_parquet(run.out / "assessments.parquet")
    assert sorted(passed.loc[passed["day"] == 0, "score"].tolist()) == [20, 20, 40]


def test_the_same_score_marked_and_unmarked_is_no_conflict(run_with):
    run = run_with(assessments=TIMED + "pt-a,0,madrs,32,\n")
    assert _report(run)["tables"]["assessments"]["quarantined"] == 0


def test_timing_levels_are_exact_and_unknown_is_an_empty_cell(run_with):
    run = run_with(assessments=TIMED + "pt-a,21,madrs,10,Post_dose\n"
                                       "pt-a,22,madrs,10,after\n"
                                       "pt-a,23,madrs,10,unknown\n")
    bad = _quarantine(run, "assessments")
    assert bad["failed_checks"].tolist() == ["timing.not_allowed_value"] * 2 + [
        "timing.missing_marker"]


def test_post_dose_before_day_0_is_quarantined(run_with):
    run = run_with(assessments=TIMED + "pt-a,-3,madrs,30,post_dose\n",
                   biomarkers="patient_id,day,marker,value,timing\n"
                              "pt-a,-1,crp_mg_l,2.5,post_dose\n"
                              "pt-a,0,crp_mg_l,2.1,pre_dose\n"
                              "pt-a,0,crp_mg_l,2.9,post_dose\n")
    assert run.code == 0, run.text
    for table in ("assessments", "biomarkers"):
        bad = _quarantine(run, table)
        assert bad["failed_checks"].tolist() == ["timing.post_dose_before_day0"], table
        assert "before day 0" in bad["reason"][0]
    assert len(pd.read_parquet(run.out / "biomarkers.parquet")) == 2


def test_report_counts_day0_records_by_timing(run_with):
    run = run_with(assessments=TIMED,
                   biomarkers="patient_id,day,marker,value,timing\n"
                              "pt-a,0,crp_mg_l,2.1,\n"
                              "pt-a,0,il6_pg_ml,3.0,pre_dose\n"
                              "pt-b,-5,crp_mg_l,1.0,\n")
    report = _report(run)
    assert report["tables"]["assessments"]["day0_timing"] == {
        "day0": 5, "pre_dose": 1, "post_dose": 2, "unmarked": 2}
    assert report["tables"]["biomarkers"]["day0_timing"] == {
        "day0": 2, "pre_dose": 1, "post_dose": 0, "unmarked": 1}
    assert "day0_timing" not in report["tables"]["sessions"]
    assert report["day0_unmarked"] == 3
    html = (run.report / "report.html").read_text()
    assert "3 day-0 records" in html and "taken as pre-dose" in html


def test_without_a_timing_column_every_day0_record_is_unmarked(run_with):
    run = run_with()  # GOOD: no timing column at all, which the contract allows
    assert run.code == 0, run.text
    report = _report(run)
    assert report["tables"]["assessments"]["day0_timing"] == {
        "day0": 3, "pre_dose": 0, "post_dose": 0, "unmarked": 3}
    assert report["tables"]["biomarkers"]["day0_timing"] == {
        "day0": 0, "pre_dose": 0, "post_dose": 0, "unmarked": 0}
    assert "timing" in pd.read_parquet(run.out / "assessments.parquet").columns
    assert "3 day-0 records" in (run.report / "report.html").read_text()
