"""Side-by-side tables of the runs: headline metrics, the params that differ, data lineage, and
subgroups with the ones where a later run is worse than the baseline flagged.

Every cell is already text here, so the HTML and Markdown show the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from models.comparison.phrasing import interval, number, signed
from models.comparison.runs import Run

NOT_LOGGED = "(not logged)"
# A later run is flagged as worse in a subgroup, when the subgroup is large enough in both runs,
# if its AUROC is lower than the baseline's by more than this, or its ICI higher by more than
# this. Chosen as differences a reviewer should look at, not as tests: subgroup intervals are wide.
SUBGROUP_AUROC_MARGIN = 0.05
SUBGROUP_ICI_MARGIN = 0.02

# (metric key, label, decimals); AUROC and AUPRC carry the intervals the train stage logs.
HEADLINE = (
    ("auroc", "AUROC (95 % CI)", 3), ("auprc", "AUPRC (95 % CI)", 3),
    ("brier", "Brier score (lower is better)", 3), ("scaled_brier", "Scaled Brier score", 3),
    ("log_loss", "Log loss (lower is better)", 3),
    ("calibration_intercept", "Calibration intercept (ideal 0)", 3),
    ("calibration_slope", "Calibration slope (ideal 1)", 2),
    ("ici", "ICI (lower is better)", 3), ("e50", "E50", 3), ("e90", "E90", 3),
    ("emax", "Emax", 3), ("ece", "ECE (10 bins)", 3),
    ("n_test", "Test patients", 0), ("prevalence", "Responders in the test set", 3),
)
LINEAGE = ("data_digest", "features_digest", "raw_dir")


def headline_rows(runs: list[Run]) -> list[dict]:
    rows = []
    for key, label, digits in HEADLINE:
        cells = []
        for run in runs:
            value, low, high = (run.headline(key), run.headline(f"{key}_ci_low"),
                                run.headline(f"{key}_ci_high"))
            text = number(value, digits)
            if value is not None and low is not None and high is not None:
                text += f" ({interval(low, high, digits)})"
            cells.append(text)
        rows.append({"label": label, "cells": cells})
    return rows


def differing_params(runs: list[Run]) -> tuple[list[dict], int]:
    """Rows for the params whose values differ between runs (absent counts as different), and
    how many params are the same in every run."""
    keys = sorted(set().union(*(run.params for run in runs)))
    rows, same = [], 0
    for key in keys:
        values = [run.params.get(key) for run in runs]
        if len(set(values)) == 1:
            same += 1
        else:
            rows.append({"key": key, "cells": [NOT_LOGGED if v is None else v for v in values]})
    return rows, same


def lineage_rows(runs: list[Run]) -> list[dict]:
    """Data digest, raw data folder, target definition, git commit and DVC hashes per run;
    `differs` marks rows whose values are not all the same."""
    tags = set().union(*(run.tags for run in runs))
    keys = [*LINEAGE, *sorted(t for t in tags if t.startswith("target.")), "git_commit",
            *sorted(t for t in tags if t.startswith("dvc."))]
    rows = []
    for key in keys:
        values = [run.tags.get(key, NOT_LOGGED) for run in runs]
        rows.append({"key": key, "cells": values, "differs": len(set(values)) > 1})
    return rows


@dataclass
class SubgroupRow:
    group: str
    level: str
    cells: list[dict]  # per run: n, auroc, ici (text), status
    worse: list[dict[str, str]] = field(default_factory=list)  # per run: {metric: why}


def _cell(record: dict | None) -> dict:
    if record is None:
        return {"status": "absent", "n": "—", "auroc": "—", "ici": "—"}
    n = f"{record['n']} ({record['events']} resp.)"
    if record.get("status") != "ok":
        return {"status": "too small", "n": n, "auroc": "too small", "ici": "too small"}
    return {"status": "ok", "n": n, "auroc": number(record.get("auroc")),
            "ici": number(record.get("ici"))}


def worse_than_baseline(baseline: dict | None, other: dict | None,
                        auroc_margin: float = SUBGROUP_AUROC_MARGIN,
                        ici_margin: float = SUBGROUP_ICI_MARGIN) -> dict[str, str]:
    """{metric: why} where `other` is worse than `baseline` in one subgroup, e.g.
    {"auroc": "AUROC −0.071"}; {} if not worse, or if either is too small or lacks the metric."""
    if not baseline or not other or "ok" != baseline.get("status") or "ok" != other.get("status"):
        return {}
    worse = {}
    if None not in (baseline.get("auroc"), other.get("auroc")) and \
            baseline["auroc"] - other["auroc"] > auroc_margin:
        worse["auroc"] = f"AUROC {signed(other['auroc'] - baseline['auroc'])}"
    if None not in (baseline.get("ici"), other.get("ici")) and \
            other["ici"] - baseline["ici"] > ici_margin:
        worse["ici"] = f"ICI {signed(other['ici'] - baseline['ici'])}"
    return worse


def subgroup_rows(runs: list[Run]) -> list[SubgroupRow]:
    """One row per (group, level) found in any run, in the baseline's order first."""
    indexed = [{(r["group"], str(r["level"])): r for r in (run.subgroups or [])} for run in runs]
    order = list(dict.fromkeys(key for index in indexed for key in index))
    rows = []
    for key in order:
        records = [index.get(key) for index in indexed]
        rows.append(SubgroupRow(key[0], key[1], [_cell(r) for r in records],
                                [{}] + [worse_than_baseline(records[0], r) for r in records[1:]]))
    return rows
