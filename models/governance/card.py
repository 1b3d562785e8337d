"""The model card's content, built from the pipeline's reports (pure: dicts in, dict out).

Everything on the card is an aggregate — counts, shares, metrics, subgroup labels — never a
patient row or identifier. Numbers are formatted here so the Markdown and HTML templates only
lay them out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from features.labels import OUTCOME_WORDS
from models.governance.narrative import intended_use, limitations
from models.governance.tripod import checklist
from models.subgroups import PoorSubgroupRule, judge
from models.uncertainty import interval_description

ROLES = ("candidate_calibrated", "candidate_uncalibrated", "comparator_calibrated")
# (key, name, what it means, digits)
MEASURES = (
    ("auroc", "AUROC", "discrimination; 0.5 chance, 1 perfect", 3),
    ("auprc", "AUPRC", "average precision; no-skill value = prevalence", 3),
    ("brier", "Brier score", "mean squared error of the probability; lower is better", 4),
    ("scaled_brier", "Scaled Brier", "1 − Brier / Brier of the prevalence; higher is better", 3),
    ("log_loss", "Log loss", "nats; lower is better", 4),
    ("calibration_intercept", "Calibration intercept", "calibration-in-the-large; ideal 0", 3),
    ("calibration_slope", "Calibration slope", "ideal 1; below 1 = too extreme", 3),
    ("ici", "ICI", "mean |smoothed observed − predicted|; ideal 0", 4),
    ("e50", "E50", "median of the same gaps", 4),
    ("e90", "E90", "90th percentile of the gaps", 4),
    ("emax", "Emax", "largest gap", 4),
    ("ece", "ECE", "10 equal-width bins", 4),
)


@dataclass
class CardInputs:
    """The documents the card is built from (the pipeline's JSON reports, parsed)."""

    run: dict                  # artifacts/model/mlflow_run.json
    metrics: dict              # reports/metrics.json
    evaluation: dict           # reports/evaluation.json
    features: dict             # reports/features.json
    training: dict             # reports/training.json
    validation: dict           # reports/validation/report.json
    run_tags: dict = field(default_factory=dict)    # the MLflow run's tags, when reachable
    run_params: dict = field(default_factory=dict)
    sites: dict[str, int] | None = None              # patients per site (validated tables)
    observed_days: dict[str, tuple[int, int]] | None = None  # table -> (first, last) day
    extra_intervals: dict[str, tuple[float, float]] | None = None
    data_origin: str = "simulated"                    # simulated | real


def _num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _interval(value, ci, digits: int) -> str:
    if value is None:
        return "—"
    if not ci or ci[0] is None:
        return _num(value, digits)
    return f"{_num(value, digits)} ({_num(ci[0], digits)} to {_num(ci[1], digits)})"


def _instrument_label(target: dict) -> str:
    """The scale as clinicians write it (PHQ-9, not phq9); older reports hold only the key."""
    return str(target.get("instrument_label") or str(target.get("instrument", "madrs")).upper())


def _label_definition(target: dict) -> str:
    instrument = _instrument_label(target)
    low, high = target.get("endpoint_window", (10, 28))
    base_low, base_high = target.get("baseline_window", (-14, 0))
    timing = (f"baseline = last {instrument} in days {base_low} to {base_high}; endpoint = last "
              f"{instrument} in days {low} to {high}")
    if target.get("definition") == "remission":
        threshold = target.get("remission_max")
        at_most = f" ({threshold:g} or less)" if isinstance(threshold, int | float) else ""
        return (f"Remission: endpoint {instrument} at or below the remission threshold"
                f"{at_most} ({timing}).")
    share = float(target.get("min_reduction", 0.5))
    return (f"Response: endpoint {instrument} at least {share:.0%} below baseline, i.e. endpoint "
            f"≤ {1 - share:.2f} × baseline ({timing}).")


def _estimand(estimand: dict | None) -> str:
    """Which patients the model's chance speaks about, with the counts the rule touched."""
    if not estimand:
        return "not recorded (a run from before target.missing_endpoint existed: patients " \
               "without an endpoint rating were left out)"
    counts = (f"{estimand.get('excluded_without_endpoint', 0):,} patients without an endpoint "
              "rating excluded" if estimand.get("missing_endpoint") == "exclude" else
              f"{estimand.get('counted_as_not_reaching_outcome', 0):,} patients without an "
              "endpoint rating counted as not reaching the outcome")
    direction = {
        "exclude": " For a patient about to start, this overstates the chance: by about 2 "
                   "points in the simulator (docs/benchmarks.md, \"Estimand\"), more where "
                   "patients stop for lack of benefit.",
        "non_response": " For a patient about to start, this understates the chance: by about "
                        "2.5 points in the simulator (docs/benchmarks.md, \"Estimand\"), more "
                        "where patients stop for reasons unrelated to benefit.",
    }.get(estimand.get("missing_endpoint"), "")
    return (f"`target.missing_endpoint: {estimand.get('missing_endpoint')}` — "
            f"{estimand.get('description', '')} ({counts}).{direction}")


def _data(i: CardInputs) -> dict:
    f, m = i.features, i.metrics
    n_test = m.get("n_test")
    sites_from = "all patients (validated tables)"
    sites = i.sites
    if sites is None:
        sites_from = "test patients only (evaluation subgroups)"
        sites = {r["level"]: r["n"] for r in i.evaluation.get("subgroups", [])
                 if r["group"] == "site"}
    target = f.get("target", {})
    lookback = i.run_params.get("features.biomarker_lookback_days")
    period = [
        ("Time axis", "days relative to the first ketamine or esketamine session (day 0); "
                      "the data contain no calendar dates"),
        ("Predictors", f"records on or before day {f.get('prediction_day', 0)}"
                       + (f"; biomarkers from the last {lookback} days" if lookback else "")),
        ("Baseline rating", "days {} to {}".format(*target.get("baseline_window", ("?", "?")))),
        ("Endpoint rating", "days {} to {}".format(*target.get("endpoint_window", ("?", "?")))),
    ]
    period += [(f"Observed in {table}", f"days {lo} to {hi}")
               for table, (lo, hi) in (i.observed_days or {}).items()]
    quarantine = i.validation.get("totals", {})
    # What the model was trained on (the train stage's development patients) decides which
    # registered features count; the features report is the fallback for older runs.
    left_out = i.training.get("features_left_out", f.get("left_out", {})) or {}
    used = [r for r in f.get("dictionary", []) if r["name"] not in left_out]
    # A characteristic recorded in one of several forms (the first dose in mg/kg or in mg) is
    # missing by design in the other form: not a gap in the data.
    missing = sorted((r for r in used if r.get("missing_share") and not r.get("alternatives")),
                     key=lambda r: -r["missing_share"])
    labels = {r["name"]: r.get("label", r["name"]) for r in f.get("dictionary", [])}
    return {
        "origin": i.data_origin,
        "raw_dir": i.run_tags.get("raw_dir", "—"),
        "patients": f.get("patients"), "labelled": f.get("labelled"),
        "unlabelled": f.get("unlabelled"),
        "unlabelled_by_reason": sorted(f.get("unlabelled_by_reason", {}).items()),
        "prevalence": _num(f.get("label_prevalence"), 3),
        "n_development": i.training.get("n_development"),
        "development_prevalence": _num(i.training.get("development_prevalence"), 3),
        "n_test": n_test, "test_prevalence": _num(m.get("prevalence"), 3),
        "test_events": round(n_test * m["prevalence"]) if n_test and m.get("prevalence")
        else "—",
        "split": m.get("model", {}).get("split", "—"),
        "sites": sorted(sites.items()), "sites_from": sites_from,
        "period": period, "label": _label_definition(target),
        "estimand": _estimand(f.get("estimand")),
        "n_features": len(i.training["features_used"]) if "features_used" in i.training
        else f.get("features"),
        "left_out": [{"feature": name, "label": labels.get(name, name), "reason": reason}
                     for name, reason in left_out.items()],
        "missing": [{"feature": r["name"], "label": r.get("label", r["name"]),
                     "share": f"{r['missing_share']:.1%}", "sources": r.get("sources", "")}
                    for r in missing],
        "complete_features": sum(1 for r in used if not r.get("missing_share")),
        "validation_status": i.validation.get("status", "—"),
        "rows_in": quarantine.get("rows_in"), "quarantined": quarantine.get("quarantined"),
        "quarantine_tables": [
            {"table": name, "rows_in": t.get("rows_in"), "quarantined": t.get("quarantined"),
             "share": f"{t.get('quarantined_fraction', 0):.1%}"}
            for name, t in i.validation.get("tables", {}).items() if t.get("supplied")],
    }


def _model(i: CardInputs) -> dict:
    t = i.training
    chosen = t["classifiers"][t["candidate"]]
    space = chosen.get("search_space", {})
    size = math.prod(len(v) for v in space.values()) if space else 0
    calibrator = chosen.get("calibrator", {})
    return {
        "classifier": t["candidate"], "comparator": t.get("comparator"),
        "selection": t.get("selection"),
        "hyperparameters": sorted(chosen.get("chosen_hyperparameters", {}).items()),
        "search_space": sorted((k, ", ".join(map(str, v))) for k, v in space.items()),
        "search_space_size": size, "candidates_tried": len(chosen.get("candidates", [])),
        "cv": [(name, _num(c.get("cv_log_loss"), 4), _num(c.get("cv_auroc"), 3))
               for name, c in t["classifiers"].items()],
        "calibrator": calibrator.get("method", t.get("calibrator")),
        "calibrator_map": (f"calibrated log-odds = {calibrator['intercept']:+.3f} + "
                           f"{calibrator['slope']:.3f} × model log-odds")
        if calibrator.get("method") == "platt" else "isotonic (monotone step function)",
        "exactly_additive": bool(t.get("exactly_additive")),
    }


def _threshold_text(value) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else str(value)


def _performance(i: CardInputs) -> dict:
    """Headline measures of every compared model, then the calibrated candidate's threshold
    metrics and net benefit: all as the evaluate stage recorded them, intervals included."""
    models = i.metrics.get("models", {})
    names = list(models)
    rows = []
    recorded = bool(names) and all(f"{key}_ci" in models[names[0]] for key, *_ in MEASURES
                                   if key in ("brier", "calibration_intercept", "ici"))
    from_card = not recorded and bool(i.extra_intervals)
    for key, name, meaning, digits in MEASURES:
        values = []
        for role_index, role_name in enumerate(names):
            figures = models[role_name]
            ci = figures.get(f"{key}_ci")
            if ci is None and role_index == 0 and from_card and key in i.extra_intervals:
                ci = i.extra_intervals[key]
            values.append(_interval(figures.get(key), ci, digits))
        rows.append({"measure": name, "meaning": meaning, "values": values})
    thresholds = [{"threshold": _threshold_text(r.get("threshold")),
                   "n_predicted_positive": r.get("n_predicted_positive"),
                   **{k: _interval(r.get(k), r.get(f"{k}_ci"), 3)
                      for k in ("sensitivity", "specificity", "ppv", "npv")}}
                  for r in i.evaluation.get("thresholds", [])]
    net_benefit = [{"threshold": _threshold_text(r.get("threshold")),
                    **{k: _interval(r.get(k), r.get(f"{k}_ci"), 3)
                       for k in ("net_benefit", "net_benefit_treat_all",
                                 "net_benefit_vs_treat_all")}}
                   for r in i.evaluation.get("net_benefit", [])]
    intervals = i.evaluation.get("intervals", {})
    notes = []
    if recorded or from_card:
        notes.append(
            "AUROC and AUPRC: bootstrap resampling patients with and without the outcome "
            "separately (their counts kept, as AUROC conditions on the outcome). Every other "
            "interval resamples patients as they were drawn, so the outcome rate varies as in "
            "another test sample: calibration-in-the-large, Brier, PPV, NPV and net benefit "
            "depend on it, and holding it fixed made the intercept's interval about a third as "
            "wide as it should be (it covered the true value about half the time in a "
            "simulation; tests/model/test_metrics_intervals.py)."
            + (" These intervals were computed by the card from the test predictions, because "
               "this run's evaluation predates them." if from_card else ""))
        notes.append("ICI cannot be negative and a resample with repeated patients looks less "
                     "well calibrated than the sample, so the ICI interval sits mostly above its "
                     "estimate: read it as a rough range.")
    return {"roles": names, "rows": rows, "thresholds": thresholds,
            "threshold_intervals": any(r.get("sensitivity_ci") for r in
                                       i.evaluation.get("thresholds", [])),
            "net_benefit": net_benefit,
            "all_intervals": recorded or from_card, "notes": notes,
            "resamples": intervals.get("resamples")}


def _rule(i: CardInputs) -> tuple[PoorSubgroupRule, bool]:
    """The poor-subgroup rule the evaluation applied, or the default one (for evaluations made
    before the rule existed: their subgroups carry no judgement)."""
    recorded = i.evaluation.get("poor_subgroup_rule")
    if recorded:
        return PoorSubgroupRule(recorded["min_auroc"], tuple(recorded["calibration_slope"]),
                                recorded["max_abs_calibration_intercept"]), True
    return PoorSubgroupRule(), False


def _subgroups(i: CardInputs) -> list[dict]:
    rule, _ = _rule(i)
    rows = []
    for r in i.evaluation.get("subgroups", []):
        poor = r.get("poor")
        if poor is None:
            poor = judge(r, rule) if r["status"] == "ok" else []
        rows.append({
            "group": r["group"], "level": r["level"], "n": r["n"], "events": r["events"],
            "prevalence": _num(r.get("prevalence"), 3),
            "status": "poor" if poor else r["status"],
            "status_text": ("poor: " + "; ".join(poor)) if poor else r["status"],
            "poor": poor,
            **{k: _interval(r.get(k), r.get(f"{k}_ci"), 4 if k in ("brier", "ici") else 3)
               for k in ("auroc", "brier", "calibration_intercept", "calibration_slope",
                         "ici")}})
    return rows


def _patient_interval(i: CardInputs) -> dict:
    """What the per-patient range is and how often it held, as the evaluate stage recorded it
    (for older evaluations: as this code describes it)."""
    recorded = i.evaluation.get("patient_interval")
    if recorded:
        return recorded | {"from_evaluation": True}
    return interval_description(None, i.training.get("n_development")) | {
        "from_evaluation": False}


def _sample_size(i: CardInputs) -> dict | None:
    """Riley et al.'s minimum sample size next to the actual development cohort."""
    a = i.training.get("sample_size")
    if not a:
        return None
    r = a["requirement"]
    criteria = [{"description": c["description"],
                 "n": f"{c['n']:,}" if c.get("n") is not None else "—",
                 "reason": c.get("reason") or ""}
                for c in r.get("criteria", {}).values()]
    if a.get("adequate") is None:
        verdict = f"The minimum could not be computed: {r.get('reason')}"
    elif a["adequate"]:
        verdict = (f"The development cohort ({a['actual_n']:,} patients, {a['actual_events']:,} "
                   f"with the outcome) reaches the minimum of {r['n']:,} patients "
                   f"({r['events_required']:,} events).")
    else:
        verdict = (f"The development cohort ({a['actual_n']:,} patients, {a['actual_events']:,} "
                   f"with the outcome) is SMALLER than the minimum of {r['n']:,} patients "
                   f"({r['events_required']:,} events) needed for {r['parameters']} candidate "
                   "parameters. By these criteria overfitting is likely: predictions too "
                   "extreme and performance lower in new patients. The criteria assume an "
                   "unpenalised fit; the penalty used here reduces the risk, and the "
                   "calibration slope under Performance shows how much remained.")
    return {"adequate": a.get("adequate"), "verdict": verdict, "criteria": criteria,
            "parameters": r.get("parameters"), "binding": r.get("binding") or "—",
            "r2": _num(r.get("r2_cox_snell"), 3), "prevalence": _num(r.get("prevalence"), 3),
            "shrinkage": r.get("shrinkage_target"), "epp": _num(a.get("epp_achieved"), 2),
            "required_epp": _num(r.get("epp"), 2)}


def card_context(i: CardInputs) -> dict:
    """Everything the templates need."""
    data, model, subgroups = _data(i), _model(i), _subgroups(i)
    sample_size = _sample_size(i)
    performance = _performance(i)
    patient_interval = _patient_interval(i)
    rule, rule_recorded = _rule(i)
    evidence = {"net_benefit": bool(performance["net_benefit"]),
                "all_intervals": performance["all_intervals"],
                "threshold_intervals": performance["threshold_intervals"],
                "subgroup_intervals": any(r.get("auroc_ci") for r in
                                          i.evaluation.get("subgroups", []))}
    target = i.features.get("target", {})
    outcome = f"{target.get('definition', 'response')} on the " \
              f"{_instrument_label(target)}"
    run = i.run
    words = OUTCOME_WORDS.get(str(target.get("definition", "response")),
                              OUTCOME_WORDS["response"])
    return {
        "words": words,
        "registered_model": run.get("registered_model", "—"),
        "version": run.get("version", "—"),
        "run_id": run.get("run_id", "—"),
        "outcome": outcome,
        "provenance": [("MLflow run", run.get("run_id", "—")),
                       ("Registered model", f"{run.get('registered_model', '—')} version "
                                            f"{run.get('version', '—')}"),
                       ("Git commit", i.run_tags.get("git_commit", "—")),
                       ("Data digest (features + labels, md5)",
                        i.run_tags.get("data_digest", "—")),
                       ("Features digest (md5)", i.run_tags.get("features_digest", "—"))],
        "intended_use": intended_use(outcome, words["noun"]),
        "data": data, "model": model, "performance": performance, "subgroups": subgroups,
        "sample_size": sample_size, "patient_interval": patient_interval,
        "poor_rule": {"text": rule.describe(), "recorded": rule_recorded},
        "subgroup_intervals": evidence["subgroup_intervals"],
        "subgroups_skipped": sorted(i.evaluation.get("subgroups_skipped", {}).items()),
        "limitations": limitations(i.data_origin, data, subgroups, model, sample_size,
                                   patient_interval=patient_interval,
                                   poor_rule=rule.describe(), words=words,
                                   intervals=performance["all_intervals"]),
        "tripod": checklist(evidence),
    }
