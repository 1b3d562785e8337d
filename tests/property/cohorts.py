"""Contract-valid raw cohorts for the whole-pipeline property test.

A cohort is described by a small, printable `CohortSpec` (the structure: sizes, which optional
tables and columns, scales, target, prevalence, sites, edge cases) and a `seed` for the cell
values. Hypothesis draws and shrinks the spec; `build_tables` turns it, deterministically, into
pandas frames that follow docs/data-contract.md; `write_cohort` writes them as CSVs together
with a params file and registries, ready for `txresponse validate`.

Deliberately independent of the pipeline's own code: levels and ranges come from the contract
page and the YAML registries, read here with PyYAML, and the labels are computed from the
contract's definition of the outcome, not by features/labels.py.

Reproduce one cohort by hand (the spec is what Hypothesis prints as the falsifying example):

    .venv/bin/python -m tests.property.cohorts "CohortSpec(n_patients=20, ...)" /tmp/cohort
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"

# --- the contract (docs/data-contract.md), written out rather than imported -------------------

SEXES = ("female", "male", "other", "unknown")
DIAGNOSES = ("mdd", "bipolar_i", "bipolar_ii", "other")
ANTIDEPRESSANTS = ("ssri", "snri", "tca", "maoi", "bupropion", "mirtazapine",
                   "other_antidepressant")
TREATMENT_CLASSES = ANTIDEPRESSANTS + ("antipsychotic_augmentation", "lithium",
                                       "benzodiazepine", "ect", "tms", "psychotherapy", "other")
TREATMENT_OUTCOMES = ("response", "partial", "none", "intolerant", "unknown")
ROUTES = ("iv", "im", "intranasal", "oral", "subcutaneous")
FLAGS = ("family_history_aud", "prior_suicide_attempt", "anxious_distress", "comorbid_ptsd",
         "comorbid_chronic_pain", "comorbid_sud")

# Optional columns of `patients` besides `site` (site is drawn separately: `n_sites`), with the
# covariates declared in configs/covariates.yaml.
NUMERIC_PATIENT_COLUMNS = ("age_years", "bmi", "episode_months", "years_education")
CATEGORICAL_PATIENT_COLUMNS = ("sex", "diagnosis", "employment")
BINARY_PATIENT_COLUMNS = FLAGS + ("lives_alone",)
PATIENT_COLUMNS = NUMERIC_PATIENT_COLUMNS + CATEGORICAL_PATIENT_COLUMNS + BINARY_PATIENT_COLUMNS

OPTIONAL_TABLES = ("treatments", "sessions", "biomarkers")
# Optional (may be absent) columns of the optional tables; the required ones are always written.
TABLE_OPTIONAL_COLUMNS = {
    "treatments": ("start_day", "adequate_trial", "outcome", "ongoing_at_index"),
    "sessions": ("dose", "dose_unit", "dissociation_cadss", "sbp_change_mmhg"),
    "biomarkers": (),
}
TABLE_REQUIRED_COLUMNS = {
    "treatments": ("patient_id", "treatment_class"),
    "sessions": ("patient_id", "day", "route"),
    "biomarkers": ("patient_id", "day", "marker", "value"),
}

# Outcome defaults in configs/params.yaml (the strategy keeps them; the windows are what the
# endpoint scores are drawn against).
BASELINE_WINDOW = (-14, 0)
ENDPOINT_WINDOW = (10, 28)
MIN_REDUCTION = 0.5

# Fast settings for the temporary params.yaml (evaluate.bootstrap_resamples cannot go below
# 200: pipeline/core/params.py refuses fewer).
FAST = {"cv_folds": 3, "uncertainty_replicates": 2, "bootstrap_resamples": 200,
        "max_patients": 3}


def _registry(name: str) -> dict:
    return yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8")) or {}


INSTRUMENTS: dict = _registry("instruments.yaml")
BIOMARKERS: dict = _registry("biomarkers.yaml")
COVARIATES: dict = _registry("covariates.yaml")
# Every registered scale can be rated; the target is a depression or anxiety scale with a
# baseline (not CADSS, which is rated during sessions).
SCALES = tuple(INSTRUMENTS)
TARGETS = tuple(k for k, v in INSTRUMENTS.items() if v.get("baseline_feature", True))
REMISSION_TARGETS = tuple(k for k in TARGETS if INSTRUMENTS[k].get("remission_max") is not None)
LABEL_STYLES = ("plain", "numeric", "odd", "long")
SITE_LABELS = {
    "plain": tuple(f"site_{c}" for c in "abcdefgh"),
    "numeric": tuple(str(i) for i in range(1, 9)),
    "odd": ("North clinic", "South clinic", "Ward 7", "Day unit", "Clinic E", "Clinic F",
            "Clinic G", "Clinic H"),
    "long": tuple(f"site_{c}" for c in "abcdefgh"),
}


_ID_FORMATS = {
    "plain": "pt-{i:04d}",
    "numeric": "{i:04d}",  # digits with leading zeros: a CSV reader may turn them into ints
    "odd": "Pt_{i:03d}.k",
    "long": "pt-{i:04d}-",  # padded to 64 characters, the contract's limit
}


def patient_ids(spec: CohortSpec) -> list[str]:
    """Pseudonymous ids: 1-64 characters, none a run of 7+ digits (the gate refuses those)."""
    form = _ID_FORMATS[spec.label_style]
    ids = [form.format(i=i) for i in range(1, spec.n_patients + 1)]
    return [i.ljust(64, "x") for i in ids] if spec.label_style == "long" else ids


def site_label(spec: CohortSpec, index: int) -> str:
    return SITE_LABELS[spec.label_style][index]


@dataclass(frozen=True)
class CohortSpec:
    """Everything that decides a cohort; `repr` is valid Python, so a printed falsifying example
    can be pasted back (see `parse_spec`)."""

    n_patients: int = 60
    seed: int = 0
    prevalence: float = 0.5           # share of responders among the labelled patients
    signal: bool = True               # responders' target baselines run higher (else: noise)
    scales: tuple[str, ...] = ("madrs",)  # instruments rated; always includes the target
    target: str = "madrs"             # target.instrument
    definition: str = "response"      # target.definition
    patient_columns: tuple[str, ...] = ()  # optional patients columns written (besides site)
    n_sites: int = 1                  # 0: no `site` column at all
    site_skew: bool = False           # one site holds ~90 % of the patients
    tables: tuple[str, ...] = ()      # optional tables supplied
    table_columns: tuple[str, ...] = ()  # "table.column": optional columns of those tables
    missing_fraction: float = 0.0     # share of empty cells in optional columns (site too)
    constant_columns: bool = False    # every patient column holds a single value
    rare_diagnosis: bool = False      # diagnosis is mdd except for one or two patients
    unlabelled_fraction: float = 0.0  # patients without baseline/endpoint (or a zero baseline)
    trim_registries: bool = False     # configs/ lists only the scales, markers, covariates used
    holdout_site: bool = False        # split.holdout_site = the last site
    search_budget: int = 1            # train.search_budget
    train_model: str = "auto"         # train.model: auto, lightgbm or logistic
    # Contract-valid but unusual formatting:
    label_style: str = "plain"        # ids/sites: plain (pt-0001, site_a), numeric (0001, 1),
    #                                   odd (Pt_001.k, North clinic), long (64-character ids)
    fractional_scores: bool = False   # scores on a half-point grid (12.5)
    shuffled: bool = False            # rows and columns of every table in random order
    csv_style: str = "plain"          # plain, or bom_crlf (UTF-8 byte-order mark, CRLF lines)
    parquet_tables: tuple[str, ...] = ()  # tables written as typed Parquet instead of CSV
    empty_tables: bool = False        # the optional tables are a header without rows

    def __post_init__(self) -> None:
        assert 20 <= self.n_patients, "the contract test needs at least 20 patients"
        assert self.target in self.scales, "the target must be one of the cohort's scales"
        assert self.target in TARGETS
        assert self.definition in ("response", "remission")
        assert self.definition == "response" or self.target in REMISSION_TARGETS
        assert set(self.scales) <= set(SCALES)
        assert set(self.patient_columns) <= set(PATIENT_COLUMNS)
        assert set(self.tables) <= set(OPTIONAL_TABLES)
        assert 0 <= self.prevalence <= 1 and 0 <= self.unlabelled_fraction <= 0.5
        assert not self.holdout_site or self.n_sites >= 2
        assert self.train_model in ("auto", "lightgbm", "logistic")
        assert set(self.parquet_tables) <= {"patients", "assessments", *OPTIONAL_TABLES}
        assert self.label_style in LABEL_STYLES and self.csv_style in ("plain", "bom_crlf")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def short(self) -> str:
        """One line for logs and event statistics."""
        return (f"n={self.n_patients} prev={self.prevalence:g} target={self.target}/"
                f"{self.definition} scales={'+'.join(self.scales)} "
                f"cols={','.join(self.patient_columns) or '-'} sites={self.n_sites}"
                f"{' skew' if self.site_skew else ''} tables={','.join(self.tables) or '-'} "
                f"missing={self.missing_fraction:g} unlabelled={self.unlabelled_fraction:g}"
                f"{' constant' if self.constant_columns else ''}"
                f"{' rare_dx' if self.rare_diagnosis else ''}"
                f"{' trimmed' if self.trim_registries else ''}"
                f"{' holdout' if self.holdout_site else ''}"
                f"{'' if self.signal else ' no_signal'}"
                f"{'' if self.train_model == 'auto' else ' model=' + self.train_model}"
                f"{'' if self.label_style == 'plain' else ' labels=' + self.label_style}"
                f"{' half_points' if self.fractional_scores else ''}"
                f"{' shuffled' if self.shuffled else ''}"
                f"{'' if self.csv_style == 'plain' else ' ' + self.csv_style}"
                f"{' parquet=' + ','.join(self.parquet_tables) if self.parquet_tables else ''}"
                f"{' empty_tables' if self.empty_tables else ''} seed={self.seed}")


def parse_spec(text: str) -> CohortSpec:
    """A spec from its repr (`CohortSpec(...)`, as Hypothesis prints it) or its JSON."""
    text = text.strip()
    if text.startswith("{"):
        raw = json.loads(text)
        names = {f.name for f in fields(CohortSpec)}
        return CohortSpec(**{k: tuple(v) if isinstance(v, list) else v
                             for k, v in raw.items() if k in names})
    if text.startswith("cohort="):
        text = text[len("cohort="):]
    return eval(text.rstrip(","), {"__builtins__": {}}, {"CohortSpec": CohortSpec})  # noqa: S307


def spec_argument(text: str) -> CohortSpec:
    """A spec given on the command line: its repr, its JSON, or a path to a cohort.json."""
    if not text.lstrip().startswith(("CohortSpec(", "cohort=", "{")):
        text = Path(text).read_text(encoding="utf-8")
    return parse_spec(text)


# --- the Hypothesis strategy -------------------------------------------------------------------

@st.composite
def cohort_specs(draw) -> CohortSpec:
    """Contract-valid cohort descriptions, biased towards the edges (prevalence 0 and 1, 20
    patients, one numeric or only categorical patient columns, no optional tables, one site or
    none, constant columns, a rare diagnosis, targets other than MADRS)."""
    # Mostly 60-400 (enough for both outcomes to reach training); sometimes 20-59, half of
    # those exactly 20.
    small = draw(st.integers(0, 3)) == 3
    n_patients = draw(st.one_of(st.just(20), st.integers(21, 59))) if small \
        else draw(st.integers(60, 400))
    # Mostly 0.05-0.95 (shrinking towards 0.5); one draw in five at the edges 0 and 1.
    edge = draw(st.integers(0, 9))
    prevalence = {8: 0.0, 9: 1.0}.get(edge) if edge >= 8 else \
        0.5 + draw(st.integers(-9, 9)) / 20
    target = draw(st.sampled_from(TARGETS))
    others = draw(st.lists(st.sampled_from([s for s in SCALES if s != target]),
                           max_size=2, unique=True))
    definition = "response"
    if target in REMISSION_TARGETS:
        definition = draw(st.sampled_from(["response", "response", "remission"]))
    profile = draw(st.sampled_from(["random", "none", "one_numeric", "only_categorical", "all"]))
    if profile == "random":
        columns = draw(st.lists(st.sampled_from(PATIENT_COLUMNS), unique=True))
    elif profile == "none":
        columns = []
    elif profile == "one_numeric":
        columns = [draw(st.sampled_from(NUMERIC_PATIENT_COLUMNS))]
    elif profile == "only_categorical":
        columns = draw(st.lists(st.sampled_from(CATEGORICAL_PATIENT_COLUMNS), min_size=1,
                                unique=True))
    else:
        columns = list(PATIENT_COLUMNS)
    rare_diagnosis = draw(st.booleans())
    if rare_diagnosis and "diagnosis" not in columns:
        columns.append("diagnosis")
    n_sites = draw(st.sampled_from([1, 0, 2, 3, 5]))
    tables = draw(st.lists(st.sampled_from(OPTIONAL_TABLES), unique=True))
    table_columns: list[str] = []
    for table in OPTIONAL_TABLES:
        if table in tables and TABLE_OPTIONAL_COLUMNS[table]:
            every = [f"{table}.{c}" for c in TABLE_OPTIONAL_COLUMNS[table]]
            table_columns += draw(st.one_of(st.just(every),
                                            st.lists(st.sampled_from(every), unique=True)))
    return CohortSpec(
        n_patients=n_patients,
        seed=draw(st.integers(0, 2**16)),
        prevalence=prevalence,
        signal=draw(st.integers(0, 4)) != 4,
        scales=(target, *others),
        target=target,
        definition=definition,
        patient_columns=tuple(c for c in PATIENT_COLUMNS if c in columns),
        n_sites=n_sites,
        site_skew=n_sites >= 2 and draw(st.booleans()),
        tables=tuple(t for t in OPTIONAL_TABLES if t in tables),
        table_columns=tuple(sorted(table_columns)),
        missing_fraction=draw(st.sampled_from([0.0, 0.1, 0.3, 1.0])),
        constant_columns=draw(st.booleans()),
        rare_diagnosis=rare_diagnosis,
        unlabelled_fraction=draw(st.sampled_from([0.0, 0.1, 0.3, 0.5])),
        trim_registries=draw(st.booleans()),
        holdout_site=n_sites >= 2 and draw(st.booleans()),
        search_budget=draw(st.sampled_from([1, 2])),
        train_model=draw(st.sampled_from(["auto", "lightgbm", "logistic"])),
        label_style=draw(st.sampled_from(LABEL_STYLES)),
        fractional_scores=draw(st.booleans()),
        shuffled=draw(st.booleans()),
        csv_style=draw(st.sampled_from(["plain", "bom_crlf"])),
        parquet_tables=tuple(t for t in ("patients", "assessments", *OPTIONAL_TABLES)
                             if t in draw(st.lists(st.sampled_from(
                                 ["patients", "assessments", *tables]), unique=True))),
        empty_tables=bool(tables) and draw(st.integers(0, 4)) == 4,
    )


# --- building the tables -----------------------------------------------------------------------

@dataclass
class Cohort:
    spec: CohortSpec
    tables: dict[str, pd.DataFrame]   # raw tables, every cell a string ("" = not recorded)
    markers: tuple[str, ...]          # biomarkers measured
    # What the contract's outcome definition says, computed here: patient_id -> 0/1.
    expected_labels: dict[str, int] = field(default_factory=dict)

    @property
    def expected_prevalence(self) -> float | None:
        if not self.expected_labels:
            return None
        return sum(self.expected_labels.values()) / len(self.expected_labels)


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}" if float(value).is_integer() else repr(round(float(value), 3))
    return str(value)


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.map(_text) if len(frame) else frame.astype(str)
    return frame.drop_duplicates(ignore_index=True)  # an exact copy would be quarantined


def _score_between(rng, low: float, high: float, step: float = 1) -> float:
    """A score on the grid of `step` in [low, high]."""
    k = int(rng.integers(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1))
    return k * step if step != 1 else k


def _next_above(value: float, step: float) -> float:
    """The first grid point strictly above `value`."""
    return (math.floor(value / step + 1e-9) + 1) * step


def _patient_values(spec: CohortSpec, rng, n: int) -> dict[str, list]:
    values: dict[str, list] = {}
    for column in spec.patient_columns:
        if column == "age_years":
            v = rng.integers(18, 91, n)  # 90 is the top code
        elif column == "bmi":
            v = np.clip(rng.normal(28, 6, n), 12, 80).round(1)
        elif column == "episode_months":
            v = rng.gamma(2, 12, n).round(1)
        elif column == "years_education":
            v = rng.integers(0, 31, n)
        elif column == "sex":
            v = rng.choice(SEXES, n, p=[0.55, 0.4, 0.03, 0.02])
        elif column == "diagnosis":
            v = rng.choice(DIAGNOSES, n, p=[0.7, 0.1, 0.15, 0.05])
        elif column == "employment":
            v = rng.choice(COVARIATES["employment"]["levels"], n)
        else:  # the 0/1 flags and lives_alone
            v = rng.binomial(1, rng.uniform(0.1, 0.5), n)
        v = list(v)
        if spec.constant_columns:
            v = [v[0]] * n
        elif spec.missing_fraction:
            v = [None if rng.random() < spec.missing_fraction else x for x in v]
        values[column] = v
    if spec.rare_diagnosis:
        rare = rng.choice(n, size=int(rng.integers(1, 3)), replace=False)
        values["diagnosis"] = ["bipolar_ii" if i in rare else "mdd" for i in range(n)]
    return values


def _sites(spec: CohortSpec, rng, n: int) -> list | None:
    if spec.n_sites == 0:
        return None
    labels = list(SITE_LABELS[spec.label_style][:spec.n_sites])
    k = len(labels)
    p = [0.9] + [0.1 / (k - 1)] * (k - 1) if spec.site_skew and k > 1 else [1 / k] * k
    sites = labels[:min(k, n)] + list(rng.choice(labels, n - min(k, n), p=p))  # each site used
    order = rng.permutation(n)
    sites = [sites[i] for i in order]
    if spec.missing_fraction:
        sites = [None if rng.random() < spec.missing_fraction else s for s in sites]
    return sites


def _target_ratings(spec: CohortSpec, rng, pid: str, mode: str, responder: bool) -> list[dict]:
    """The target scale's ratings of one patient. mode: labelled, no_baseline, no_endpoint,
    neither or zero_baseline."""
    scale = INSTRUMENTS[spec.target]
    lo, hi = float(scale["min"]), float(scale["max"])
    step = 0.5 if spec.fractional_scores else 1
    rows = []

    def rate(day: int, score: float) -> None:
        rows.append({"patient_id": pid, "day": day, "instrument": spec.target,
                     "score": score})

    b_day = int(rng.integers(BASELINE_WINDOW[0], BASELINE_WINDOW[1] + 1))
    e_day = int(rng.integers(ENDPOINT_WINDOW[0], ENDPOINT_WINDOW[1] + 1))
    def baseline_between(low: float) -> float:
        """A baseline in [low, hi]; with `signal`, responders in the upper 60 % of it and
        non-responders in the lower 60 %, so a model has something to rank by."""
        if not spec.signal:
            return _score_between(rng, low, hi, step)
        if responder:
            return _score_between(rng, low + 0.4 * (hi - low), hi, step)
        return _score_between(rng, low, low + 0.6 * (hi - low), step)

    if spec.definition == "response":
        baseline = baseline_between(max(lo, 2))
        threshold = (1 - MIN_REDUCTION) * baseline
        endpoint = (_score_between(rng, lo, threshold, step) if responder
                    else _score_between(rng, _next_above(threshold, step), hi, step))
    else:
        remission_max = float(scale["remission_max"])
        baseline = baseline_between(_next_above(remission_max, step))
        endpoint = (_score_between(rng, lo, remission_max, step) if responder
                    else _score_between(rng, _next_above(remission_max, step), hi, step))
    if mode == "zero_baseline":
        baseline, endpoint = 0, _score_between(rng, lo, hi, step)
    # Ratings outside the windows, or earlier inside them, must not change the label.
    if rng.random() < 0.3:
        rate(int(rng.integers(-60, BASELINE_WINDOW[0])), _score_between(rng, lo, hi, step))
    if mode not in ("no_baseline", "neither"):
        if b_day > BASELINE_WINDOW[0] and rng.random() < 0.3:
            rate(int(rng.integers(BASELINE_WINDOW[0], b_day)), _score_between(rng, lo, hi, step))
        rate(b_day, baseline)
    if rng.random() < 0.3:
        rate(int(rng.integers(1, ENDPOINT_WINDOW[0])), _score_between(rng, lo, hi, step))
    if mode not in ("no_endpoint", "neither"):
        if e_day > ENDPOINT_WINDOW[0] and rng.random() < 0.3:
            rate(int(rng.integers(ENDPOINT_WINDOW[0], e_day)), _score_between(rng, lo, hi, step))
        rate(e_day, endpoint)
    if rng.random() < 0.3:
        rate(int(rng.integers(ENDPOINT_WINDOW[1] + 1, 57)), _score_between(rng, lo, hi, step))
    return rows


def _other_ratings(scale_key: str, rng, pid: str, step: float = 1) -> list[dict]:
    scale = INSTRUMENTS[scale_key]
    lo, hi = float(scale["min"]), float(scale["max"])
    if not scale.get("baseline_feature", True):  # CADSS: rated during sessions
        days = [d for d in (0, 7) if rng.random() < 0.7]
    else:
        days = []
        if rng.random() < 0.9:
            days.append(int(rng.integers(BASELINE_WINDOW[0], BASELINE_WINDOW[1] + 1)))
        if rng.random() < 0.5:
            days.append(int(rng.integers(ENDPOINT_WINDOW[0], ENDPOINT_WINDOW[1] + 1)))
    return [{"patient_id": pid, "day": d, "instrument": scale_key,
             "score": _score_between(rng, lo, hi, step)} for d in days]


def _treatments(spec: CohortSpec, rng, ids: list[str]) -> pd.DataFrame:
    rows = []
    weights = np.array([4] * len(ANTIDEPRESSANTS) + [2, 1, 2, 1, 1, 2, 1], dtype=float)
    for pid in ids:
        for _ in range(int(rng.poisson(2.5))):
            cls = str(rng.choice(TREATMENT_CLASSES, p=weights / weights.sum()))
            rows.append({
                "patient_id": pid, "treatment_class": cls,
                "start_day": -int(rng.integers(0, 3650)),
                "adequate_trial": None if cls == "benzodiazepine" else int(rng.random() < 0.7),
                "outcome": str(rng.choice(TREATMENT_OUTCOMES)),
                "ongoing_at_index": int(rng.random() < 0.3),
            })
    return _optional_table(spec, rng, "treatments", rows)


def _sessions(spec: CohortSpec, rng, ids: list[str]) -> pd.DataFrame:
    rows = []
    later = [2, 3, 4, 7, 9, 11, 14, 18, 21, 25]
    for pid in ids:
        if rng.random() < 0.1:
            continue  # no sessions recorded for this patient
        route = str(rng.choice(ROUTES, p=[0.5, 0.1, 0.3, 0.05, 0.05]))
        unit = "mg" if route == "intranasal" or rng.random() < 0.2 else "mg_per_kg"
        dose = float(rng.choice([28, 56, 84])) if unit == "mg" else float(
            rng.choice([0.5, 0.75, 1.0]))
        days = [0] + sorted(int(d) for d in rng.choice(later, int(rng.integers(0, 8)),
                                                       replace=False))
        for day in days:
            rows.append({"patient_id": pid, "day": day, "route": route, "dose": dose,
                         "dose_unit": unit,
                         "dissociation_cadss": int(rng.integers(0, 61)),
                         "sbp_change_mmhg": round(float(rng.normal(15, 8)), 1)})
    return _optional_table(spec, rng, "sessions", rows)


def _biomarkers(spec: CohortSpec, rng, ids: list[str], markers: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for pid in ids:
        for key in markers:
            if rng.random() < 0.4:
                continue
            marker = BIOMARKERS[key]
            lo, hi = float(marker["min"]), float(marker["max"])
            for day in rng.choice(np.arange(-150, 29), int(rng.integers(1, 3)), replace=False):
                if marker.get("integer"):
                    value = int(rng.integers(int(lo), int(hi) + 1))
                else:
                    value = round(float(np.clip(rng.lognormal(math.log(lo + 1 + (hi - lo) / 50),
                                                              0.6), lo, hi)), 2)
                rows.append({"patient_id": pid, "day": int(day), "marker": key,
                             "value": value})
    return _optional_table(spec, rng, "biomarkers", rows)


def _optional_table(spec: CohortSpec, rng, table: str, rows: list[dict]) -> pd.DataFrame:
    kept = [c for c in TABLE_OPTIONAL_COLUMNS[table] if f"{table}.{c}" in spec.table_columns]
    columns = list(TABLE_REQUIRED_COLUMNS[table]) + kept
    frame = _frame(rows, columns)
    if spec.missing_fraction and kept and len(frame):
        blank = rng.random((len(frame), len(kept))) < spec.missing_fraction
        frame[kept] = frame[kept].mask(blank, "")
        frame = frame.drop_duplicates(ignore_index=True)
    return frame


def build_tables(spec: CohortSpec) -> Cohort:
    """The raw tables of `spec`, every cell as the text written to the CSV."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n_patients
    ids = patient_ids(spec)

    patients: dict[str, list] = {"patient_id": ids}
    sites = _sites(spec, rng, n)
    if sites is not None:
        patients["site"] = sites
    patients |= _patient_values(spec, rng, n)
    tables = {"patients": _frame([dict(zip(patients, row)) for row in zip(*patients.values())],
                                 list(patients))}

    # Labels: who is unlabelled (and why), and exactly round(prevalence x labelled) responders.
    order = rng.permutation(n)
    n_unlabelled = round(spec.unlabelled_fraction * n)
    unlabelled = {ids[i] for i in order[:n_unlabelled]}
    labelled = [ids[i] for i in sorted(order[n_unlabelled:])]
    n_responders = round(spec.prevalence * len(labelled))
    responders = set(rng.choice(labelled, n_responders, replace=False)) if n_responders else set()
    modes = ["no_baseline", "no_endpoint", "neither"]
    if spec.definition == "response":
        modes.append("zero_baseline")

    ratings: list[dict] = []
    expected: dict[str, int] = {}
    for pid in ids:
        mode = str(rng.choice(modes)) if pid in unlabelled else "labelled"
        ratings += _target_ratings(spec, rng, pid, mode, pid in responders)
        if mode == "labelled":
            expected[pid] = int(pid in responders)
        for other in spec.scales[1:]:
            ratings += _other_ratings(other, rng, pid, 0.5 if spec.fractional_scores else 1)
    assessments = _frame(ratings, ["patient_id", "day", "instrument", "score"])
    # One rating per (patient, instrument, day): a same-day conflict would be quarantined.
    tables["assessments"] = assessments.drop_duplicates(["patient_id", "instrument", "day"],
                                                        keep="last", ignore_index=True)

    markers: tuple[str, ...] = ()
    if "treatments" in spec.tables:
        tables["treatments"] = _treatments(spec, rng, ids)
    if "sessions" in spec.tables:
        tables["sessions"] = _sessions(spec, rng, ids)
    if "biomarkers" in spec.tables:
        keys = list(BIOMARKERS)
        markers = tuple(k for k in keys if k in set(
            rng.choice(keys, int(rng.integers(1, len(keys) + 1)), replace=False)))
        tables["biomarkers"] = _biomarkers(spec, rng, ids, markers)
    for name in spec.tables if spec.empty_tables else ():
        tables[name] = tables[name].iloc[:0]  # a header and no rows
    if spec.shuffled:  # the contract fixes neither row nor column order
        for name, frame in tables.items():
            rows = rng.permutation(len(frame))
            columns = list(rng.permutation(frame.columns))
            tables[name] = frame.iloc[rows][columns].reset_index(drop=True)
    return Cohort(spec, tables, markers, expected)


