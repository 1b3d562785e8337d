"""Treatment histories before day 0 and the (es)ketamine course from day 0."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.contract import ROUTES

# Mean Gregorian month, the same figure the feature stage uses to find the start of the current
# episode (features/history.py): a trial drawn inside the episode stays inside it there.
_DAYS_PER_MONTH = 30.44
# Share of patients whose treatment history the clinic does not export (a referral letter never
# transcribed, a pharmacy system not linked): a few percent, missing completely at random, so a
# model learns what "history not recorded" means without it standing for an outcome.
HISTORY_NOT_EXPORTED = 0.05
_ANTIDEPRESSANTS = ["ssri", "snri", "bupropion", "mirtazapine", "tca", "other_antidepressant",
                    "maoi"]
_ANTIDEPRESSANT_SHARE = [0.34, 0.25, 0.12, 0.10, 0.09, 0.07, 0.03]

# Planned session days by route (day 0 is the first session): six IV infusions over about two
# weeks (Murrough 2013; ELEKT-D), twice-weekly esketamine induction for four weeks (label),
# weekly oral and subcutaneous courses.
SCHEDULES = {
    "iv": [0, 2, 4, 7, 9, 11],
    "im": [0, 3, 7, 10, 14, 17],
    "intranasal": [0, 3, 7, 10, 14, 17, 21, 24],
    "oral": [0, 7, 14, 21],
    "subcutaneous": [0, 7, 14, 21],
}
_CADSS_MEAN = {"iv": 16.0, "im": 18.0, "intranasal": 12.0, "oral": 4.0, "subcutaneous": 10.0}
_SBP_MEAN_SD = {"iv": (16.0, 11.0), "im": (14.0, 10.0), "intranasal": (10.0, 8.0),
                "oral": (4.0, 6.0), "subcutaneous": (8.0, 7.0)}


def _rows(patient_idx: np.ndarray, **columns) -> pd.DataFrame:
    return pd.DataFrame({"patient_idx": patient_idx, **columns})


def _start_in_episode(fraction: np.ndarray, episode_days: np.ndarray) -> np.ndarray:
    """Start day of a treatment begun `fraction` (0-1] of the current episode before day 0:
    whole days, at least one day before the first session and never before the episode began
    (rounded towards day 0, so -episode_months x 30.44 is never crossed)."""
    return -np.maximum(np.floor(fraction * episode_days), 1).astype(int)


def _course(rng, who: np.ndarray, treatment_class: str, episode_days: np.ndarray,
            outcomes: list[str], outcome_p: list[float], adequate: float,
            ongoing: float) -> pd.DataFrame:
    """One row per patient in `who` for a single non-antidepressant treatment course."""
    n = len(who)
    return _rows(
        who,
        treatment_class=treatment_class,
        start_day=_start_in_episode(rng.uniform(0.05, 1.0, n), episode_days[who]),
        adequate_trial=(rng.random(n) < adequate).astype(int),
        outcome=rng.choice(outcomes, size=n, p=outcome_p),
        ongoing_at_index=(rng.random(n) < ongoing).astype(int),
    )


def simulate_treatments(rng: np.random.Generator,
                        patients: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Prior and concurrent treatments, and the per-patient facts the response model uses."""
    n = len(patients)
    # The simulated episode lasts at least a month (cohort.py), so it holds every start day.
    episode_days = patients["episode_months"].to_numpy() * _DAYS_PER_MONTH
    every = np.arange(n)

    # Failed adequate antidepressant trials: TRD means at least two; longer episodes gather more.
    lam = np.clip(1.2 + 0.5 * np.log(episode_days / (20 * _DAYS_PER_MONTH)), 0.3, 3.0)
    failed = np.minimum(2 + rng.poisson(lam), 10)
    who = np.repeat(every, failed)
    failed_rows = _rows(
        who,
        treatment_class=rng.choice(_ANTIDEPRESSANTS, size=len(who), p=_ANTIDEPRESSANT_SHARE),
        start_day=_start_in_episode(rng.uniform(0.02, 1.0, len(who)), episode_days[who]),
        adequate_trial=1,
        outcome=rng.choice(["none", "partial", "intolerant"], size=len(who),
                           p=[0.55, 0.30, 0.15]),
        ongoing_at_index=0,
    )
    # Most patients still take their latest antidepressant on day 0.
    latest = failed_rows.groupby("patient_idx")["start_day"].idxmax().to_numpy()
    keep_taking = latest[rng.random(len(latest)) < 0.65]
    failed_rows.loc[keep_taking, "ongoing_at_index"] = 1
    failed_rows.loc[keep_taking, "outcome"] = "partial"
    # Two trials of one class starting the same day would be an export glitch, not history:
    # drop such draws, and count failures from what is written so the truth matches the tables.
    failed_rows = failed_rows.drop_duplicates(ignore_index=True)
    failed = failed_rows.groupby("patient_idx").size().reindex(every, fill_value=0).to_numpy()

    inadequate_n = rng.poisson(0.4, n)
    who = np.repeat(every, inadequate_n)
    inadequate_rows = _rows(
        who,
        treatment_class=rng.choice(_ANTIDEPRESSANTS, size=len(who), p=_ANTIDEPRESSANT_SHARE),
        start_day=_start_in_episode(rng.uniform(0.02, 1.0, len(who)), episode_days[who]),
        adequate_trial=0,
        outcome=rng.choice(["intolerant", "unknown", "none"], size=len(who), p=[0.5, 0.3, 0.2]),
        ongoing_at_index=0,
    ).drop_duplicates(ignore_index=True)
    # A response in an earlier episode, before the current one began: not a failure.
    who = every[rng.random(n) < 0.10]
    earlier_episode = _rows(
        who,
        treatment_class=rng.choice(_ANTIDEPRESSANTS, size=len(who), p=_ANTIDEPRESSANT_SHARE),
        start_day=-(np.ceil(episode_days[who]) + rng.integers(90, 2000, len(who))).astype(int),
        adequate_trial=1, outcome="response", ongoing_at_index=0,
    )

    antipsychotic = every[rng.random(n) < 0.35]
    lithium = every[rng.random(n) < 0.12]
    ect = every[rng.random(n) < 0.12]
    tms = every[rng.random(n) < 0.15]
    psychotherapy = every[rng.random(n) < 0.65]
    benzo_now = rng.random(n) < 0.30
    benzo_past = ~benzo_now & (rng.random(n) < 0.08)

    frames = [
        failed_rows, inadequate_rows, earlier_episode,
        _course(rng, antipsychotic, "antipsychotic_augmentation", episode_days,
                ["none", "partial", "intolerant"], [0.5, 0.35, 0.15], 0.9, 0.5),
        _course(rng, lithium, "lithium", episode_days,
                ["none", "partial", "intolerant"], [0.5, 0.3, 0.2], 0.85, 0.4),
        _course(rng, ect, "ect", episode_days,
                ["none", "partial", "response"], [0.45, 0.35, 0.20], 0.9, 0.0),
        _course(rng, tms, "tms", episode_days,
                ["none", "partial", "response"], [0.5, 0.3, 0.2], 0.9, 0.0),
        _course(rng, psychotherapy, "psychotherapy", episode_days,
                ["none", "partial", "unknown"], [0.3, 0.3, 0.4], 0.6, 0.4),
        _course(rng, every[benzo_now], "benzodiazepine", episode_days,
                ["unknown"], [1.0], 0.0, 1.0),
        _course(rng, every[benzo_past], "benzodiazepine", episode_days,
                ["unknown"], [1.0], 0.0, 0.0),
    ]
    table = pd.concat(frames, ignore_index=True)
    # Benzodiazepines are not "trials"; clinics leave adequacy empty for them.
    benzo = table["treatment_class"] == "benzodiazepine"
    table["adequate_trial"] = table["adequate_trial"].astype(object).where(~benzo, None)
    table = table.sort_values(["patient_idx", "start_day", "treatment_class"], kind="stable")
    table.insert(0, "patient_id", patients["patient_id"].to_numpy()[table["patient_idx"]])
    table = table.drop(columns="patient_idx").reset_index(drop=True)

    summary = {
        "failed_trials": failed,
        "augmentation": np.isin(every, antipsychotic) | np.isin(every, lithium),
        "ect": np.isin(every, ect),
        "benzodiazepine_at_index": benzo_now,
    }
    return table, summary


