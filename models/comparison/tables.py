"""Side-by-side tables of the runs: headline metrics, the params that differ, data lineage, and
subgroups with the ones where a later run is worse than the baseline flagged.

Every cell is already text here, so the HTML and Markdown show the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from models.comparison.phrasing import interval, number, signed
from models.review import subgroups
from models.review.evidence import Run

NOT_LOGGED = "(not logged)"

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


_WORSE_LABEL = {"auroc": "AUROC", "ici": "ICI"}


def worse_than_baseline(baseline: dict | None, other: dict | None,
                        margins: dict[str, float]) -> dict[str, str]:
    """{metric: why} where `other` is worse than `baseline` in one subgroup by more than the
    metric's margin (`models.review.subgroups.worse`), e.g. {"auroc": "AUROC −0.071"}; {} if
    not worse, or if either is too small or lacks the metric."""
    return {metric: f"{_WORSE_LABEL[metric]} {signed(change)}"
            for metric, change in subgroups.worse(baseline, other, margins).items()}


def subgroup_rows(runs: list[Run], margins: dict[str, float]) -> list[SubgroupRow]:
    """One row per (group, level) found in any run, in the baseline's order first; a later
    run is marked worse by `margins` (configs/promotion.yaml: subgroup_auroc_margin,
    subgroup_ici_margin)."""
    indexed = [subgroups.indexed(run.subgroups) for run in runs]
    order = list(dict.fromkeys(key for index in indexed for key in index))
    rows = []
    for key in order:
        records = [index.get(key) for index in indexed]
        rows.append(SubgroupRow(key[0], key[1], [_cell(r) for r in records],
                                [{}] + [worse_than_baseline(records[0], r, margins)
                                        for r in records[1:]]))
    return rows