def expected_labels(assessments: pd.DataFrame, spec: CohortSpec) -> dict[str, int]:
    """The contract's outcome, recomputed from the written assessments (a check on
    `build_tables` itself): last target score in each window, then the definition."""
    rated = assessments[assessments["instrument"] == spec.target].copy()
    rated["day"] = rated["day"].astype(int)
    rated["score"] = rated["score"].astype(float)
    rated = rated.sort_values("day", kind="stable")
    base = rated[rated["day"].between(*BASELINE_WINDOW)].groupby("patient_id")["score"].last()
    end = rated[rated["day"].between(*ENDPOINT_WINDOW)].groupby("patient_id")["score"].last()
    both = pd.concat({"b": base, "e": end}, axis=1).dropna()
    if spec.definition == "response":
        both = both[both["b"] != 0]
        hit = both["e"] <= (1 - MIN_REDUCTION) * both["b"]
    else:
        hit = both["e"] <= float(INSTRUMENTS[spec.target]["remission_max"])
    return {str(k): int(v) for k, v in hit.items()}


# --- writing a cohort folder -------------------------------------------------------------------

@dataclass(frozen=True)
class CohortFolder:
    root: Path
    raw: Path
    configs: Path
    params: Path


def write_configs(spec: CohortSpec, cohort: Cohort, folder: Path) -> None:
    """Registries for the cohort: copies of configs/, or (trim_registries) only what the cohort
    uses, which the configuration page allows."""
    folder.mkdir(parents=True, exist_ok=True)
    if not spec.trim_registries:
        for name in ("instruments.yaml", "biomarkers.yaml", "covariates.yaml"):
            shutil.copy2(CONFIGS / name, folder / name)
        return
    chosen = {
        "instruments.yaml": {k: v for k, v in INSTRUMENTS.items() if k in spec.scales},
        "biomarkers.yaml": {k: v for k, v in BIOMARKERS.items() if k in cohort.markers},
        "covariates.yaml": {k: v for k, v in COVARIATES.items() if k in spec.patient_columns},
    }
    for name, content in chosen.items():
        (folder / name).write_text(yaml.safe_dump(content, sort_keys=False) if content
                                   else "{}\n", encoding="utf-8")


