"""Everything the comparison page shows, as plain values: no MLflow, no file I/O besides the
chart files. The first run is the baseline; each later run is compared with it."""
from __future__ import annotations

import string
from pathlib import Path

from models.comparison import charts, tables
from models.comparison.phrasing import (UNPAIRED_INTERVAL, UNPAIRED_INTERVAL_NOTE, sentence,
                                        timestamp)
from models.review.config import PromotionCriteria
from models.review.evidence import Run
from models.review.pairing import (LABELS, NOT_EVALUATED, ONE_OUTCOME, PATIENTS, TARGETS,
                                   UNREADABLE, WITHHELD, pair)
from models.review.statistics import paired_differences, unpaired_differences

# What an unpaired difference can and cannot mean, by why the runs did not pair.
_CANNOT_CHECK = ("Without the predictions, whether the two runs share test patients cannot be "
                 "checked.")
UNPAIRED_CAVEAT = {
    WITHHELD: _CANNOT_CHECK,
    NOT_EVALUATED: _CANNOT_CHECK,
    UNREADABLE: _CANNOT_CHECK,
    PATIENTS: "The runs were evaluated on different test patients, so each difference mixes the "
              "models with the test sets.",
    LABELS: "The runs' test patients have different labels, so each difference mixes the "
            "models with the outcome data.",
    ONE_OUTCOME: "The shared test patients all have the same outcome, so they cannot be paired "
                 "for these metrics.",
}


def labels_for(runs: list[Run]) -> dict[str, Run]:
    """A, B, C, … in the order given (the baseline is A)."""
    if len(runs) > len(string.ascii_uppercase):
        raise ValueError(f"at most {len(string.ascii_uppercase)} runs can be compared at once")
    return dict(zip(string.ascii_uppercase, runs))


def validation_of(run: Run) -> str:
    """How the run's figures were estimated, from its params (runs from before
    `split.strategy` were tested on a held-out set)."""
    strategy = run.params.get("split.strategy", "holdout")
    if strategy == "cross_validation":
        return f"{run.params.get('split.folds', '?')}-fold cross-validation"
    if strategy == "bootstrap":
        return f"bootstrap optimism correction ({run.params.get('split.resamples', '?')} resamples)"
    site = run.params.get("split.holdout_site", "None")
    return f"held-out site {site}" if site not in ("None", "", None) else "held-out test set"


def validation_note(baseline: Run, run: Run, label: str) -> str:
    """A warning when two runs' figures were estimated differently (empty when alike)."""
    a, b = validation_of(baseline), validation_of(run)
    if a == b:
        return ""
    return (f"Run A's figures come from {a}, run {label}'s from {b}: figures estimated "
            "differently are not directly comparable (a held-out set and resampling differ in "
            "which patients are evaluated and in how much the deployed model learned from).")


def _run_summary(label: str, run: Run) -> dict:
    return {"label": label, "run_id": run.run_id, "short_id": run.short_id,
            "reference": "(run id)" if run.reference == run.run_id else run.reference,
            "run_name": run.run_name,
            "started": timestamp(run.start_time), "versions": ", ".join(run.versions) or "—",
            "classifier": run.params.get("candidate", "—"), "validation": validation_of(run),
            "evaluated": run.predictions is not None, "predictions": _predictions_state(run)}


def _predictions_state(run: Run) -> str:
    """"logged", "withheld" (left out of the store by policy), "unreadable" (the evaluation
    says it logged them) or "not evaluated"."""
    if run.predictions is not None:
        return "logged"
    if run.predictions_logged is None:
        return "not evaluated"
    return "unreadable" if run.predictions_logged else "withheld"


def _comparison(baseline: Run, label: str, run: Run, n_resamples: int, seed: int) -> dict:
    if run.run_id == baseline.run_id:
        return {"label": label, "paired": False, "unpaired": False, "differences": [],
                "sentences": [],
                "reason": f"run {label} is the same MLflow run as run A: nothing to compare"}
    pairing = pair(baseline, run, "run A", f"run {label}")
    note = validation_note(baseline, run, label)
    if not pairing.paired:
        reason = f"Paired comparison of run {label} with run A is impossible: {pairing.reason}."
        if note:
            reason += " " + note
        if pairing.kind == TARGETS:  # labels that mean something else: nothing to compare
            return {"label": label, "paired": False, "unpaired": False, "differences": [],
                    "sentences": [], "reason": reason}
        differences = unpaired_differences(baseline, run, "A", label)
        return {"label": label, "paired": False, "unpaired": True, "kind": pairing.kind,
                "reason": reason + " The differences below are unpaired: computed from each "
                "run's own logged metric and 95 % interval.",
                "caveat": UNPAIRED_CAVEAT.get(pairing.kind, ""),
                "interval": UNPAIRED_INTERVAL, "interval_note": UNPAIRED_INTERVAL_NOTE,
                "differences": differences,
                "sentences": [sentence(d, label, "A") for d in differences]}
    differences = paired_differences(pairing.y, pairing.p_baseline, pairing.p_other,
                                     n_resamples=n_resamples, seed=seed)
    return {"label": label, "paired": True, "unpaired": False, "n": pairing.n,
            "reason": pairing.reason, "note": note, "differences": differences,
            "sentences": [sentence(d, label, "A") for d in differences]}


def comparison_view(runs: list[Run], figures_dir: Path, n_resamples: int, seed: int,
                    store: str, criteria: PromotionCriteria = PromotionCriteria(),
                    criteria_from: str = "defaults") -> dict:
    """The comparison of `runs` (baseline first); charts are written to `figures_dir`.
    `criteria`: the reviewers' file (its subgroup margins), read from `criteria_from`."""
    labelled = labels_for(runs)
    baseline = runs[0]
    comparisons = [_comparison(baseline, label, run, n_resamples, seed)
                   for label, run in list(labelled.items())[1:]]
    params, same_params = tables.differing_params(runs)
    subgroups = tables.subgroup_rows(runs, criteria.subgroup_margins)
    worse = [{"group": row.group, "level": row.level, "label": label,
              "reasons": list(reasons.values())}
             for row in subgroups for label, reasons in zip(labelled, row.worse) if reasons]
    paired = {c["label"] for c in comparisons if c["paired"]}
    without_curves = [{"label": label, "state": _predictions_state(run)}
                      for label, run in labelled.items() if run.predictions is None]
    # Subgroup differences of a run on other patients mix the model with the test set.
    unpaired = [label for label, run in list(labelled.items())[1:]
                if run.subgroups and label not in paired and run.run_id != baseline.run_id]
    return {
        "labels": list(labelled),
        "runs": [_run_summary(label, run) for label, run in labelled.items()],
        "comparisons": comparisons,
        "headline": tables.headline_rows(runs),
        "params": params, "same_params": same_params,
        "lineage": tables.lineage_rows(runs),
        "subgroups": subgroups, "worse_subgroups": worse,
        "subgroups_unpaired": unpaired,
        "auroc_margin": criteria.subgroup_auroc_margin,
        "ici_margin": criteria.subgroup_ici_margin, "margins_from": criteria_from,
        "charts": charts.draw(labelled, paired, figures_dir), "without_curves": without_curves,
        "n_resamples": n_resamples, "seed": seed, "store": store,
    }
