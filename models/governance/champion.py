"""Criteria relative to the current champion: subgroup AUROC and the paired bootstrap
differences on the same test patients; and `evaluate_criteria`, which runs every criterion.

The champion is the baseline and the candidate the later run, judged by the review core that
`txresponse compare` uses too (models/review): subgroups by `subgroups.worse` with the margin in
configs/promotion.yaml, compared by label (e.g. site = site_03) only where both runs rated the
subgroup "ok" (big enough); pairing by `pairing.pair` (the same target definition, the same test
patients with the same labels); differences by `statistics.paired_differences`. When the runs do
not pair, the paired criteria are "not applicable" and `paired.when_test_sets_differ` decides
whether that blocks. That includes a run whose predictions were left out of the tracking store
by policy (`evaluate.log_patient_predictions: false`, recorded as a run tag); a candidate that
simply has none (not evaluated) fails the paired criteria. Runs predicting different targets
are not compared at all: the subgroup criterion is "not applicable" too.
"""
from __future__ import annotations

from models.governance.criteria import (FAIL, NOT_APPLICABLE, PASS, CriterionResult,
                                        absolute_criteria)
from models.review.config import PromotionCriteria
from models.review.evidence import Run
from models.review.pairing import different_targets, missing_predictions, pair
from models.review.statistics import paired_differences
from models.review.subgroups import comparable, indexed, key, worse

SUBGROUP = "subgroup_auroc_vs_champion"
PAIRED_AUROC = "paired_auroc_vs_champion"
PAIRED_BRIER = "paired_brier_vs_champion"
# criterion -> (metric, passes): AUROC not significantly lower, Brier not significantly higher.
_PAIRED = {PAIRED_AUROC: ("auroc", lambda d: d.upper >= 0),
           PAIRED_BRIER: ("brier", lambda d: d.lower <= 0)}


def _subgroup_required(margin: float) -> str:
    return f"no subgroup AUROC more than {margin:.2f} below the champion's"


def subgroup_criterion(margin: float, candidate: list[dict] | None,
                       champion: list[dict] | None) -> CriterionResult:
    """No subgroup (status ok in both) whose AUROC is below the champion's by more than
    `margin`."""
    required = _subgroup_required(margin)
    if not candidate or not champion:
        which = "candidate" if not candidate else "champion"
        return CriterionResult(SUBGROUP, NOT_APPLICABLE, required,
                               f"not applicable: the {which} has no subgroup results")
    theirs = indexed(champion)
    gaps, flagged = [], []
    for row in candidate:
        other = theirs.get(key(row))
        if not comparable(other, row, "auroc"):
            continue
        gap = (row["auroc"] - other["auroc"], f"{row['group']}={row['level']}", row["auroc"],
               other["auroc"], int(row.get("n") or 0))
        gaps.append(gap)
        if worse(other, row, {"auroc": margin}):
            flagged.append(gap)
    if not gaps:
        return CriterionResult(SUBGROUP, NOT_APPLICABLE, required,
                               "not applicable: no subgroup is big enough in both runs")
    flagged.sort()
    shown = flagged or [min(gaps)]
    described = "; ".join(f"{label} {mine:.3f} vs {theirs_:.3f} ({gap:+.3f}, n={n})"
                          for gap, label, mine, theirs_, n in shown)
    observed = (f"{len(flagged)} of {len(gaps)} subgroups worse: {described}" if flagged
                else f"{len(gaps)} subgroups compared; largest drop {described}")
    return CriterionResult(SUBGROUP, FAIL if flagged else PASS, required, observed)


def _paired_required(criteria: PromotionCriteria) -> dict[str, str]:
    level = f"{criteria.paired.confidence * 100:.0f} %"
    return {PAIRED_AUROC: f"upper {level} bound of the AUROC difference >= 0",
            PAIRED_BRIER: f"lower {level} bound of the Brier difference <= 0"}


def paired_criteria(criteria: PromotionCriteria, candidate: Run,
                    champion: Run) -> list[CriterionResult]:
    """Paired bootstrap AUROC and Brier differences (candidate − champion) on the same test
    patients: AUROC not significantly lower (upper bound >= 0) and Brier not significantly
    higher (lower bound <= 0). A candidate without test predictions fails, unless its
    evaluation left them out by policy (then it counts as unpaired)."""
    c = criteria.paired
    level = f"{c.confidence * 100:.0f} %"
    required = _paired_required(criteria)
    if candidate.predictions is None and candidate.predictions_logged is not False:
        reason, _ = missing_predictions(candidate, "the candidate")
        return [CriterionResult(name, FAIL, req, reason) for name, req in required.items()]
    pairing = pair(champion, candidate, "the champion", "the candidate")
    if not pairing.paired:
        status = FAIL if c.when_test_sets_differ == "fail" else NOT_APPLICABLE
        return [CriterionResult(name, status, req, f"not applicable: {pairing.reason}")
                for name, req in required.items()]
    differences = {d.metric.key: d for d in paired_differences(
        pairing.y, pairing.p_baseline, pairing.p_other, n_resamples=c.resamples, seed=c.seed,
        alpha=1 - c.confidence, keys=("auroc", "brier"))}
    out = []
    for name, (metric, ok) in _PAIRED.items():
        d = differences[metric]
        out.append(CriterionResult(
            name, PASS if ok(d) else FAIL, required[name],
            f"{d.difference:+.4f} ({level} CI {d.lower:+.4f} to {d.upper:+.4f}), "
            f"{pairing.n} paired patients"))
    return out


def evaluate_criteria(criteria: PromotionCriteria, candidate: Run, champion: Run | None,
                      no_champion_reason: str = "no champion yet") -> list[CriterionResult]:
    """Every criterion, in the order of the promotion table."""
    results = absolute_criteria(criteria, candidate.headline_metrics)
    subgroup_required = _subgroup_required(criteria.subgroup_auroc_margin)
    if champion is None:
        for name, required in {SUBGROUP: subgroup_required,
                               **_paired_required(criteria)}.items():
            results.append(CriterionResult(name, NOT_APPLICABLE, required,
                                           f"not applicable: {no_champion_reason}"))
        return results
    targets = different_targets(champion, candidate)
    results.append(
        CriterionResult(SUBGROUP, NOT_APPLICABLE, subgroup_required, f"not applicable: {targets}")
        if targets else subgroup_criterion(criteria.subgroup_auroc_margin, candidate.subgroups,
                                           champion.subgroups))
    return results + paired_criteria(criteria, candidate, champion)
