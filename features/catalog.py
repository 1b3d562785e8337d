"""Assemble the feature registry from code (clinical features) and configuration (instruments,
biomarkers, covariates), so a new scale, marker or covariate needs no code change."""
from __future__ import annotations

from features import biomarkers, course, history, patient, severity, staging
from features.records import KnownRecords
from features.registry import FeatureRegistry, FeatureSpec
from pipeline.core.contract import (
    DIAGNOSES, DOSE_UNITS, PATIENT_FLAGS, ROUTES, SEXES,
)
from pipeline.core.registries import Registries

_FLAG_LABELS = {
    "family_history_aud": "family history of alcohol use disorder",
    "prior_suicide_attempt": "prior suicide attempt",
    "anxious_distress": "anxious distress",
    "comorbid_ptsd": "PTSD",
    "comorbid_chronic_pain": "chronic pain",
    "comorbid_sud": "substance use disorder",
}


def build_registry(registries: Registries, target_instrument: str,
                   baseline_window: tuple[int, int],
                   biomarker_lookback_days: int) -> FeatureRegistry:
    reg = FeatureRegistry({})
    add = reg.add
    target = registries.instruments[target_instrument]

    # Treatment history.
    add(FeatureSpec("prior_failed_trials", "failed antidepressant trials",
                    history.prior_failed_trials.__doc__.split("\n")[0], "trials", "numeric",
                    ("treatments",), history.prior_failed_trials))
    for name, label, fn in [
        ("benzodiazepine_at_index", "taking a benzodiazepine", history.benzodiazepine_at_index),
        ("augmentation_history", "previous augmentation (antipsychotic or lithium)",
         history.augmentation_history),
        ("ect_history", "previous ECT", history.ect_history),
        ("tms_history", "previous TMS", history.tms_history),
        ("psychotherapy_history", "previous psychotherapy", history.psychotherapy_history),
    ]:
        add(FeatureSpec(name, label, fn.__doc__.split("\n")[0], "0/1", "binary",
                        ("treatments",), fn))

    # Baseline severity on every registered scale, and the target scale's band and stage.
    for key, instrument in registries.instruments.items():
        if not instrument.baseline_feature:
            continue
        add(FeatureSpec(f"baseline_{key}", f"baseline {instrument.label}",
                        f"last {instrument.label} total in days {list(baseline_window)}",
                        f"points ({instrument.min:g}-{instrument.max:g})", "numeric",
                        ("assessments",), severity.baseline_score(key, baseline_window)))
    bands = tuple(dict.fromkeys(band for _, band in target.severity_bands)) or None
    band_fn = severity.baseline_severity_band(target, baseline_window)
    add(FeatureSpec("baseline_severity_band", f"baseline severity ({target.label})",
                    band_fn.__doc__, "band", "categorical", ("assessments",), band_fn,
                    levels=bands))

    def resistance(records: KnownRecords):
        return staging.resistance_stage(
            patient.patient_column("episode_months")(records), band_fn(records),
            history.prior_failed_trials(records), history.augmentation_history(records),
            history.ect_history(records))
    add(FeatureSpec("resistance_stage", "treatment-resistance stage (Maudsley-style)",
                    "duration + severity + failed trials + augmentation + ECT (3-15)",
                    "points", "numeric", ("patients", "assessments", "treatments"), resistance))

    # Patient characteristics, as recorded.
    add(FeatureSpec("age_years", "age", "age in years (90 = 90 or older)", "years", "numeric",
                    ("patients",), patient.patient_column("age_years")))
    add(FeatureSpec("sex", "sex", "sex recorded by the site", "", "categorical",
                    ("patients",), patient.patient_column("sex"), levels=SEXES))
    add(FeatureSpec("bmi", "body-mass index", "body-mass index", "kg/m²", "numeric",
                    ("patients",), patient.patient_column("bmi")))
    add(FeatureSpec("diagnosis", "diagnosis", "diagnosis of the current episode", "",
                    "categorical", ("patients",), patient.patient_column("diagnosis"),
                    levels=DIAGNOSES))
    add(FeatureSpec("episode_months", "length of current episode", "length of the current "
                    "episode", "months", "numeric", ("patients",),
                    patient.patient_column("episode_months")))
    for flag in PATIENT_FLAGS:
        add(FeatureSpec(flag, _FLAG_LABELS[flag], _FLAG_LABELS[flag], "0/1", "binary",
                        ("patients",), patient.patient_column(flag)))
    for key, cov in registries.covariates.items():
        add(FeatureSpec(key, cov.label, f"declared covariate: {cov.label}", "", cov.kind,
                        ("patients",), patient.patient_column(key),
                        levels=tuple(cov.levels) if cov.levels else None))

    # Biomarkers.
    for key, marker in registries.biomarkers.items():
        lookback = None if marker.time_invariant else biomarker_lookback_days
        window = "at any time" if lookback is None else f"in the {lookback} days"
        add(FeatureSpec(key, marker.label, f"last {marker.label} {window} up to the "
                        "prediction day", marker.unit, "numeric", ("biomarkers",),
                        biomarkers.last_marker_value(key, lookback)))

    # Planned treatment.
    add(FeatureSpec("route", "route of ketamine/esketamine", "route of the first session", "",
                    "categorical", ("sessions",), course.first_session("route", "object"),
                    levels=ROUTES))
    add(FeatureSpec("dose", "first dose", "dose of the first session, in dose_unit",
                    "mg/kg or mg", "numeric", ("sessions",),
                    course.first_session("dose", "Float64")))
    add(FeatureSpec("dose_unit", "dose unit", "unit of the first dose", "", "categorical",
                    ("sessions",), course.first_session("dose_unit", "object"),
                    levels=DOSE_UNITS))
    return reg
