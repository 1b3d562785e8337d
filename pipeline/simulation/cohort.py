"""Generate a synthetic treatment-resistant depression cohort treated with (es)ketamine.

The order of the steps matters for determinism: every draw comes from one seeded generator in a
fixed sequence, so the same arguments give byte-identical tables. The true probability of
response goes to `SimulatedCohort.truth` only, never into the contract tables.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from pipeline.simulation import history, measures
from pipeline.simulation.effects import ResponseEffects
from pipeline.validation.deid import looks_identifying

_ID_ALPHABET = np.array(list("abcdefghjkmnpqrstuvwxyz23456789"))


@dataclass(frozen=True)
class SimulatedCohort:
    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame  # patient_id, true_probability


def _patient_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random pseudonymous ids ("pt-" + 8 characters) that look like no real identifier: a
    draw the de-identification gate would flag (say "pt-mrn12345", about 6 in a million) is
    skipped, so a large simulated cohort passes the gate."""
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        draw = ["pt-" + "".join(row) for row in rng.choice(_ID_ALPHABET, size=(n, 8))]
        flagged = looks_identifying(pd.Series(draw), "id").to_numpy()
        for pid, skip in zip(draw, flagged):
            if not skip and pid not in seen:
                seen.add(pid)
                ids.append(pid)
            if len(ids) == n:
                break
    return np.array(ids)


def _sites(rng: np.random.Generator, n_sites: int) -> pd.DataFrame:
    """Sites differ in size, route mix, genotyping practice and base rate. Drawn from their own
    generator, so the same site seed gives the same sites whatever the number of patients."""
    names = [f"site_{i + 1:02d}" for i in range(n_sites)]
    share = rng.dirichlet(np.full(n_sites, 6.0))
    # Route mixes rotate across sites: IV-led clinics, esketamine clinics, mixed practices.
    route_mixes = np.array([
        [0.80, 0.05, 0.10, 0.03, 0.02],
        [0.15, 0.02, 0.78, 0.03, 0.02],
        [0.45, 0.10, 0.30, 0.10, 0.05],
        [0.35, 0.05, 0.35, 0.20, 0.05],
    ])
    frame = pd.DataFrame({
        "site": names,
        "share": share,
        "base_logodds_offset": rng.normal(0.0, 1.0, n_sites),
        "met_allele_frequency": rng.uniform(0.18, 0.40, n_sites),
        "genotyping_rate": np.where(np.arange(n_sites) == 0, 0.80, 0.15),
        "uses_hamd17": np.arange(n_sites) % 2 == 1,
        "records_cadss": np.arange(n_sites) % 3 != 2,
    })
    frame["route_mix"] = [route_mixes[i % len(route_mixes)] for i in range(n_sites)]
    return frame


def _patients(rng: np.random.Generator, ids: np.ndarray, site_names: np.ndarray) -> pd.DataFrame:
    n = len(ids)
    age = np.clip(np.rint(rng.normal(46, 13.5, n)), 18, 95).astype(int)
    # HIPAA Safe Harbor: ages above 89 are reported as 90 ("90 or older").
    age = np.minimum(age, 90)
    sex = rng.choice(["female", "male", "other", "unknown"], size=n, p=[0.58, 0.40, 0.01, 0.01])
    bmi = np.round(np.clip(rng.lognormal(np.log(28.0), 0.19, n), 15.0, 60.0), 1)
    diagnosis = rng.choice(["mdd", "bipolar_ii", "bipolar_i", "other"], size=n,
                           p=[0.86, 0.07, 0.04, 0.03])
    episode_months = np.round(np.clip(rng.lognormal(np.log(20.0), 0.9, n), 1.0, 360.0), 1)
    flags = {
        "family_history_aud": rng.random(n) < 0.22,
        "prior_suicide_attempt": rng.random(n) < 0.30,
        "anxious_distress": rng.random(n) < 0.50,
        "comorbid_ptsd": rng.random(n) < 0.20,
        "comorbid_chronic_pain": rng.random(n) < 0.25,
        "comorbid_sud": rng.random(n) < 0.10,
    }
    frame = pd.DataFrame({
        "patient_id": ids, "site": site_names, "age_years": age, "sex": sex, "bmi": bmi,
        "diagnosis": diagnosis, "episode_months": episode_months,
        **{name: flag.astype(int) for name, flag in flags.items()},
        # Declared covariates with no effect on response (configs/covariates.yaml).
        "years_education": np.clip(np.rint(rng.normal(14, 3, n)), 6, 24).astype(int),
        "employment": rng.choice(["employed", "unemployed", "disability", "retired", "student"],
                                 size=n, p=[0.40, 0.20, 0.22, 0.12, 0.06]),
        "lives_alone": (rng.random(n) < 0.27).astype(int),
    })
    return frame


