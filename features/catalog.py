"""Assemble the feature registry from code (clinical features) and configuration (instruments,
biomarkers, covariates), so a new scale, marker or covariate needs no code change."""
from __future__ import annotations

from features import biomarkers, course, history, patient, severity, staging
from features.records import KnownRecords
from features.registry import FeatureRegistry, FeatureSpec
from pipeline.core.contract import (
    DIAGNOSES, PATIENT_FLAGS, ROUTES, SEXES,
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

# Read before the value and its unit in reports: "weight-based first dose 0.5 mg/kg".
_DOSE_LABELS = {"mg_per_kg": "weight-based first dose", "mg": "fixed first dose"}


def build_registry(registries: Registries, target_instrument: str,
                   baseline_window: tuple[int, int],
                   biomarker_lookback_days: int) -> FeatureRegistry:
    reg = FeatureRegistry({})
    add = reg.add
    target = registries.instruments[target_instrument]

    # Treatment history (features/history.py): missing, never 0, when it was not recorded;
    # failed trials, augmentation and ECT in the current episode only.
    for name, label, unit, kind, meaning, fn in [
        ("prior_failed_trials", "failed antidepressant trials", "trials", "numeric",
         "failed adequate antidepressant trials (outcome none, partial or intolerant) started in "
         "the current episode, on or after day -episode_months x 30.44; missing when no "
         "antidepressant trial is recorded, or when a failure cannot be placed in the episode "
         "because its start day or the episode length is not recorded",
         history.prior_failed_trials),
        ("benzodiazepine_at_index", "taking a benzodiazepine", "0/1", "binary",
         "1 if a benzodiazepine is still taken on day 0; missing when the treatment history is "
         "not recorded (no antidepressant trial listed) and none is listed as ongoing",
         history.benzodiazepine_at_index),
        ("augmentation_history", "previous augmentation (antipsychotic or lithium)", "0/1",
         "binary", "1 if an antipsychotic or lithium augmentation started in the current "
         "episode; missing when the treatment history is not recorded, or when the episode "
         "length or start day needed to place one is not", history.augmentation_history),
        ("ect_history", "previous ECT", "0/1", "binary",
         "1 if ECT started in the current episode; missing when the treatment history is not "
         "recorded, or when the episode length or start day needed to place it is not",
         history.ect_history),
        ("tms_history", "previous TMS", "0/1", "binary",
         "1 if TMS at any time before the prediction day; missing when the treatment history "
         "is not recorded and none is listed", history.tms_history),
        ("psychotherapy_history", "previous psychotherapy", "0/1", "binary",
         "1 if psychotherapy at any time before the prediction day; missing when the treatment "
         "history is not recorded and none is listed", history.psychotherapy_history),
    ]:
        add(FeatureSpec(name, label, meaning, unit, kind, ("treatments",), fn))

    # Baseline severity on every registered scale, and the target scale's band and stage.
    for key, instrument in registries.instruments.items():
        if not instrument.baseline_feature:
            continue
        add(FeatureSpec(f"baseline_{key}", f"baseline {instrument.label}",
                        f"last pre-dose {instrument.label} total in days {list(baseline_window)}",
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
                    "duration + severity + failed trials + augmentation + ECT (3-15), all in "
                    "the current episode; missing when any part is",
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
    # One feature per dose unit: mg/kg (IV, IM, subcutaneous racemic ketamine) and mg
    # (intranasal esketamine, oral) are not on one scale, and the contract has no body weight
    # to convert them (docs/features.md).
    for unit_level, unit in course.DOSE_FEATURE_UNITS.items():
        add(FeatureSpec(f"dose_{unit_level}", _DOSE_LABELS[unit_level],
                        f"dose of the first session when given in {unit}; missing when it was "
                        "given in another unit or its unit is not recorded", unit, "numeric",
                        ("sessions",), course.first_dose_in(unit_level),
                        alternatives=next(group for group, members in
                                          course.ALTERNATIVES.items()
                                          if f"dose_{unit_level}" in members)))
    return reg
