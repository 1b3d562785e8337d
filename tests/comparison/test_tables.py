"""Side-by-side tables: only the params that differ, lineage, the subgroup "worse" rule."""
from __future__ import annotations

from models.comparison.tables import (differing_params, headline_rows, lineage_rows,
                                      subgroup_rows, worse_than_baseline)
from models.review.config import PromotionCriteria
from models.review.evidence import Run

MARGINS = PromotionCriteria().subgroup_margins  # AUROC 0.05, ICI 0.02


def _run(params=None, tags=None, metrics=None, subgroups=None) -> Run:
    return Run(reference="r", run_id="0" * 32, run_name="train", start_time=0,
               params=params or {}, metrics=metrics or {}, tags=tags or {},
               subgroups=subgroups)


def test_only_differing_params_are_listed():
    a = _run({"seed": "1", "hp.num_leaves": "4", "train.model": "auto"})
    b = _run({"seed": "1", "hp.num_leaves": "16", "train.model": "auto", "hp.extra": "x"})
    rows, same = differing_params([a, b])
    assert [r["key"] for r in rows] == ["hp.extra", "hp.num_leaves"]
    assert rows[0]["cells"] == ["(not logged)", "x"] and rows[1]["cells"] == ["4", "16"]
    assert same == 2


def test_lineage_marks_what_differs():
    tags = {"data_digest": "d1", "raw_dir": "data/raw/demo", "target.definition": "response",
            "git_commit": "abc"}
    rows = {r["key"]: r for r in lineage_rows([_run(tags=tags),
                                               _run(tags=tags | {"data_digest": "d2"})])}
    assert rows["data_digest"]["differs"] and not rows["raw_dir"]["differs"]
    assert rows["target.definition"]["cells"] == ["response", "response"]
    assert rows["features_digest"]["cells"] == ["(not logged)", "(not logged)"]


def test_headline_shows_intervals_where_logged():
    metrics = {"candidate_calibrated.auroc": 0.7123, "candidate_calibrated.auroc_ci_low": 0.66,
               "candidate_calibrated.auroc_ci_high": 0.76, "candidate_calibrated.brier": 0.21}
    rows = {r["label"]: r["cells"] for r in headline_rows([_run(metrics=metrics), _run()])}
    assert rows["AUROC (95 % CI)"] == ["0.712 (0.660 to 0.760)", "—"]
    assert rows["Brier score (lower is better)"] == ["0.210", "—"]


def _group(level, status="ok", auroc=0.70, ici=0.02, n=100):
    return {"group": "site", "level": level, "n": n, "events": n // 2, "non_events": n // 2,
            "prevalence": 0.5, "status": status, "auroc": auroc if status == "ok" else None,
            "brier": 0.2, "calibration_intercept": 0, "calibration_slope": 1,
            "ici": ici if status == "ok" else None}


def test_worse_subgroup_rule():
    base = _group("site_01")

    def worse(other, margins=MARGINS):
        return worse_than_baseline(base, other, margins)
    assert worse(_group("site_01", auroc=0.64)) == {"auroc": "AUROC −0.060"}
    assert worse(_group("site_01", auroc=0.651)) == {}  # 0.049: within
    assert worse(_group("site_01", ici=0.045)) == {"ici": "ICI +0.025"}
    assert worse(_group("site_01", auroc=0.9, ici=0.0)) == {}  # better
    assert worse(_group("site_01", status="too small")) == {}
    # The margins are the reviewers' (configs/promotion.yaml), not constants.
    assert worse(_group("site_01", auroc=0.64), {"auroc": 0.10, "ici": 0.02}) == {}
    assert worse(_group("site_01", auroc=0.68, ici=0.025), {"auroc": 0.01, "ici": 0.001}) == \
        {"auroc": "AUROC −0.020", "ici": "ICI +0.005"}


def test_subgroup_rows_show_too_small_and_missing_levels():
    a = _run(subgroups=[_group("site_01"), _group("site_02", status="too small", n=12)])
    b = _run(subgroups=[_group("site_01", auroc=0.60), _group("site_03")])
    rows = {r.level: r for r in subgroup_rows([a, b], MARGINS)}
    assert list(rows) == ["site_01", "site_02", "site_03"]
    assert rows["site_01"].worse == [{}, {"auroc": "AUROC −0.100"}]
    assert rows["site_02"].cells[0]["auroc"] == "too small"
    assert rows["site_02"].cells[1]["status"] == "absent"
    assert rows["site_03"].cells[0]["n"] == "—" and rows["site_03"].worse == [{}, {}]
