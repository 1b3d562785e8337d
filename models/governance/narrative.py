"""The model card's fixed wording: intended use, and the limitations that follow from the
figures (simulated data, sites, missing biomarkers, small and poor subgroups, what an interval
means, what the per-patient range contained when measured).

Values from data or configuration (site and category names, labels, the outcome's scale) arrive
escaped by the card (`Markup`, models/governance/card.py). Sentences that hold them are built as
`Markup` too, whose `format` and `join` escape anything not yet escaped and leave escaped text
alone: the Markdown shows the text, and the HTML template does not escape it a second time.
"""
from __future__ import annotations

from markupsafe import Markup


def intended_use(outcome: str, noun: str = "response") -> list[tuple[str, str]]:
    """(heading, text) pairs: purpose, users, population, output, objective."""
    return [
        ("Purpose", Markup("Decision support: an estimate, before the first session, of the "
                           "chance of {} for this patient (defined under Data).").format(outcome)),
        ("Users", "Psychiatrists and their teams, discussing with the patient whether to start "
                  "or continue a course. The estimate informs a clinical judgement; it is not a "
                  "diagnosis, and it must not be the sole reason to withhold treatment."),
        ("Population", "Adults with treatment-resistant depression (at least two failed "
                       "adequate antidepressant trials) about to start ketamine or esketamine, "
                       "at clinics like those in the development data. Not for other "
                       "treatments, for safety outcomes (dissociation, blood pressure), or for "
                       "patients unlike the development cohort (the scoring step flags them)."),
        ("Output", Markup("A calibrated probability of {} with an estimation range (how much "
                          "the estimate depends on which patients the model learned from; see "
                          "Model), a per-patient explanation, and out-of-distribution "
                          "warnings.").format(noun)),
        ("Objective of this work", "Development with internal validation (see Performance "
                                   "for the method)."),
    ]


def _poor_subgroups(subgroups: list[dict], rule: str, words: dict) -> list[str]:
    """One limitation per subgroup whose discrimination or calibration is poor by the rule."""
    out = []
    for s in subgroups:
        if not s.get("poor"):
            continue
        out.append(Markup(
            "Poor in subgroup {} = {} ({} patients, {} {}): {}. Figures: AUROC {}, calibration "
            "slope {}, calibration intercept {} (95 % intervals in parentheses where recorded). "
            "Predictions for these patients are less trustworthy than the overall figures "
            "suggest; in a small subgroup part of the gap can be chance, which the intervals "
            "show. Rule: {} (`evaluate.poor_subgroup` in configs/params.yaml).").format(
                s["group"], s["level"], s["n"], s["events"], words["holders"],
                "; ".join(s["poor"]), s["auroc"], s["calibration_slope"],
                s["calibration_intercept"], rule))
    return out


def limitations(data_origin: str, data: dict, subgroups: list[dict], model: dict,
                sample_size: dict | None = None, patient_interval: dict | None = None,
                poor_rule: str = "", words: dict | None = None,
                intervals: bool = False, validation: dict | None = None,
                sites: dict | None = None) -> list[str]:
    """What the figures cannot say, from the card's data, subgroup and model sections."""
    words = words or {"noun": "response", "holders": "responders"}
    out = []
    if sample_size and sample_size["adequate"] is not True:
        out.append("Sample size: " + sample_size["verdict"])
    if data_origin == "simulated":
        out.append("The data are simulated (`txresponse simulate`), not patients: the figures "
                   "show the pipeline works, not that the model works in any clinic. Clinical "
                   "use needs development and external validation on real cohorts.")
    n_sites = len(data["sites"])
    if n_sites == 0:
        out.append("The data do not record the treating site: performance at another clinic is "
                   "unknown, and differences between sites could not be examined.")
    elif n_sites == 1:
        out.append("One site: performance at any other clinic is unknown, and internal "
                   "validation cannot show how the model transports between sites.")
    elif sites:
        out.append(f"{n_sites} sites. Each was left out in turn and predicted by a model "
                   "developed on the others (see Performance by site); the prediction intervals "
                   "there say what to expect at a new clinic like these. A clinic unlike them "
                   "(other referral patterns, protocols or populations) needs its own "
                   "validation.")
    else:
        out.append(f"{n_sites} sites; performance at a clinic not among them is unknown "
                   "(with three or more sites and `split.by_site: true`, each site is left "
                   "out in turn for an estimate).")
    if data.get("left_out"):
        out.append(Markup("{} registered characteristics were left out because this cohort "
                          "holds no information on them ({}): the model cannot take them into "
                          "account for any patient.").format(
            len(data["left_out"]), Markup(", ").join(r["label"] for r in data["left_out"])))
    biomarkers = [m for m in data["missing"] if "biomarkers" in m["sources"]]
    if biomarkers:
        out.append(Markup("Biomarkers are missing for most patients (") + Markup(", ").join(
            Markup("{} {}").format(m["label"], m["share"]) for m in biomarkers)
            + Markup(") and, in the simulator, not at random (CRP is ordered more often when "
                     "high, BDNF less often in very severe patients)." if data_origin ==
                     "simulated" else "); check whether missingness depends on the patient."))
    out.extend(_poor_subgroups(subgroups, poor_rule, words))
    small = [Markup("{}={}").format(s["group"], s["level"]) for s in subgroups
             if s["status"] == "too small"]
    if small:
        out.append(Markup("Too small to judge ({} subgroups): {}.").format(
            len(small), Markup(", ").join(small)))
    strategy = (validation or {}).get("strategy", "holdout")
    over = {"holdout": "the test patients",
            "cross_validation": "the patients' out-of-fold predictions",
            "bootstrap": "the patients, shifted by the estimated optimism (their coverage is "
                         "not measured)"}[strategy]
    out.append(f"Intervals are 95 % percentile bootstrap intervals over {over}: they "
               "express how much the figure would vary with another sample from the same "
               "population, not uncertainty about other populations or settings"
               + ("." if intervals else "; this run has them for AUROC and AUPRC only."))
    if patient_interval:
        out.append(f"Each patient's {patient_interval['name']} is not a 95 % interval for the "
                   "true chance. " + patient_interval["coverage_statement"])
    if not model["exactly_additive"]:
        out.append("Isotonic calibration: per-patient explanations do not add up exactly to "
                   "the calibrated probability.")
    out.append({
        "holdout": "Evaluation is internal (one held-out split of the same cohort); the "
                   "deployed model learned from the other patients only.",
        "cross_validation": "Evaluation is internal: the whole development procedure was "
                            "cross-validated within the same cohort, and the deployed model "
                            "learned from every labelled patient. Its own figures may be "
                            "slightly better than these (it learned from more patients) and "
                            "external validation is still needed.",
        "bootstrap": "Evaluation is internal: apparent figures of the deployed model, corrected "
                     "by the optimism of the whole development procedure in bootstrap "
                     "resamples of the same cohort; external validation is still needed.",
    }[strategy])
    return out
