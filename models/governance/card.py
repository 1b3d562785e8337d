"""The model card's content, built from the pipeline's reports (pure: dicts in, dict out).

Everything on the card is an aggregate — counts, shares, metrics, subgroup labels — never a
patient row or identifier. Numbers are formatted here so the Markdown and HTML templates only
lay them out.

Text that comes from data, configuration or the tracking store (site and category names,
labels, scale names, reasons, run names and tags) is escaped here, once, by `_text`: HTML
special characters become entities and pipes and line breaks cannot break a table row. The
result is a `Markup` string, so the Markdown shows it as text and the HTML template, which
autoescapes everything else, does not escape it a second time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup

from features.labels import OUTCOME_WORDS
from models.governance.narrative import intended_use, limitations
from models.governance.tripod import checklist
from models.metrics import MORE_INTERVALS
from models.site_validation import summary_sentences
from models.subgroups import PoorSubgroupRule, judge
from models.uncertainty import interval_description
from pipeline.core.escaping import escape_markdown_text

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
# The measures the evaluate stage gives an interval for the calibrated candidate (the first
# model in metrics.json), besides AUROC and AUPRC (`models.metrics.MORE_INTERVALS`).
INTERVAL_MEASURES = ("auroc", "auprc", *MORE_INTERVALS)


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
    data_origin: str = "simulated"                    # simulated | real


def missing_intervals(metrics: dict) -> list[str]:
    """The headline measures of the calibrated candidate (the first model of `metrics`,
    reports/metrics.json) that the evaluate stage recorded without an interval; [] for every
    evaluation since it records them all."""
    models = metrics.get("models") or {}
    first = next(iter(models.values()), metrics)
    return [key for key in INTERVAL_MEASURES if not first.get(f"{key}_ci")]


def _text(value):
    """Untrusted text made safe for both card formats (see the module docstring); numbers and
    None pass through. Only for element content: the templates never put a value inside an
    HTML attribute."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Markup):
        return value
    return Markup(escape_markdown_text(str(value)))


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
    return _text(str(target.get("instrument_label") or
                     str(target.get("instrument", "madrs")).upper()))


