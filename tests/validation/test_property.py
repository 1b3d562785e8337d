"""For any mix of good and bad rows, nothing is lost and no good row is quarantined."""
from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.contract import contract_tables
from pipeline.core.schemas import contract_schemas
from pipeline.validation.quarantine import validate_tables
from pipeline.validation.reading import RawTable

# Bad assessment rows; none of them can implicate a good row (they belong to no good
# (patient, instrument, day) key with a readable score, or are exact copies of one).
BAD_ASSESSMENTS = [
    ("p0", "3", "madrs", "thirty"), ("p0", "4", "madrs", "N/A"), ("p0", "5", "madrs", ""),
    ("p0", "6", "madrs", "61"), ("p0", "7", "hamd99", "10"), ("p0", "x", "madrs", "10"),
    ("ghost", "0", "madrs", "10"), ("", "0", "madrs", "10"), ("p0", "8.5", "phq9", "3"),
]
BAD_PATIENTS = [("bad-age", "abc", "female"), ("bad-sex", "40", "F"), ("bad-old", "17", "male"),
                ("bad-na", "N/A", "male"), ("", "40", "male")]


@st.composite
def cohorts(draw):
    n = draw(st.integers(1, 6))
    patients = [(f"p{i}", str(draw(st.integers(18, 90))),
                 draw(st.sampled_from(["female", "male", "other", "unknown"]))) for i in range(n)]
    good_ratings = []
    for pid, _, _ in patients:
        for day in draw(st.sets(st.integers(-14, 2), max_size=3)):  # days 3+ are the bad rows'
            good_ratings.append((pid, str(day), "madrs", str(draw(st.integers(0, 60)))))
    bad_patients = draw(st.lists(st.sampled_from(BAD_PATIENTS), max_size=3, unique=True))
    bad_ratings = draw(st.lists(st.sampled_from(BAD_ASSESSMENTS), max_size=6))
    if not good_ratings:
        bad_ratings.append(BAD_ASSESSMENTS[0])  # a required table needs rows
    # Exact copies of good rows: one copy passes, wherever it sits, the others are quarantined.
    bad_ratings += draw(st.lists(st.sampled_from(good_ratings), max_size=2)) if good_ratings else []
    order_p = draw(st.permutations(range(len(patients) + len(bad_patients))))
    order_a = draw(st.permutations(range(len(good_ratings) + len(bad_ratings))))
    return patients, bad_patients, good_ratings, bad_ratings, order_p, order_a


def _raw(name, rows, columns, order=None):
    frame = pd.DataFrame(rows, columns=columns, dtype=str)
    if order is not None:
        frame = frame.iloc[list(order)].reset_index(drop=True)
    return RawTable(name, f"{name}.csv", frame)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_nothing_lost_and_good_rows_pass(registries, cohort):
    patients, bad_patients, good_ratings, bad_ratings, order_p, order_a = cohort
    tables = contract_tables(registries)
    raws = {
        "patients": _raw("patients", patients + bad_patients,
                         ["patient_id", "age_years", "sex"], order_p),
        "assessments": _raw("assessments", good_ratings + bad_ratings,
                            ["patient_id", "day", "instrument", "score"], order_a),
    }
    outcomes = validate_tables(raws, tables, contract_schemas(registries))
    for name, raw in raws.items():
        outcome = outcomes[name]
        assert len(outcome.passed) + len(outcome.quarantined) == len(raw.frame), name
    passed = outcomes["patients"].passed["patient_id"].tolist()
    assert sorted(passed) == sorted(p[0] for p in patients)
    kept = outcomes["assessments"].passed
    kept_keys = sorted(zip(kept["patient_id"], kept["day"].astype(str),
                           kept["score"].map("{:g}".format)))
    assert kept_keys == sorted((p, d, s) for p, d, _, s in good_ratings)
    assert len(outcomes["assessments"].quarantined) == len(bad_ratings)