def write_params(spec: CohortSpec, raw: Path, path: Path, experiment: str = "txresponse-property",
                 registered_model: str = "txresponse-property") -> None:
    """configs/params.yaml with the cohort's folder, target and fast settings."""
    params = yaml.safe_load((CONFIGS / "params.yaml").read_text(encoding="utf-8"))
    params["data"]["raw_dir"] = str(raw)
    params["target"].update(instrument=spec.target, definition=spec.definition)
    params["split"]["holdout_site"] = site_label(spec, spec.n_sites - 1) if spec.holdout_site \
        else None
    if spec.holdout_site:
        params["split"]["strategy"] = "holdout"  # a held-out site is a holdout split
    params["train"].update(model=spec.train_model, search_budget=spec.search_budget,
                           cv_folds=FAST["cv_folds"],
                           uncertainty_replicates=FAST["uncertainty_replicates"],
                           experiment=experiment, registered_model=registered_model)
    params["evaluate"]["bootstrap_resamples"] = FAST["bootstrap_resamples"]
    params["report"]["max_patients"] = FAST["max_patients"]
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


# Columns a Parquet export would store as numbers (everything else as text).
NUMBER_COLUMNS = {"day", "score", "value", "start_day", "adequate_trial", "ongoing_at_index",
                  "dose", "dissociation_cadss", "sbp_change_mmhg", "age_years", "bmi",
                  "episode_months", "years_education", *BINARY_PATIENT_COLUMNS}


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The text table as a typed Parquet export would hold it: whole numbers as nullable
    integers, other numbers as float64, text as strings; an empty cell as a null."""
    out = {}
    for column in frame.columns:
        text = frame[column].replace("", None)
        if column in NUMBER_COLUMNS:
            number = pd.to_numeric(text, errors="raise").astype("float64")
            whole = number.dropna().apply(float.is_integer).all()
            out[column] = number.astype("Int64") if whole else number
        else:
            out[column] = text.astype("string")
    return pd.DataFrame(out, index=frame.index)


def write_cohort(spec: CohortSpec, root: Path, **param_names: str) -> tuple[CohortFolder, Cohort]:
    """Write `root/raw/<table>.csv`, `root/configs/` and `root/params.yaml`, plus
    `root/cohort.json` (the spec)."""
    cohort = build_tables(spec)
    folder = CohortFolder(root, root / "raw", root / "configs", root / "params.yaml")
    folder.raw.mkdir(parents=True, exist_ok=True)
    for name, frame in cohort.tables.items():
        if name in spec.parquet_tables:
            typed(frame).to_parquet(folder.raw / f"{name}.parquet", index=False)
        elif spec.csv_style == "bom_crlf":  # still UTF-8, comma-separated, a header row
            frame.to_csv(folder.raw / f"{name}.csv", index=False, lineterminator="\r\n",
                         encoding="utf-8-sig")
        else:
            frame.to_csv(folder.raw / f"{name}.csv", index=False, lineterminator="\n")
    write_configs(spec, cohort, folder.configs)
    write_params(spec, folder.raw, folder.params, **param_names)
    (root / "cohort.json").write_text(json.dumps(asdict(spec), indent=2) + "\n",
                                      encoding="utf-8")
    return folder, cohort


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write one described cohort to a folder.")
    parser.add_argument("spec", help="CohortSpec(...) as Hypothesis printed it, or its JSON, "
                                     "or a path to a cohort.json")
    parser.add_argument("out", type=Path, help="folder for raw/, configs/ and params.yaml")
    args = parser.parse_args(argv)
    spec = spec_argument(args.spec)
    folder, cohort = write_cohort(spec, args.out.resolve())
    print(spec.short())
    for name, frame in cohort.tables.items():
        print(f"  {name:<12} {len(frame):>6} rows  {', '.join(frame.columns)}")
    print(f"  labelled {len(cohort.expected_labels)}, expected prevalence "
          f"{cohort.expected_prevalence}")
    print(f"Wrote {folder.raw}/, {folder.configs}/ and {folder.params}")


if __name__ == "__main__":
    main()
