"""Evaluation figures are written, reproducible to the byte, and their plot tables are tidy."""
from __future__ import annotations

import numpy as np
import pytest

from models.figures import decision_curves, reliability_diagram, roc_curves
from models.plot_data import calibration_points, decision_points, roc_points


@pytest.fixture(scope="module")
def curves():
    rng = np.random.default_rng(0)
    p = rng.beta(2, 3, 300)
    y = (rng.random(300) < p).astype(int)
    return {"calibrated": (y, p), "uncalibrated": (y, np.clip(p * 1.4, 0.01, 0.99))}


@pytest.mark.parametrize("draw", [reliability_diagram, roc_curves, decision_curves])
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_figures_are_written_and_byte_identical_on_a_second_call(tmp_path, curves, draw,
                                                                  suffix, magic):
    first = draw(curves, tmp_path / f"first{suffix}").read_bytes()
    second = draw(curves, tmp_path / "nested" / f"second{suffix}").read_bytes()
    assert first.startswith(magic) and len(first) > 5_000
    assert first == second


def test_figures_carry_no_date(tmp_path, curves):
    svg = roc_curves(curves, tmp_path / "roc.svg").read_text()
    assert "<dc:date>" not in svg


def test_unknown_figure_format_is_an_error(tmp_path, curves):
    with pytest.raises(ValueError):
        roc_curves(curves, tmp_path / "roc.pdf")


def test_plot_tables(curves):
    y, p = curves["calibrated"]
    roc = roc_points(y, p)
    assert roc.columns.tolist() == ["fpr", "tpr", "threshold"]
    assert np.isfinite(roc["threshold"]).all() and roc["threshold"].max() <= 1
    assert roc.iloc[0][["fpr", "tpr"]].tolist() == [0, 0] and roc.iloc[-1]["tpr"] == 1
    calibration = calibration_points(y, p, n_points=51)
    assert len(calibration) == 51 and calibration["observed"].between(0, 1).all()
    assert calibration["predicted"].iloc[0] == pytest.approx(p.min())
    decision = decision_points(y, p)
    assert decision.columns.tolist() == ["threshold", "model", "treat_all", "treat_none"]
    assert len(decision) == 76
