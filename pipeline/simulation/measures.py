"""Ratings and biomarkers: what the clinic measured, with realistic noise and missingness."""
from __future__ import annotations

import numpy as np
import pandas as pd

# Share of the endpoint improvement already seen on each follow-up day: ketamine acts within
# hours, and early improvement predicts end-of-course response (Murrough 2013).
_IMPROVEMENT_BY_DAY = {1: 0.55, 7: 0.80, 14: 0.92, 21: 0.98}
_ENDPOINT_DAY = 28


def latent_biology(rng: np.random.Generator, patients: pd.DataFrame, sites: pd.DataFrame,
                   site_index: np.ndarray) -> dict[str, np.ndarray]:
    """True biomarker values for every patient, whether or not the clinic measured them."""
    n = len(patients)
    met_frequency = sites["met_allele_frequency"].to_numpy()[site_index]
    # Median CRP about 1.8 mg/L with about 28 % at or above 3 mg/L; higher with higher BMI.
    log_crp = np.log(1.8) + 0.05 * (patients["bmi"].to_numpy() - 28.0) + rng.normal(0, 0.85, n)
    crp = np.exp(log_crp)
    il6 = np.exp(np.log(2.3) + 0.5 * (log_crp - np.log(1.8)) + rng.normal(0, 0.5, n))
    return {
        "met_alleles": rng.binomial(2, met_frequency),
        "genotyped": rng.random(n) < sites["genotyping_rate"].to_numpy()[site_index],
        "crp_mg_l": crp,
        "il6_pg_ml": il6,
    }


def _rating_rows(pid, day, instrument, score) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pid, "day": day, "instrument": instrument,
                         "score": score.astype(int)})


def _improvement(rng: np.random.Generator, responder: np.ndarray) -> np.ndarray:
    """Fractional MADRS reduction at the endpoint: >= 0.5 for responders, < 0.5 otherwise."""
    n = len(responder)
    return np.where(responder, 0.5 + 0.5 * rng.beta(2.0, 2.5, n),
                    -0.2 + 0.699 * rng.beta(2.5, 2.0, n))


