"""What one patient's report says, as plain values for the template (no I/O, no HTML).

Inputs follow the explain stage's contract: one row of `predictions.csv`, that patient's rows of
`explanations.csv`, the feature dictionary and `explanations_meta.json` (see docs/reports.md).
"""
from __future__ import annotations

import math

from scipy.special import expit, logit

from models.report import charts
from models.report.phrasing import (Characteristic, contribution_phrase, describe_value,
                                    estimand_sentence, expected_out_of, is_missing,
                                    natural_frequency,
                                    outcome_words, percent, percent_bound,
                                    points_words, target_sentence)

TOP_FACTORS = 5  # per direction: more than five stops being read
MIN_POINTS = 0.5  # smaller contributions are noise to a reader and are left to "other"
# Most patients lack a few optional scales and biomarkers; warn loudly only beyond a third.
MANY_MISSING_SHARE = 1 / 3
CLASSIFIER_NAMES = {"lightgbm": "gradient-boosted decision trees (LightGBM)",
                    "logistic": "penalised logistic regression with splines",
                    "ebm": "explainable boosting machine (one shape per characteristic, plus "
                           "a few pairwise interactions)"}


def _number(value, default: float = math.nan) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _flag(value) -> bool:
    return str(value).strip().lower() in {"1", "1.0", "true", "yes"}


def _factors(explanations: list[dict], dictionary: dict[str, Characteristic]) -> list[dict]:
    values = {row["feature"]: row.get("value") for row in explanations}
    factors = []
    for row in explanations:
        item = dictionary.get(row["feature"]) or Characteristic.unknown(row["feature"])
        points = _number(row.get("contribution_points"), 0.0)
        factors.append({"feature": row["feature"], "label": item.label,
                        "value": "" if is_missing(row.get("value")) else str(row["value"]),
                        "missing": is_missing(row.get("value"))
                        and not _alternative_recorded(item, values, dictionary),
                        "not_applicable": is_missing(row.get("value"))
                        and _alternative_recorded(item, values, dictionary),
                        "alternatives": item.alternatives,
                        "phrase": describe_value(item, row.get("value"), values),
                        "points": points, "share": contribution_phrase(points),
                        "logodds": _number(row.get("contribution_logodds"), 0.0)})
    return factors


def _alternative_recorded(item: Characteristic, values: dict,
                          dictionary: dict[str, Characteristic]) -> bool:
    """Whether another form of the same characteristic is recorded (the first dose in mg when
    the mg/kg feature is empty): then this one is not information the patient lacks."""
    if not item.alternatives:
        return False
    return any(other.alternatives == item.alternatives and other.name != item.name
               and not is_missing(values.get(other.name)) for other in dictionary.values())


def _merge_alternatives(factors: list[dict]) -> list[dict]:
    """Factors as the clinician reads them: the unused form of a characteristic recorded in
    another form (the mg dose of an IV patient) is folded into the recorded one, whose points
    then carry both; the sum, and so the additivity, is unchanged."""
    merged = [dict(f) for f in factors if not f["not_applicable"]]
    for extra in (f for f in factors if f["not_applicable"]):
        home = next((f for f in merged if f["alternatives"] == extra["alternatives"]), None)
        if home is None:  # cannot happen when an alternative was recorded; keep it visible
            merged.append(dict(extra))
            continue
        home["points"] += extra["points"]
        home["logodds"] += extra["logodds"]
        home["share"] = contribution_phrase(home["points"])
    return merged


def _top(factors: list[dict], sign: int) -> list[dict]:
    chosen = [f for f in factors if sign * f["points"] >= MIN_POINTS]
    return sorted(chosen, key=lambda f: -abs(f["points"]))[:TOP_FACTORS]


def _warnings(prediction: dict) -> list[str]:
    text = "" if is_missing(prediction.get("warnings")) else str(prediction["warnings"])
    return [part.strip() for part in text.split(" | ") if part.strip()]


def gap_points(probability: float, gap_logodds: float) -> float:
    """The explain stage's additivity gap (log-odds: logit(p) − base − Σ contributions) as
    percentage points of probability, the unit the reader sees everywhere else."""
    if not (0 < probability < 1) or not math.isfinite(gap_logodds):
        return 0.0
    return 100 * (probability - float(expit(logit(probability) - gap_logodds)))


