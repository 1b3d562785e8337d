"""`txresponse promote` against a real MLflow SQLite store: the alias moves only on success,
every decision is recorded, and the champion-relative criteria use paired data only when the
target definition and the test patients are the same; the subgroup margin is the criteria
file's."""
from __future__ import annotations

from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.promote import PROMOTED, REFUSED, UNUSABLE
from tests.conftest import REPO
from tests.governance.conftest import (champion, log_run, model_name, predictions, subgroups,
                                       version_tags)

runner = CliRunner()
CRITERIA = REPO / "configs" / "promotion.yaml"


def promote(*args: str, criteria=CRITERIA):
    return runner.invoke(app, ["promote", "--registered-model", model_name(), "--criteria",
                               str(criteria), *args])


def test_first_passing_promotion_moves_champion_and_records_it(store):
    run_id, version = log_run(store)
    result = promote("--run", run_id)
    assert result.exit_code == PROMOTED, result.output
    assert champion() == version
    assert "PROMOTED" in result.output and "no champion yet" in result.output
    tags = version_tags(version)
    assert tags["promotion.decision"] == "promoted"
    assert len(tags["promotion.criteria_hash"]) == 64 and tags["promotion.date"]
    assert tags["promotion.criterion.calibration_slope"].startswith("PASS")
    assert tags["promotion.criterion.paired_auroc_vs_champion"].startswith("N/A")
    description = MlflowClient().get_model_version(model_name(), version).description
    assert "Promoted to champion" in description
    run_tags = MlflowClient().get_run(run_id).data.tags
    assert run_tags["promotion.decision"] == "promoted"
    assert run_tags["promotion.model_version"] == f"{model_name()}/{version}"


def test_failing_promotion_is_refused_and_leaves_champion(store):
    first_run, first = log_run(store)
    assert promote("--run", first_run).exit_code == PROMOTED
    bad_run, bad = log_run(store, metrics={"calibration_slope": 0.5})
    result = promote("--run", bad_run)
    assert result.exit_code == REFUSED, result.output
    assert champion() == first  # the alias did not move
    line = next(line for line in result.output.splitlines() if "calibration_slope" in line
                and "FAIL" in line)
    assert "0.500" in line and "0.80" in line  # what was seen, and what was required
    assert "REFUSED" in result.output
    tags = version_tags(bad)
    assert tags["promotion.decision"] == "refused"
    assert tags["promotion.failed"] == "calibration_slope"
    assert tags["promotion.champion_before"] == first
    assert "Refused as champion" in MlflowClient().get_model_version(model_name(), bad).description


def test_force_needs_a_reason(store):
    run_id, version = log_run(store, metrics={"calibration_slope": 0.5})
    result = promote("--run", run_id, "--force")
    assert result.exit_code == UNUSABLE
    assert "--reason" in result.output
    assert champion() is None
    assert "promotion.decision" not in version_tags(version)
    assert promote("--run", run_id, "--force", "--reason", "   ").exit_code == UNUSABLE


def test_force_with_reason_promotes_and_records_who_and_why(store):
    run_id, version = log_run(store, metrics={"calibration_slope": 0.5})
    result = promote("--run", run_id, "--force", "--reason", "recalibration due next week",
                     "--by", "dr-reviewer")
    assert result.exit_code == PROMOTED, result.output
    assert champion() == version
    assert "FORCED" in result.output
    tags = version_tags(version)
    assert tags["promotion.decision"] == "forced"
    assert tags["promotion.reason"] == "recalibration due next week"
    assert tags["promotion.by"] == "dr-reviewer"
    assert tags["promotion.criterion.calibration_slope"].startswith("FAIL")
    assert MlflowClient().get_run(run_id).data.tags["promotion.reason"] == \
        "recalibration due next week"


def test_paired_criterion_pairs_only_the_same_test_patients(store):
    first_run, first = log_run(store, table=predictions(seed=1))
    assert promote("--run", first_run).exit_code == PROMOTED
    # Same patients and labels, another model's probabilities: paired.
    same_run, same = log_run(store, table=predictions(seed=2))
    result = promote("--run", same_run)
    assert result.exit_code == PROMOTED, result.output
    assert "400 paired patients" in result.output
    assert version_tags(same)["promotion.criterion.paired_auroc_vs_champion"].startswith("PASS")
    # Other patients: no pairing possible; reported, and (by default) not blocking.
    other_run, other = log_run(store, table=predictions(seed=3, ids_seed=7))
    result = promote("--run", other_run)
    assert result.exit_code == PROMOTED, result.output
    tag = version_tags(other)["promotion.criterion.paired_auroc_vs_champion"]
    assert tag.startswith("N/A: not applicable: different test patients")
    assert "pt-" not in result.output and "pt-" not in tag  # counts, never ids