def _label_definition(target: dict) -> str:
    instrument = _instrument_label(target)
    low, high = target.get("endpoint_window", (10, 28))
    base_low, base_high = target.get("baseline_window", (-14, 0))
    low, high, base_low, base_high = map(_text, (low, high, base_low, base_high))
    timing = Markup("baseline = last {} in days {} to {}; endpoint = last {} in days {} to {}") \
        .format(instrument, base_low, base_high, instrument, low, high)
    if target.get("definition") == "remission":
        threshold = target.get("remission_max")
        at_most = f" ({threshold:g} or less)" if isinstance(threshold, int | float) else ""
        return Markup("Remission: endpoint {} at or below the remission threshold{} ({}).") \
            .format(instrument, at_most, timing)
    share = float(target.get("min_reduction", 0.5))
    return Markup("Response: endpoint {} at least {} below baseline, i.e. endpoint ≤ {} × "
                  "baseline ({}).").format(instrument, f"{share:.0%}", f"{1 - share:.2f}", timing)


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
    # A plain string (its constant quotes are escaped by the HTML template as before); the
    # recorded values in it are escaped here.
    return (f"`target.missing_endpoint: {_text(str(estimand.get('missing_endpoint')))}` — "
            f"{_text(estimand.get('description', ''))} ({counts}).{direction}")


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
    period = [(_text(what), _text(when)) for what, when in period]
    quarantine = i.validation.get("totals", {})
    # What the model was trained on (the train stage's development patients) decides which
    # registered features count; the features report is the fallback for older runs.
    left_out = i.training.get("features_left_out", f.get("left_out", {})) or {}
    used = [r for r in f.get("dictionary", []) if r["name"] not in left_out]
    # A characteristic recorded in one of several forms (the first dose in mg/kg or in mg) is
    # missing by design in the other form: not a gap in the data.
    missing = sorted((r for r in used if r.get("missing_share") and not r.get("alternatives")),
                     key=lambda r: -r["missing_share"])
    labels = {r["name"]: _text(r.get("label", r["name"])) for r in f.get("dictionary", [])}
    return {
        "origin": i.data_origin,
        "raw_dir": _text(i.run_tags.get("raw_dir", "—")),
        "patients": f.get("patients"), "labelled": f.get("labelled"),
        "unlabelled": f.get("unlabelled"),
        "unlabelled_by_reason": sorted((_text(reason), n) for reason, n in
                                       f.get("unlabelled_by_reason", {}).items()),
        "prevalence": _num(f.get("label_prevalence"), 3),
        "n_development": i.training.get("n_development"),
        "development_prevalence": _num(i.training.get("development_prevalence"), 3),
        "n_test": n_test, "test_prevalence": _num(m.get("prevalence"), 3),
        "test_events": round(n_test * m["prevalence"]) if n_test and m.get("prevalence")
        else "—",
        "split": _text(m.get("model", {}).get("split", "—")),
        "sites": sorted((_text(str(site)), n) for site, n in sites.items()),
        "sites_from": sites_from,
        "period": period, "label": _label_definition(target),
        "estimand": _estimand(f.get("estimand")),
        "n_features": len(i.training["features_used"]) if "features_used" in i.training
        else f.get("features"),
        "left_out": [{"feature": _text(name), "label": labels.get(name, _text(name)),
                      "reason": _text(reason)} for name, reason in left_out.items()],
        "missing": [{"feature": _text(r["name"]), "label": _text(r.get("label", r["name"])),
                     "share": f"{r['missing_share']:.1%}", "sources": _text(r.get("sources", ""))}
                    for r in missing],
        "complete_features": sum(1 for r in used if not r.get("missing_share")),
        "validation_status": _text(i.validation.get("status", "—")),
        "rows_in": quarantine.get("rows_in"), "quarantined": quarantine.get("quarantined"),
        "quarantine_tables": [
            {"table": _text(name), "rows_in": t.get("rows_in"),
             "quarantined": t.get("quarantined"),
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
        "classifier": _text(t["candidate"]), "comparator": _text(t.get("comparator")),
        "selection": _text(t.get("selection")),
        "hyperparameters": sorted((_text(k), _text(v)) for k, v in
                                  chosen.get("chosen_hyperparameters", {}).items()),
        "search_space": sorted((_text(k), _text(", ".join(map(str, v))))
                               for k, v in space.items()),
        "search_space_size": size, "candidates_tried": len(chosen.get("candidates", [])),
        "cv": [(_text(name), _num(c.get("cv_log_loss"), 4), _num(c.get("cv_auroc"), 3))
               for name, c in t["classifiers"].items()],
        "calibrator": _text(calibrator.get("method", t.get("calibrator"))),
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
    recorded = bool(names) and not missing_intervals(i.metrics)
    for key, name, meaning, digits in MEASURES:
        values = [_interval(models[role_name].get(key), models[role_name].get(f"{key}_ci"),
                            digits) for role_name in names]
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
    if recorded:
        notes.append(
            "AUROC and AUPRC: bootstrap resampling patients with and without the outcome "
            "separately (their counts kept, as AUROC conditions on the outcome). Every other "
            "interval resamples patients as they were drawn, so the outcome rate varies as in "
            "another test sample: calibration-in-the-large, Brier, PPV, NPV and net benefit "
            "depend on it, and holding it fixed made the intercept's interval about a third as "
            "wide as it should be (it covered the true value about half the time in a "
            "simulation; tests/model/test_metrics_intervals.py).")
        notes.append("ICI cannot be negative and a resample with repeated patients looks less "
                     "well calibrated than the sample, so the ICI interval sits mostly above its "
                     "estimate: read it as a rough range.")
    return {"roles": [_text(name) for name in names], "rows": rows, "thresholds": thresholds,
            "threshold_intervals": any(r.get("sensitivity_ci") for r in
                                       i.evaluation.get("thresholds", [])),
            "net_benefit": net_benefit,
            "all_intervals": recorded, "notes": notes,
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
            "group": _text(r["group"]), "level": _text(str(r["level"])), "n": r["n"],
            "events": r["events"], "prevalence": _num(r.get("prevalence"), 3),
            "status": "poor" if poor else _text(r["status"]),
            "status_text": _text(("poor: " + "; ".join(poor)) if poor else r["status"]),
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


def _validation(i: CardInputs) -> dict:
    """How the figures were estimated (the evaluate stage's sentence) and what the choice of
    classifier cost, as recorded; older evaluations were on a held-out test set."""
    recorded = i.evaluation.get("validation") or {}
    strategy = recorded.get("strategy", "holdout")
    selection = recorded.get("selection") or {}
    chosen = ", ".join(f"{name} {n}×" for name, n in sorted(selection.get("chosen", {}).items()))
    return {
        "strategy": strategy,
        "method": _text(recorded.get("method", i.metrics.get("model", {}).get("split", "—"))),
        "evaluated": {"holdout": "test patients",
                      "cross_validation": "patients, each predicted out-of-fold",
                      "bootstrap": "patients (optimism-corrected figures)"}[strategy],
        "selection": (f"chosen in the resamples: {chosen}; the choice's optimism in log loss "
                      f"{selection['optimism']:+.4f} (inner cross-validated "
                      f"{selection['inner_log_loss']:.4f}, on patients the development did not "
                      f"see {selection['outer_log_loss']:.4f})")
        if selection.get("optimism") is not None else "",
    }


def _sites(i: CardInputs) -> dict | None:
    """Leave-one-site-out (internal-external) figures per site and pooled, as recorded."""
    recorded = i.evaluation.get("by_site")
    if not recorded:
        return None
    rows = [{"site": _text(str(r["site"])), "n": r["n"], "events": r["events"],
             **{k: _interval(r.get(k), r.get(f"{k}_ci"), 3)
                for k in ("auroc", "calibration_intercept", "calibration_slope")},
             "reason": _text(r.get("reason") or "")}
            for r in recorded.get("sites", [])]
    pooled = []
    names = {"auroc": "AUROC", "calibration_intercept": "Calibration intercept",
             "calibration_slope": "Calibration slope"}
    for key, name in names.items():
        p = recorded.get("pooled", {}).get(key) or {}
        pooled.append({"measure": name,
                       "estimate": _interval(p.get("estimate"), p.get("ci"), 3),
                       "i2": "—" if p.get("i2") is None else f"{p['i2']:.0f} %",
                       "prediction": "—" if not p.get("prediction_interval") else
                       "{:.3f} to {:.3f}".format(*p["prediction_interval"]),
                       "reason": _text(p.get("reason") or "")})
    return {"rows": rows, "pooled": pooled, "method": _text(recorded.get("method", "")),
            "failed": sorted((_text(site), _text(why)) for site, why in
                             (recorded.get("sites_failed") or {}).items()),
            "sentences": [_text(line) for line in summary_sentences(recorded)]}


def card_context(i: CardInputs) -> dict:
    """Everything the templates need."""
    data, model, subgroups = _data(i), _model(i), _subgroups(i)
    validation, sites = _validation(i), _sites(i)
    sample_size = _sample_size(i)
    performance = _performance(i)
    patient_interval = _patient_interval(i)
    rule, rule_recorded = _rule(i)
    evidence = {"net_benefit": bool(performance["net_benefit"]),
                "all_intervals": performance["all_intervals"],
                "threshold_intervals": performance["threshold_intervals"],
                "subgroup_intervals": any(r.get("auroc_ci") for r in
                                          i.evaluation.get("subgroups", [])),
                "by_site": bool(sites and sites["rows"])}
    target = i.features.get("target", {})
    outcome = Markup("{} on the {}").format(_text(str(target.get("definition", "response"))),
                                            _instrument_label(target))
    run = i.run
    words = OUTCOME_WORDS.get(str(target.get("definition", "response")),
                              OUTCOME_WORDS["response"])
    return {
        "words": words,
        "registered_model": _text(run.get("registered_model", "—")),
        "version": _text(run.get("version", "—")),
        "run_id": _text(run.get("run_id", "—")),
        "outcome": outcome,
        "provenance": [(what, _text(value)) for what, value in (
            ("MLflow run", run.get("run_id", "—")),
            ("Registered model", f"{run.get('registered_model', '—')} version "
                                 f"{run.get('version', '—')}"),
            ("Git commit", i.run_tags.get("git_commit", "—")),
            ("Data digest (features + labels, md5)", i.run_tags.get("data_digest", "—")),
            ("Features digest (md5)", i.run_tags.get("features_digest", "—")))],
        "intended_use": intended_use(outcome, words["noun"]),
        "data": data, "model": model, "performance": performance, "subgroups": subgroups,
        "validation": validation, "sites": sites,
        "sample_size": sample_size, "patient_interval": patient_interval,
        "poor_rule": {"text": rule.describe(), "recorded": rule_recorded},
        "subgroup_intervals": evidence["subgroup_intervals"],
        "subgroups_skipped": sorted((_text(group), _text(why)) for group, why in
                                    i.evaluation.get("subgroups_skipped", {}).items()),
        "limitations": limitations(i.data_origin, data, subgroups, model, sample_size,
                                   patient_interval=patient_interval,
                                   poor_rule=rule.describe(), words=words,
                                   intervals=performance["all_intervals"],
                                   validation=validation, sites=sites),
        "tripod": checklist(evidence),
    }