def _blank_some(rng: np.random.Generator, frame: pd.DataFrame, shares: dict[str, float]) -> None:
    """Leave a share of cells empty, as real exports do (missing completely at random)."""
    for column, share in shares.items():
        missing = rng.random(len(frame)) < share
        frame[column] = frame[column].astype(object).where(~missing, None)


def simulate_cohort(n_patients: int, n_sites: int, seed: int, site_seed: int | None = None,
                    effects: ResponseEffects = ResponseEffects()) -> SimulatedCohort:
    """Simulate `n_patients` across `n_sites`; see docs/simulator.md for the model.

    `site_seed` (default: `seed`) fixes the sites; two cohorts with different seeds and the
    same site seed are independent patients of the same clinics.
    """
    if n_patients < 1 or n_sites < 1:
        raise ValueError("need at least one patient and one site")
    sites = _sites(np.random.default_rng([seed if site_seed is None else site_seed, 1]),
                   n_sites)
    rng = np.random.default_rng(seed)
    ids = _patient_ids(rng, n_patients)
    site_index = rng.choice(n_sites, size=n_patients, p=sites["share"].to_numpy())
    patients = _patients(rng, ids, sites["site"].to_numpy()[site_index])

    treatments, treatment_summary = history.simulate_treatments(rng, patients)
    route = history.draw_routes(rng, sites, site_index)
    biology = measures.latent_biology(rng, patients, sites, site_index)
    baseline_madrs = np.clip(np.rint(rng.normal(36.5, 6.0, n_patients)), 20, 60)

    site_offset = effects.site_sd * sites["base_logodds_offset"].to_numpy()[site_index]
    logodds = (
        effects.intercept + site_offset
        + effects.bmi_per_kg_m2 * (patients["bmi"].to_numpy() - 28.0)
        + effects.family_history_aud * patients["family_history_aud"].to_numpy()
        + effects.prior_suicide_attempt * patients["prior_suicide_attempt"].to_numpy()
        + effects.per_failed_trial_beyond_2 * (treatment_summary["failed_trials"] - 2)
        + effects.episode_over_24_months * (patients["episode_months"].to_numpy() > 24)
        + effects.augmentation_history * treatment_summary["augmentation"]
        + effects.ect_history * treatment_summary["ect"]
        + effects.benzodiazepine_at_index * treatment_summary["benzodiazepine_at_index"]
        + effects.per_met_allele * biology["met_alleles"]
        + effects.very_severe_baseline * (baseline_madrs >= 40)
        + effects.anxious_distress * patients["anxious_distress"].to_numpy()
        + effects.crp_3_or_more * (biology["crp_mg_l"] >= 3.0)
        + effects.route_intranasal * (route == "intranasal")
        + effects.route_oral * (route == "oral")
        + effects.route_subcutaneous * (route == "subcutaneous")
        + effects.intranasal_age_65_plus * ((route == "intranasal")
                                            & (patients["age_years"].to_numpy() >= 65))
    )
    true_probability = expit(logodds)
    responder = rng.random(n_patients) < true_probability

    sessions, last_session_day = history.simulate_sessions(rng, ids, route, sites,
                                                           site_index, responder)
    assessments = measures.simulate_assessments(rng, patients, sites, site_index, baseline_madrs,
                                                responder, last_session_day)
    biomarkers = measures.simulate_biomarkers(rng, ids, biology, baseline_madrs, responder)

    # Real exports leave cells empty; the contract allows it for every optional column.
    _blank_some(rng, patients, {"bmi": 0.05, "episode_months": 0.03, "family_history_aud": 0.10,
                                "years_education": 0.08, "employment": 0.04})

    # Some clinics' exports lack a patient's treatment history altogether. A stream of its own:
    # the other tables and the truth do not depend on it.
    treatments = history.drop_unexported_histories(np.random.default_rng([seed, 2]), treatments,
                                                   ids)

    # Day-0 records say they were taken before the first dose; the first site's export leaves
    # `timing` empty, as many do (the contract reads an unmarked day-0 record as pre-dose and
    # the validation report counts them). Deterministic: no draw, so nothing else changes.
    first_site = sites["site"].to_numpy()[0] if "site" in sites else None
    assessments = measures.mark_timing(assessments, patients, first_site)
    biomarkers = measures.mark_timing(biomarkers, patients, first_site)

    truth = pd.DataFrame({"patient_id": ids, "true_probability": np.round(true_probability, 6)})
    tables = {
        "patients": patients,
        "treatments": treatments,
        "assessments": assessments,
        "sessions": sessions,
        "biomarkers": biomarkers,
    }
    return SimulatedCohort(tables=tables, truth=truth)
