"""Where a later run is worse than the baseline in a subgroup: one rule for `compare` (which
flags it) and `promote` (whose subgroup criterion fails on it), with the margins reviewers set in
configs/promotion.yaml (`models.review.config`).

Subgroups are matched by group and level (site = site_03) and compared only where both runs
rated the subgroup "ok" (big enough) and logged the metric: a "too small" subgroup has none.
These are differences worth a reviewer's look, not tests: subgroup intervals are wide.
"""
from __future__ import annotations

# metric -> whether a higher value is better
DIRECTION = {"auroc": True, "ici": False}


def key(record: dict) -> tuple[str, str]:
    return record["group"], str(record["level"])


def indexed(records: list[dict] | None) -> dict[tuple[str, str], dict]:
    """{(group, level): record} in the records' order."""
    return {key(r): r for r in records or []}


def comparable(baseline: dict | None, other: dict | None, metric: str) -> bool:
    """Both runs rated the subgroup "ok" and logged `metric` for it."""
    return bool(baseline and other) and baseline.get("status") == "ok" and \
        other.get("status") == "ok" and None not in (baseline.get(metric), other.get(metric))


def worse(baseline: dict | None, other: dict | None,
          margins: dict[str, float]) -> dict[str, float]:
    """{metric: other − baseline} for each metric in `margins` (auroc, ici) where `other` is
    worse than `baseline` in this subgroup by more than the metric's margin; {} where it is not
    worse, or the subgroup cannot be compared."""
    out = {}
    for metric, margin in margins.items():
        if not comparable(baseline, other, metric):
            continue
        change = other[metric] - baseline[metric]
        loss = baseline[metric] - other[metric] if DIRECTION[metric] else change
        if loss > margin:
            out[metric] = change
    return out