def simulate_assessments(rng: np.random.Generator, patients: pd.DataFrame, sites: pd.DataFrame,
                         site_index: np.ndarray, baseline_madrs: np.ndarray,
                         responder: np.ndarray, follow_up_end: np.ndarray) -> pd.DataFrame:
    """MADRS (screening, day 0, follow-ups, endpoint) plus secondary scales."""
    n = len(patients)
    pid = patients["patient_id"].to_numpy()
    every = np.arange(n)
    frames = []

    # Baseline: a pre-dose MADRS on day 0 for most, a screening rating for many. A few patients
    # were screened only long before day 0 and rated nothing since: they have no baseline.
    no_baseline = rng.random(n) < 0.015
    rated_day0 = ~no_baseline & (rng.random(n) < 0.95)
    screened = no_baseline | ~rated_day0 | (rng.random(n) < 0.80)
    screening_day = np.where(no_baseline, -rng.integers(16, 31, n), -rng.integers(3, 15, n))
    screening_score = np.clip(np.rint(baseline_madrs + rng.normal(0, 2.5, n)), 0, 60)
    frames.append(_rating_rows(pid[screened], screening_day[screened], "madrs",
                               screening_score[screened]))
    frames.append(_rating_rows(pid[rated_day0], 0, "madrs", baseline_madrs[rated_day0]))

    improvement = _improvement(rng, responder)
    for day, share in _IMPROVEMENT_BY_DAY.items():
        jitter = 0 if day == 1 else rng.integers(-1, 2, n)  # day 1 is the 24-hour rating
        actual_day = np.broadcast_to(day + jitter, (n,))
        rated = (actual_day <= follow_up_end) & (rng.random(n) < 0.92)
        score = baseline_madrs * (1 - improvement * share) + rng.normal(0, 2.5, n)
        frames.append(_rating_rows(pid[rated], actual_day[rated], "madrs",
                                   np.clip(np.rint(score), 0, 60)[rated]))
    # The endpoint rating is exact by construction: floor for responders and ceil otherwise,
    # so the observed response label equals the latent one for every completer.
    raw_endpoint = baseline_madrs * (1 - improvement)
    endpoint = np.clip(np.where(responder, np.floor(raw_endpoint), np.ceil(raw_endpoint)), 0, 60)
    completer = follow_up_end >= _ENDPOINT_DAY
    endpoint_day = _ENDPOINT_DAY - rng.integers(0, 3, n)
    frames.append(_rating_rows(pid[completer], endpoint_day[completer], "madrs",
                               endpoint[completer]))

    def secondary(who_mask, key, scale, top, sd, endpoint_too):
        base = np.clip(np.rint(baseline_madrs * scale + rng.normal(0, sd, n)), 0, top)
        day0 = -rng.integers(0, 8, n)
        frames.append(_rating_rows(pid[who_mask], day0[who_mask], key, base[who_mask]))
        if endpoint_too:
            end = np.clip(np.rint(base * (1 - improvement) + rng.normal(0, sd * 0.8, n)), 0, top)
            done = who_mask & completer
            frames.append(_rating_rows(pid[done], endpoint_day[done], key, end[done]))

    secondary(rng.random(n) < 0.88, "phq9", 0.45, 27, 2.5, True)
    secondary(sites["uses_hamd17"].to_numpy()[site_index], "hamd17", 0.72, 52, 2.0, True)
    secondary(rng.random(n) < 0.25, "qids_sr16", 0.50, 27, 2.5, True)
    secondary(rng.random(n) < 0.10, "bdi2", 0.85, 63, 4.0, False)

    anxious = patients["anxious_distress"].to_numpy()
    gad7 = np.clip(np.rint(8 + 5 * anxious + rng.normal(0, 3, n)), 0, 21)
    rated = rng.random(n) < 0.55
    frames.append(_rating_rows(pid[rated], -rng.integers(0, 8, n)[rated], "gad7", gad7[rated]))

    table = pd.concat(frames, ignore_index=True)
    order = pd.Series(every, index=pid)
    table["_order"] = order.loc[table["patient_id"]].to_numpy()
    table = table.sort_values(["_order", "day", "instrument"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def simulate_biomarkers(rng: np.random.Generator, ids: np.ndarray,
                        biology: dict[str, np.ndarray], baseline_madrs: np.ndarray,
                        responder: np.ndarray) -> pd.DataFrame:
    """Measured biomarkers. Missing not at random: CRP is ordered more often when it is high,
    serum BDNF is drawn less often in the most severely ill; BDNF rises after response, so its
    post-index values are a leakage trap for the features stage."""
    n = len(ids)
    frames = []

    def rows(mask, day, marker, value, decimals):
        frames.append(pd.DataFrame({"patient_id": ids[mask], "day": np.broadcast_to(day, n)[mask],
                                    "marker": marker, "value": np.round(value[mask], decimals)}))

    rows(biology["genotyped"], -rng.integers(0, 60, n), "bdnf_met_alleles",
         biology["met_alleles"].astype(float), 0)

    crp = np.clip(biology["crp_mg_l"], 0.05, 300)
    crp_measured = rng.random(n) < np.where(crp >= 3.0, 0.65, 0.30)
    rows(crp_measured, -rng.integers(1, 31, n), "crp_mg_l", crp, 2)
    repeat = crp_measured & (rng.random(n) < 0.15)  # an older sample too, outside most windows
    rows(repeat, -rng.integers(60, 181, n), "crp_mg_l",
         np.clip(crp * np.exp(rng.normal(0, 0.4, n)), 0.05, 300), 2)

    il6_measured = np.where(crp_measured, rng.random(n) < 0.5, rng.random(n) < 0.05)
    rows(il6_measured, -rng.integers(1, 31, n), "il6_pg_ml", np.clip(biology["il6_pg_ml"], 0.1,
                                                                      1000), 2)

    bdnf = np.clip(rng.normal(25.0, 7.0, n) - 0.15 * (baseline_madrs - 36), 1.0, 100)
    bdnf_measured = rng.random(n) < np.where(baseline_madrs >= 40, 0.20, 0.45)
    rows(bdnf_measured, -rng.integers(0, 8, n), "bdnf_serum_ng_ml", bdnf, 1)
    after = bdnf_measured & (rng.random(n) < 0.7)
    bdnf_day7 = np.clip(bdnf + 3.5 * responder + rng.normal(0, 3.0, n), 1.0, 100)
    rows(after, 7, "bdnf_serum_ng_ml", bdnf_day7, 1)

    table = pd.concat(frames, ignore_index=True)
    order = pd.Series(np.arange(n), index=ids)
    table["_order"] = order.loc[table["patient_id"]].to_numpy()
    table = table.sort_values(["_order", "day", "marker"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def mark_timing(table: pd.DataFrame, patients: pd.DataFrame, unmarked_site) -> pd.DataFrame:
    """`timing` as the last column: `pre_dose` on day 0 (every simulated day-0 rating and
    sample precedes the first dose), empty otherwise and at `unmarked_site` (unknown)."""
    site = patients.set_index("patient_id")["site"] if "site" in patients else None
    marked = table["day"].to_numpy() == 0
    if site is not None and unmarked_site is not None:
        marked &= site.reindex(table["patient_id"]).to_numpy() != unmarked_site
    out = table.copy()
    out["timing"] = np.where(marked, "pre_dose", None)
    return out
