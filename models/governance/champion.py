"""Criteria relative to the current champion: subgroup AUROC and the paired bootstrap
differences on the same test patients; and `evaluate_criteria`, which runs every criterion.

Subgroups are compared by label (e.g. site = site_03) only where both runs rated the subgroup
"ok" (big enough): a "too small" subgroup has no AUROC to compare. The paired comparison needs
the same patients with the same labels in both runs' `evaluation/test_predictions.csv`;
otherwise it is "not applicable" and `paired.when_test_sets_differ` decides whether that blocks.
That includes a run whose predictions were left out of the tracking store by policy
(`evaluate.log_patient_predictions: false`, recorded as a run tag); a candidate that simply has
none (not evaluated) fails the paired criteria.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from models.bootstrap import paired_bootstrap_difference
from models.governance.criteria import (FAIL, NOT_APPLICABLE, PASS, CriterionResult,
                                        PromotionCriteria, absolute_criteria)
from models.scores import auroc, brier

if TYPE_CHECKING:
    from models.governance.evidence import Evidence

SUBGROUP = "subgroup_auroc_vs_champion"
PAIRED_AUROC = "paired_auroc_vs_champion"
PAIRED_BRIER = "paired_brier_vs_champion"


def subgroup_criterion(margin: float, candidate: list[dict] | None,
                       champion: list[dict] | None) -> CriterionResult:
    """No subgroup (status ok in both) whose AUROC is below the champion's by more than
    `margin`."""
    required = f"no subgroup AUROC more than {margin:.2f} below the champion's"  # as above
    if not candidate or not champion:
        which = "candidate" if not candidate else "champion"
        return CriterionResult(SUBGROUP, NOT_APPLICABLE, required,
                               f"not applicable: the {which} has no subgroup results")
    theirs = {(r["group"], str(r["level"])): r for r in champion
              if r.get("status") == "ok" and r.get("auroc") is not None}
    gaps = []
    for row in candidate:
        other = theirs.get((row["group"], str(row["level"])))
        if row.get("status") != "ok" or row.get("auroc") is None or other is None:
            continue
        gaps.append((row["auroc"] - other["auroc"], f"{row['group']}={row['level']}",
                     row["auroc"], other["auroc"], int(row.get("n") or 0)))
    if not gaps:
        return CriterionResult(SUBGROUP, NOT_APPLICABLE, required,
                               "not applicable: no subgroup is big enough in both runs")
    worse = sorted(g for g in gaps if g[0] < -margin)
    shown = worse or [min(gaps)]
    described = "; ".join(f"{label} {mine:.3f} vs {theirs_:.3f} ({gap:+.3f}, n={n})"
                          for gap, label, mine, theirs_, n in shown)
    observed = (f"{len(worse)} of {len(gaps)} subgroups worse: {described}" if worse
                else f"{len(gaps)} subgroups compared; largest drop {described}")
    return CriterionResult(SUBGROUP, FAIL if worse else PASS, required, observed)


def unpaired_reason(candidate: pd.DataFrame, champion: pd.DataFrame) -> str | None:
    """Why the two runs' test patients cannot be paired, or None when they can (same ids,
    same labels). Counts only: no identifier is ever put in the message."""
    mine = candidate.set_index("patient_id")["label"]
    theirs = champion.set_index("patient_id")["label"]
    if mine.index.has_duplicates or theirs.index.has_duplicates:
        return "different test patients (a patient appears twice)"
    shared = mine.index.intersection(theirs.index)
    if len(shared) != len(mine) or len(shared) != len(theirs):
        return (f"different test patients ({len(mine)} vs {len(theirs)} patients, "
                f"{len(shared)} in common)")
    relabelled = int((mine.loc[shared] != theirs.loc[shared]).sum())
    if relabelled:
        return f"different test labels for {relabelled} of {len(shared)} patients " \
               "(was the outcome redefined?)"
    return None


def missing_predictions_reason(who: str, logged: bool | None) -> str:
    """Why `who` (the candidate, the champion) has no test predictions to pair, from its run's
    `evaluation.patient_predictions_logged` tag (`logged`)."""
    if logged is False:
        return (f"the {who}'s test predictions are not in the tracking store by policy (its "
                f"evaluation ran with evaluate.log_patient_predictions: false), so the runs "
                f"cannot be paired")
    if logged:
        return (f"the {who}'s evaluation logged its test predictions, but "
                f"evaluation/test_predictions.csv cannot be read from the tracking store")
    return (f"the {who}'s test predictions were not logged (evaluation/test_predictions.csv): "
            f"it was not evaluated")


def _subgroup_required(criteria: PromotionCriteria) -> str:
    return f"no subgroup AUROC more than {criteria.subgroup_auroc_margin:.2f} below the champion's"


def _paired_required(criteria: PromotionCriteria) -> dict[str, str]:
    level = f"{criteria.paired.confidence * 100:.0f} %"
    return {PAIRED_AUROC: f"upper {level} bound of the AUROC difference >= 0",
            PAIRED_BRIER: f"lower {level} bound of the Brier difference <= 0"}


def paired_criteria(criteria: PromotionCriteria, candidate: pd.DataFrame | None,
                    champion: pd.DataFrame | None, candidate_logged: bool | None = None,
                    champion_logged: bool | None = None) -> list[CriterionResult]:
    """Paired bootstrap AUROC and Brier differences (candidate − champion) on the same test
    patients: AUROC not significantly lower (upper bound >= 0) and Brier not significantly
    higher (lower bound <= 0). `candidate_logged`, `champion_logged`: each run's
    `evaluation.patient_predictions_logged` tag (False: left out by policy), which only words
    the reason, and lets a candidate left out by policy count as unpaired rather than fail."""
    c = criteria.paired
    level = f"{c.confidence * 100:.0f} %"
    required = _paired_required(criteria)
    if candidate is None and candidate_logged is not False:
        return [CriterionResult(name, FAIL, req, missing_predictions_reason("candidate",
                                                                           candidate_logged))
                for name, req in required.items()]
    reason = missing_predictions_reason("candidate", candidate_logged) if candidate is None \
        else missing_predictions_reason("champion", champion_logged) if champion is None \
        else unpaired_reason(candidate, champion)
    if reason is not None:
        status = FAIL if c.when_test_sets_differ == "fail" else NOT_APPLICABLE
        return [CriterionResult(name, status, req, f"not applicable: {reason}")
                for name, req in required.items()]
    p_champion = champion.set_index("patient_id")["p"].loc[candidate["patient_id"]].to_numpy()
    y, p = candidate["label"].to_numpy(), candidate["p"].to_numpy()
    out = []
    for name, metric, ok in ((PAIRED_AUROC, auroc, lambda d: d.upper >= 0),
                             (PAIRED_BRIER, brier, lambda d: d.lower <= 0)):
        d = paired_bootstrap_difference(metric, y, p, p_champion, n_resamples=c.resamples,
                                        seed=c.seed, alpha=1 - c.confidence)
        out.append(CriterionResult(
            name, PASS if ok(d) else FAIL, required[name],
            f"{d.difference:+.4f} ({level} CI {d.lower:+.4f} to {d.upper:+.4f}), "
            f"{len(y)} paired patients"))
    return out


def evaluate_criteria(criteria: PromotionCriteria, candidate: Evidence,
                      champion: Evidence | None,
                      no_champion_reason: str = "no champion yet") -> list[CriterionResult]:
    """Every criterion, in the order of the promotion table."""
    results = absolute_criteria(criteria, candidate.metrics)
    if champion is None:
        for name, required in {SUBGROUP: _subgroup_required(criteria),
                               **_paired_required(criteria)}.items():
            results.append(CriterionResult(name, NOT_APPLICABLE, required,
                                           f"not applicable: {no_champion_reason}"))
        return results
    results.append(subgroup_criterion(criteria.subgroup_auroc_margin, candidate.subgroups,
                                      champion.subgroups))
    return results + paired_criteria(criteria, candidate.predictions, champion.predictions,
                                     candidate.predictions_logged, champion.predictions_logged)