def drop_unexported_histories(rng: np.random.Generator, treatments: pd.DataFrame,
                              patient_ids: np.ndarray,
                              share: float = HISTORY_NOT_EXPORTED) -> pd.DataFrame:
    """The treatments table without any row for a random `share` of patients, whose history the
    clinic did not export. Their true history still shaped their response (the truth file is
    drawn before this); only the record is lost. `rng` is a stream of its own, so every other
    table is the same with or without this step."""
    unexported = patient_ids[rng.random(len(patient_ids)) < share]
    return treatments[~treatments["patient_id"].isin(unexported)].reset_index(drop=True)


def draw_routes(rng: np.random.Generator, sites: pd.DataFrame,
                site_index: np.ndarray) -> np.ndarray:
    """The route each patient is started on, drawn from their site's route mix."""
    mixes = np.stack(sites["route_mix"].to_numpy())[site_index]
    cumulative = mixes.cumsum(axis=1)
    draw = rng.random(len(site_index))[:, None]
    route = np.array(ROUTES)[np.minimum((draw > cumulative).sum(axis=1), len(ROUTES) - 1)]
    return route


def _dose(rng, route: np.ndarray, session_number: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(route)
    dose = np.empty(n)
    unit = np.full(n, "mg_per_kg", dtype=object)
    by_route = {
        "iv": lambda k: rng.choice([0.5, 0.75, 1.0], size=k, p=[0.85, 0.10, 0.05]),
        "im": lambda k: rng.choice([0.5, 0.75, 1.0], size=k, p=[0.6, 0.3, 0.1]),
        "subcutaneous": lambda k: rng.choice([0.25, 0.5, 0.75], size=k, p=[0.2, 0.6, 0.2]),
        "oral": lambda k: rng.choice([50.0, 100.0, 150.0], size=k, p=[0.3, 0.5, 0.2]),
        # Esketamine: 56 mg on the first session, then 56 or 84 mg (label).
        "intranasal": lambda k: rng.choice([56.0, 84.0], size=k, p=[0.4, 0.6]),
    }
    for name, draw in by_route.items():
        mask = route == name
        dose[mask] = draw(mask.sum())
    dose[(route == "intranasal") & (session_number == 0)] = 56.0
    unit[np.isin(route, ["oral", "intranasal"])] = "mg"
    return dose, unit


def simulate_sessions(rng: np.random.Generator, ids: np.ndarray, route: np.ndarray,
                      sites: pd.DataFrame, site_index: np.ndarray,
                      responder: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Sessions actually given, and the last day each patient was followed up.

    Non-responders drop out more often (missing not at random): an early dropout leaves no
    endpoint rating, a late one leaves an endpoint before day 28.
    """
    n = len(ids)
    early = rng.random(n) < np.where(responder, 0.05, 0.12)
    late = ~early & (rng.random(n) < np.where(responder, 0.04, 0.07))
    follow_up_end = np.full(n, 28)
    follow_up_end[early] = rng.integers(2, 10, early.sum())
    follow_up_end[late] = rng.integers(12, 23, late.sum())

    counts = np.array([len(SCHEDULES[r]) for r in route])
    who = np.repeat(np.arange(n), counts)
    session_number = np.concatenate([np.arange(k) for k in counts])
    planned = np.concatenate([SCHEDULES[r] for r in route])
    jitter = np.where(session_number == 0, 0, rng.integers(-1, 2, len(who)))
    # Jitter must not put two sessions on one day: keep each patient's days strictly increasing.
    offset = pd.Series(planned + jitter - session_number).groupby(who).cummax().to_numpy()
    day = offset + session_number
    route_rows = route[who]

    dose, unit = _dose(rng, route_rows, session_number)
    cadss_mean = np.array([_CADSS_MEAN[r] for r in route_rows]) * 0.88 ** session_number
    cadss = np.clip(np.rint(rng.gamma(2.0, cadss_mean / 2.0)), 0, 92)
    sbp_mean, sbp_sd = np.array([_SBP_MEAN_SD[r] for r in route_rows]).T
    sbp = np.rint(rng.normal(sbp_mean, sbp_sd))
    records_cadss = sites["records_cadss"].to_numpy()[site_index][who]
    sbp_missing = rng.random(len(who)) < 0.10

    table = pd.DataFrame({
        "patient_id": ids[who],
        "day": day,
        "route": route_rows,
        "dose": dose,
        "dose_unit": unit,
        "dissociation_cadss": pd.array(np.where(records_cadss, cadss, np.nan)).astype("Int64"),
        "sbp_change_mmhg": pd.array(np.where(sbp_missing, np.nan, sbp)).astype("Int64"),
    })
    table = table[day <= follow_up_end[who]].reset_index(drop=True)
    return table, follow_up_end