def model_caution(meta: dict) -> str:
    """A sentence when the model was never evaluated, when its development cohort was below
    the minimum sample size (Riley et al.), or when that could not be judged; else empty."""
    if (meta.get("model") or {}).get("evaluated") is False:
        # Scored with --allow-unevaluated: nobody has measured how well this model does.
        return ("This model was never evaluated: how well it discriminates and how well its "
                "chances are calibrated were not measured. Do not use this estimate for a "
                "treatment decision.")
    size = meta.get("sample_size") or {}
    if not size or size.get("adequate") is True:
        return ""
    if size.get("adequate") is None:
        return ("Whether the model learned from enough patients could not be judged "
                f"({size.get('reason') or 'see the model card'}).")
    return (f"The model learned from {size['actual_n']:,} patients; published criteria "
            f"(Riley et al. 2020) call for at least {size['required_n']:,} for a model with "
            "this many candidate predictor terms. Its estimates may be more extreme than the "
            "truth, and it may perform worse for new patients than the model card reports.")


def _observed(label, verb: str, infinitive: str) -> str:
    if is_missing(label):
        return "not known"
    return verb if _flag(label) else f"did not {infinitive}"


def patient_view(prediction: dict, explanations: list[dict],
                 dictionary: dict[str, Characteristic], meta: dict) -> dict:
    """Everything the patient template shows, already phrased."""
    probability = _number(prediction["calibrated_probability"])
    base = _number(prediction.get("base_probability"), _number(meta.get("base_probability")))
    low, high = (_number(prediction.get(k)) for k in ("interval_low", "interval_high"))
    noun, verb, infinitive = outcome_words(meta.get("target", {}))
    per_feature = _factors(explanations, dictionary)
    factors = _merge_alternatives(per_feature)
    higher, lower = _top(factors, +1), _top(factors, -1)
    shown = sorted(higher + lower, key=lambda f: -abs(f["points"]))
    bars = charts.waterfall_bars(base, [(f["phrase"], f["points"]) for f in shown], probability,
                                 "All other characteristics together")
    frequency = natural_frequency(probability, infinitive)
    frequency_100 = natural_frequency(probability, infinitive, out_of=100)
    missing = [f["label"] for f in factors if f["missing"]]
    # Counted from the list (not the out-of-distribution count) so that the unused form of a
    # characteristic recorded in another form is not counted as missing.
    n_missing = len(missing)
    model = meta.get("model", {})
    cohort_rate = _number(meta.get("development_prevalence"))
    additive = _flag(prediction.get("exactly_additive", model.get("exactly_additive", 1)))
    return {
        "patient_id": str(prediction["patient_id"]),
        "outcome": noun, "outcome_verb": verb, "outcome_infinitive": infinitive,
        "chance": percent(probability),
        "has_interval": not (math.isnan(low) or math.isnan(high)),
        "interval_low": percent_bound(low) if not math.isnan(low) else "",
        "interval_high": percent_bound(high) if not math.isnan(high) else "",
        "interval": meta.get("interval", {}),
        "cohort_rate": percent(cohort_rate) if not math.isnan(cohort_rate) else "",
        "n_development": meta.get("n_development"),
        "starting_point": percent(base),
        "frequency": frequency,
        "icon_array": charts.icon_array(probability, f"{expected_out_of(probability, 100)} of "
                                        f"100 figures filled: {frequency_100}."),
        "higher": higher, "lower": lower,
        "waterfall": charts.waterfall_svg(bars, f"From {percent(base)} for a typical patient "
                                          f"to {percent(probability)} for this patient."),
        "warnings": _warnings(prediction),
        "model_caution": model_caution(meta),
        "out_of_distribution": _flag(prediction.get("out_of_distribution", 0)),
        "missing": missing, "n_missing": n_missing, "n_characteristics": len(factors),
        "many_missing": n_missing > MANY_MISSING_SHARE * max(len(factors), 1),
        "exactly_additive": additive,
        "additivity_gap": _number(prediction.get("additivity_gap"), 0.0),
        "additivity_gap_words": points_words(
            gap_points(probability, _number(prediction.get("additivity_gap"), 0.0))),
        "target": target_sentence(meta.get("target", {})),
        "estimand": estimand_sentence(meta.get("target", {})),
        "model": model,
        "model_name": CLASSIFIER_NAMES.get(str(model.get("classifier")),
                                           str(model.get("classifier", "unknown"))),
        "generated": meta.get("generated", ""),
        "observed": _observed(prediction.get("label"), verb, infinitive),
        "probability": probability,
        "base_logodds": _number(prediction.get("base_logodds")),
        "appendix": sorted(per_feature, key=lambda f: -abs(f["logodds"])),
    }


def index_row(view: dict, file_name: str) -> dict:
    """The index page's line for one rendered patient (kept small: the index holds them all)."""
    return {"patient_id": view["patient_id"], "file": file_name, "chance": view["chance"],
            "probability": view["probability"],
            "interval": (f"{view['interval_low']} – {view['interval_high']}"
                         if view["has_interval"] else ""),
            "out_of_distribution": view["out_of_distribution"],
            "n_warnings": len(view["warnings"]), "n_missing": view["n_missing"],
            "many_missing": view["many_missing"],
            "exactly_additive": view["exactly_additive"]}
