"""Small helpers shared by tests. Deliberately independent of the pipeline's own feature code,
so that a test of the simulator does not rest on the code it is meant to check."""
from __future__ import annotations

import io

import pandas as pd


def roundtrip_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the pipeline will read it back from a CSV file."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    buffer.seek(0)
    return pd.read_csv(buffer)


def madrs_response(assessments: pd.DataFrame) -> pd.Series:
    """Response (>= 50 % MADRS reduction) from the default windows, for patients who have both
    a baseline in [-14, 0] and an endpoint in [10, 28]."""
    madrs = assessments[assessments["instrument"] == "madrs"].sort_values("day", kind="stable")
    baseline = madrs[madrs["day"].between(-14, 0)].groupby("patient_id")["score"].last()
    endpoint = madrs[madrs["day"].between(10, 28)].groupby("patient_id")["score"].last()
    both = pd.concat({"baseline": baseline, "endpoint": endpoint}, axis=1).dropna()
    return (both["endpoint"] <= 0.5 * both["baseline"]).astype(int).rename("response")


def demo_bundle(model, replicates=(), domain=None, sample_size=None):
    """A model artifact (models/bundle.py) for a model trained on simulator-style features with
    the default target and feature settings, named as the committed feature dictionary names
    them."""
    import json
    from pathlib import Path

    from models.bundle import ModelBundle

    repo = Path(__file__).resolve().parents[1]
    facts = json.loads((repo / "reports" / "features.json").read_text(encoding="utf-8"))
    settings = {"target_instrument": "madrs", "baseline_window": [-14, 0], "prediction_day": 0,
                "biomarker_lookback_days": 90}
    return ModelBundle(model=model, target=facts["target"], feature_settings=settings,
                       dictionary=facts["dictionary"], replicates=list(replicates),
                       domain=domain, sample_size=sample_size)