def test_paired_criterion_refuses_a_clearly_worse_model(store):
    first_run, first = log_run(store, table=predictions(seed=1, signal=1.5))
    assert promote("--run", first_run).exit_code == PROMOTED
    worse_run, worse = log_run(store, table=predictions(seed=2, signal=0.0))
    result = promote("--run", worse_run)
    assert result.exit_code == REFUSED
    assert champion() == first
    failed = version_tags(worse)["promotion.failed"].split(",")
    assert {"paired_auroc_vs_champion", "paired_brier_vs_champion"} <= set(failed)


def test_subgroup_much_worse_than_champions_is_flagged(store):
    first_run, first = log_run(store, groups=subgroups(site_01=0.70, site_03=0.72))
    assert promote("--run", first_run).exit_code == PROMOTED
    run_id, version = log_run(store, groups=subgroups(site_01=0.71, site_03=0.60))
    result = promote("--run", run_id)
    assert result.exit_code == REFUSED
    assert champion() == first
    tag = version_tags(version)["promotion.criterion.subgroup_auroc_vs_champion"]
    assert tag.startswith("FAIL") and "site=site_03 0.600 vs 0.720" in tag
    assert "site_01" not in tag.split("required")[0]  # only the offending subgroup is named


def test_references_by_version_uri_and_alias_and_unknown(store):
    run_id, version = log_run(store)
    assert promote("--run", f"models:/{model_name()}/{version}").exit_code == PROMOTED
    assert champion() == version
    # Promoting the champion again: champion-relative criteria do not apply to itself.
    result = promote("--run", "champion")
    assert result.exit_code == PROMOTED and "already champion" in result.output
    result = promote("--run", "0123456789abcdef0123456789abcdef")
    assert result.exit_code == UNUSABLE and "no run with id" in result.output
    result = promote("--run", "nonexistent")
    assert result.exit_code == UNUSABLE and "'nonexistent' is not an alias" in result.output


def test_a_candidate_predicting_another_target_is_not_paired_with_the_champion(store):
    first_run, first = log_run(store, table=predictions(seed=1))
    assert promote("--run", first_run).exit_code == PROMOTED
    # The same patients and labels, but the run says it predicts remission: the labels mean
    # something else, so nothing is compared with the champion (promote used to pair them).
    other_run, other = log_run(store, table=predictions(seed=2),
                               tags={"target.definition": "remission"})
    strict = store / "strict.yaml"
    strict.write_text("paired: {when_test_sets_differ: fail}\n", encoding="utf-8")
    result = promote("--run", other_run, criteria=strict)
    assert result.exit_code == REFUSED, result.output
    assert champion() == first
    result = promote("--run", other_run)
    assert result.exit_code == PROMOTED, result.output
    assert "paired patients" not in result.output
    tags = version_tags(other)
    for criterion in ("paired_auroc_vs_champion", "paired_brier_vs_champion",
                      "subgroup_auroc_vs_champion"):
        assert tags[f"promotion.criterion.{criterion}"].startswith(
            "N/A: not applicable: the runs predict different targets (target definition "
            "differ)"), criterion


def test_the_subgroup_margin_is_read_from_the_criteria_file(store):
    first_run, _ = log_run(store, groups=subgroups(site_01=0.70, site_03=0.72))
    assert promote("--run", first_run).exit_code == PROMOTED
    run_id, version = log_run(store, groups=subgroups(site_01=0.71, site_03=0.60))
    wider = store / "wider.yaml"
    wider.write_text(CRITERIA.read_text(encoding="utf-8").replace(
        "subgroup_auroc_margin: 0.05", "subgroup_auroc_margin: 0.15"), encoding="utf-8")
    result = promote("--run", run_id, criteria=wider)
    assert result.exit_code == PROMOTED, result.output  # a 0.12 drop is within 0.15
    tag = version_tags(version)["promotion.criterion.subgroup_auroc_vs_champion"]
    assert tag.startswith("PASS") and "0.15 below" in tag
