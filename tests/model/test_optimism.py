"""Harrell's bootstrap optimism correction (models/optimism.py): the point figures are the
evaluation's own, an overfitted model's corrected AUROC matches its AUROC on new patients, a
procedure with nothing to overfit is left as it was, small subgroups are not corrected, and
intervals move with their figures."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.decision import RATES
from models.evaluation import evaluate_predictions
from models.optimism import (CANDIDATE, HEADLINE_MEASURES, BootstrapFit, optimism_corrected,
                             point_figures, subgroup_key, threshold_key)
from models.subgroups import INTERVAL_COLUMNS, METRIC_COLUMNS, PoorSubgroupRule

THRESHOLDS = [0.3, 0.5, 0.7]
MIN_N, MIN_EVENTS = 30, 10
BETA = np.array([0.8, -0.6, 0.5, 0.4, -0.3])  # the true predictors; the rest are noise
N_NOISE = 20


def _cohort(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Logistic truth on 5 features plus 20 pure-noise features."""
    x = rng.standard_normal((n, len(BETA) + N_NOISE))
    risk = 1 / (1 + np.exp(-(-0.3 + x[:, :len(BETA)] @ BETA)))
    return x, (rng.random(n) < risk).astype(int)


def _develop(x: np.ndarray, y: np.ndarray):
    """The development procedure: unpenalised logistic regression on all 25 features (it
    overfits at 300 patients), by Newton's method (scikit-learn's lbfgs took 20 times as long)."""
    design = np.column_stack([np.ones(len(y)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(50):
        mu = 1 / (1 + np.exp(-design @ beta))
        step = np.linalg.solve(design.T @ (design * (mu * (1 - mu))[:, None]),
                               design.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    else:
        raise AssertionError("the logistic fit did not converge")
    return lambda rows: 1 / (1 + np.exp(-(rows @ beta[1:] + beta[0])))


def _fits(x, y, n_resamples: int, rng, roles=(CANDIDATE,)) -> list[BootstrapFit]:
    """Harrell's resamples: the whole procedure refitted on each, predicting its own drawn rows
    and all original patients. Extra roles get the same predictions, squeezed toward 0.5 (a
    second model with its own figures)."""
    n = len(y)
    fits = []
    for _ in range(n_resamples):
        sample = rng.integers(0, n, n)
        predict = _develop(x[sample], y[sample])
        on_sample, on_original = predict(x[sample]), predict(x)
        fits.append(BootstrapFit(
            sample, {role: _squeeze(on_sample, k) for k, role in enumerate(roles)},
            {role: _squeeze(on_original, k) for k, role in enumerate(roles)}))
    return fits


def _squeeze(p: np.ndarray, k: int) -> np.ndarray:
    return p if k == 0 else 0.5 + (p - 0.5) * 0.7


def _evaluate(predicted: dict, y, groups, rule=None, n_resamples: int = 50,
              thresholds=THRESHOLDS) -> dict:
    return evaluate_predictions(predicted, dict.fromkeys(predicted, "model"), y,
                                np.arange(len(y)), groups, {}, seed=3,
                                n_resamples=n_resamples, thresholds=thresholds, min_n=MIN_N,
                                min_events=MIN_EVENTS, rule=rule)


def _groups(n: int, rng) -> dict[str, pd.Series]:
    return {"sex": pd.Series(rng.choice(["female", "male"], n)),
            "site": pd.Series(rng.choice(["a", "b", "c"], n, p=[0.55, 0.4, 0.05]))}


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN or None."""
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in (a, b)]
    return all(missing) if any(missing) else a == b


# -- (a) the point figures are the evaluation's --------------------------------------------------

def test_point_figures_equal_what_evaluate_predictions_reports():
    rng = np.random.default_rng(1)
    n = 400
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(int)
    groups = _groups(n, rng)
    thresholds = [0.0, 0.3, 0.5, 0.95]  # at 0.95 nobody is flagged: PPV undefined
    result = _evaluate({CANDIDATE: p}, y, groups, thresholds=thresholds)
    figures = point_figures(y, p, groups, thresholds, min_n=MIN_N, min_events=MIN_EVENTS)

    headline = result["headline"][CANDIDATE]
    for key in HEADLINE_MEASURES:  # the headline rounds to 4 decimals
        assert _same(round(figures[key], 4), headline[key]), key
    for row in result["thresholds"].to_dict(orient="records"):
        for q in RATES:
            assert _same(figures[threshold_key(q, row["threshold"])], row[q])
    assert math.isnan(figures[threshold_key("ppv", 0.95)])
    for row in result["net_benefit"].to_dict(orient="records"):
        assert figures[threshold_key("net_benefit", row["threshold"])] == row["net_benefit"]
    assert threshold_key("net_benefit", 0.0) not in figures  # net benefit is for 0 < t < 1
    ok = result["subgroups"][result["subgroups"]["status"] == "ok"]
    assert len(ok) < len(result["subgroups"])  # site c (about 20 patients) is too small
    for row in result["subgroups"].to_dict(orient="records"):
        for m in METRIC_COLUMNS:
            key = subgroup_key(row["group"], row["level"], m)
            if row["status"] == "ok":
                assert figures[key] == row[m], key
            else:
                assert key not in figures
    expected = (len(HEADLINE_MEASURES) + len(RATES) * len(thresholds) + 3
                + len(METRIC_COLUMNS) * len(ok))
    assert len(figures) == expected


# -- (b) an overfitted model, against new patients -----------------------------------------------

def test_corrected_auroc_of_an_overfitted_model_matches_new_patients():
    apparent, corrected, independent = [], [], []
    slopes = []
    for seed in range(12):  # one cohort's realised optimism varies (SD about 0.045)
        rng = np.random.default_rng(seed)
        x, y = _cohort(300, rng)
        final = _develop(x, y)
        x_new, y_new = _cohort(20_000, np.random.default_rng(1000 + seed))
        new = point_figures(y_new, final(x_new), {}, [0.5], min_n=MIN_N, min_events=MIN_EVENTS)
        result = _evaluate({CANDIDATE: final(x)}, y, {}, n_resamples=20)
        out = optimism_corrected(result, y, {}, _fits(x, y, 20, rng), thresholds=THRESHOLDS,
                                 min_n=MIN_N, min_events=MIN_EVENTS)
        apparent.append(out["apparent"]["auroc"])
        corrected.append(out["headline"][CANDIDATE]["auroc"])
        independent.append(new["auroc"])
        slopes.append((out["apparent"]["calibration_slope"],
                       out["headline"][CANDIDATE]["calibration_slope"],
                       new["calibration_slope"]))
    apparent, corrected, independent = map(np.array, (apparent, corrected, independent))
    print("\nAUROC apparent", apparent.round(3), "corrected", corrected.round(3),
          "new patients", independent.round(3))
    print("means: apparent %.3f corrected %.3f new %.3f" % (apparent.mean(), corrected.mean(),
                                                            independent.mean()))
    print("calibration slope (apparent, corrected, new):", np.round(slopes, 2).tolist())
    assert apparent.mean() > independent.mean() + 0.05  # clearly optimistic
    assert abs(corrected.mean() - independent.mean()) < 0.03
    # The calibration slope: 1 on the development patients by construction, well below on
    # new ones; the corrected slope is Harrell's shrinkage factor.
    apparent_slope, corrected_slope, new_slope = np.array(slopes).mean(axis=0)
    assert apparent_slope - new_slope > 0.2
    assert abs(corrected_slope - new_slope) < 0.1


# -- (c) nothing to overfit: nothing changes -----------------------------------------------------

def test_fits_reproducing_the_apparent_predictions_change_nothing():
    rng = np.random.default_rng(5)
    n = 300
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(int)
    groups = _groups(n, rng)
    rule = PoorSubgroupRule()
    result = _evaluate({CANDIDATE: p}, y, groups, rule=rule)
    # Each "resample" holds every patient once (in a shuffled order), and the refitted
    # procedure predicts exactly what the final model did: the figures on the resample are
    # the apparent ones, so the optimism is 0. (Resamples drawn with replacement would not
    # give 0 even here: they give the bootstrap bias of each measure, see the next test.)
    fits = []
    for _ in range(5):
        sample = rng.permutation(n)
        fits.append(BootstrapFit(sample, {CANDIDATE: p[sample]}, {CANDIDATE: p}))
    out = optimism_corrected(result, y, groups, fits, thresholds=THRESHOLDS, min_n=MIN_N,
                             min_events=MIN_EVENTS, rule=rule)

    optimism = out["optimism"]["figures"][CANDIDATE]
    assert len(optimism) > len(HEADLINE_MEASURES) + 20  # thresholds and subgroups too
    assert max(abs(v) for v in optimism.values()) < 1e-9
    assert set(out["optimism"]["resamples_used"][CANDIDATE].values()) == {5}
    assert out["headline"] == result["headline"]
    assert out["apparent"] == result["headline"][CANDIDATE]
    for table in ("thresholds", "net_benefit", "subgroups"):
        before, after = result[table], out[table]
        for column in before.columns:
            for a, b in zip(before[column], after[column]):
                if isinstance(a, list):
                    assert b == pytest.approx(a, abs=1e-9), (table, column)
                elif isinstance(a, float | np.floating) and not math.isnan(a):
                    assert b == pytest.approx(a, abs=1e-9), (table, column)
                else:
                    assert _same(a, b), (table, column)
    assert out["subgroups"]["optimism_note"].isna().all()


def test_a_fixed_model_on_true_resamples_has_no_discrimination_optimism():
    # The same fixed predictions on resamples drawn with replacement: the "optimism" is then
    # each measure's bootstrap bias plus Monte Carlo noise. Within noise of 0 for AUROC, Brier,
    # calibration intercept and slope, and the threshold figures. Not so for ICI, E50, E90, Emax
    # and ECE, which read noise as miscalibration and come out larger on a resample: with a
    # fixed model the correction lowers them (measured on such cohorts: ICI by 0.005-0.02,
    # Emax by about 0.06), so their corrected values lean favourable.
    rng = np.random.default_rng(6)
    n, n_resamples = 300, 100
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(int)
    fits = []
    for _ in range(n_resamples):
        sample = rng.integers(0, n, n)
        fits.append(BootstrapFit(sample, {CANDIDATE: p[sample]}, {CANDIDATE: p}))
    result = _evaluate({CANDIDATE: p}, y, {}, n_resamples=400)
    out = optimism_corrected(result, y, {}, fits, thresholds=THRESHOLDS, min_n=MIN_N,
                             min_events=MIN_EVENTS)
    optimism = out["optimism"]["figures"][CANDIDATE]

    def noise(ci) -> float:  # Monte Carlo standard error of a mean over the resamples
        return (ci[1] - ci[0]) / 3.92 / np.sqrt(n_resamples)

    headline = result["headline"][CANDIDATE]
    rows = result["thresholds"].set_index("threshold")
    net_benefit = result["net_benefit"].set_index("threshold")
    for key, ci in [*((k, headline[f"{k}_ci"]) for k in ("auroc", "brier", "calibration_intercept",
                                                          "calibration_slope")),
                    (threshold_key("sensitivity", 0.5), rows.loc[0.5, "sensitivity_ci"]),
                    (threshold_key("net_benefit", 0.5), net_benefit.loc[0.5, "net_benefit_ci"])]:
        assert abs(optimism[key]) < 3 * noise(ci), (key, optimism[key], noise(ci))


# -- (d) a subgroup too small in most resamples ---------------------------------------------------

def test_a_subgroup_too_small_in_most_resamples_is_not_corrected():
    rng = np.random.default_rng(7)
    x, y = _cohort(300, rng)
    # Exactly min_n patients with exactly min_events responders: judged on all patients, but a
    # resample draws fewer patients or fewer responders more often than not.
    rare = np.zeros(300, dtype=bool)
    rare[np.flatnonzero(y == 1)[:10]] = True
    rare[np.flatnonzero(y == 0)[:20]] = True
    groups = {"route": pd.Series(np.where(rare, "intranasal", "intravenous"))}
    final = _develop(x, y)
    result = _evaluate({CANDIDATE: final(x)}, y, groups, rule=PoorSubgroupRule())
    assert result["subgroups"].set_index("level").loc["intranasal", "status"] == "ok"
    fits = _fits(x, y, 20, rng)
    out = optimism_corrected(result, y, groups, fits, thresholds=THRESHOLDS, min_n=MIN_N,
                             min_events=MIN_EVENTS)

    table = out["subgroups"].set_index("level")
    used = out["optimism"]["resamples_used"][CANDIDATE]
    small = subgroup_key("route", "intranasal", "auroc")
    large = subgroup_key("route", "intravenous", "auroc")
    assert used[small] < 10 and used[large] == 20
    assert math.isnan(table.loc["intranasal", "auroc"])
    assert table.loc["intranasal", "auroc_ci"] is None
    assert f"only {used[small]} of 20 resamples" in table.loc["intranasal", "optimism_note"]
    assert small in out["optimism"]["uncorrected"][CANDIDATE]
    # The large level is corrected (downwards: the procedure overfits), with no note.
    assert table.loc["intravenous", "auroc"] < result["subgroups"].set_index("level").loc[
        "intravenous", "auroc"]
    assert table.loc["intravenous", "optimism_note"] is None
    # Judged again, with the rule stored in the result: no corrected AUROC to judge.
    assert "AUROC could not be estimated" in table.loc["intranasal", "poor"]


# -- (e) intervals move with their figures --------------------------------------------------------

@pytest.fixture(scope="module")
def overfitted():
    rng = np.random.default_rng(11)
    x, y = _cohort(300, rng)
    groups = _groups(300, rng)
    final = _develop(x, y)
    p = final(x)
    predicted = {CANDIDATE: p, "comparator_calibrated": _squeeze(p, 1)}
    result = _evaluate(predicted, y, groups, rule=PoorSubgroupRule())
    fits = _fits(x, y, 20, rng, roles=(CANDIDATE, "comparator_calibrated"))
    return result, y, groups, fits


def test_intervals_are_shifted_by_exactly_the_optimism(overfitted):
    result, y, groups, fits = overfitted
    out = optimism_corrected(result, y, groups, fits, thresholds=THRESHOLDS, min_n=MIN_N,
                             min_events=MIN_EVENTS)
    optimism = out["optimism"]["figures"]
    assert optimism[CANDIDATE]["auroc"] > 0.02  # there is something to shift by
    for role in (CANDIDATE, "comparator_calibrated"):
        before, after = result["headline"][role], out["headline"][role]
        for key in HEADLINE_MEASURES:
            if f"{key}_ci" not in before:
                continue
            shift = optimism[role][key]
            assert after[key] == round(before[key] - shift, 4)
            assert after[f"{key}_ci"] == [round(end - shift, 4) for end in before[f"{key}_ci"]]
        assert "brier_ci" in before or role != CANDIDATE  # every interval of the candidate
    checked = 0
    for before, after in zip(result["thresholds"].to_dict(orient="records"),
                             out["thresholds"].to_dict(orient="records")):
        for q in RATES:
            shift = optimism[CANDIDATE][threshold_key(q, before["threshold"])]
            ci = before[f"{q}_ci"]
            if ci is not None and 0 < ci[0] - shift and ci[1] - shift < 1:  # none clipped
                assert after[q] == before[q] - shift
                assert after[f"{q}_ci"] == [end - shift for end in ci]
                checked += 1
    assert checked >= 6
    for before, after in zip(result["net_benefit"].to_dict(orient="records"),
                             out["net_benefit"].to_dict(orient="records")):
        shift = optimism[CANDIDATE][threshold_key("net_benefit", before["threshold"])]
        assert after["net_benefit"] == before["net_benefit"] - shift
        assert after["net_benefit_ci"] == [end - shift for end in before["net_benefit_ci"]]
        assert after["net_benefit_vs_treat_all"] == pytest.approx(
            before["net_benefit_vs_treat_all"] - shift, abs=1e-12)
        assert after["net_benefit_vs_treat_all_ci"] == [
            end - shift for end in before["net_benefit_vs_treat_all_ci"]]
        assert after["net_benefit_treat_all"] == before["net_benefit_treat_all"]
    for before, after in zip(result["subgroups"].to_dict(orient="records"),
                             out["subgroups"].to_dict(orient="records")):
        if before["status"] != "ok":
            continue
        for m in INTERVAL_COLUMNS:
            shift = optimism[CANDIDATE][subgroup_key(before["group"], before["level"], m)]
            assert after[m] == pytest.approx(before[m] - shift, abs=1e-12)
            assert after[f"{m}_ci"] == [end - shift for end in before[f"{m}_ci"]]
    assert "shifted by the same mean optimism" in out["optimism"]["intervals"]
    assert "coverage has not been measured" in out["optimism"]["intervals"]
    assert out["optimism"]["resamples"] == 20
    # The input is not modified.
    assert result["headline"][CANDIDATE] == out["apparent"]


def test_the_poor_subgroup_judgement_is_made_on_corrected_figures(overfitted):
    result, y, groups, fits = overfitted
    apparent = result["subgroups"].set_index(["group", "level"])
    level = apparent[apparent["status"] == "ok"]["auroc"].idxmin()
    # A rule whose AUROC floor lies between the level's corrected and apparent AUROC.
    plain = optimism_corrected(result, y, groups, fits, thresholds=THRESHOLDS, min_n=MIN_N,
                               min_events=MIN_EVENTS)
    corrected_auroc = plain["subgroups"].set_index(["group", "level"]).loc[level, "auroc"]
    assert corrected_auroc < apparent.loc[level, "auroc"] - 0.02
    rule = PoorSubgroupRule(min_auroc=(corrected_auroc + apparent.loc[level, "auroc"]) / 2,
                            calibration_slope=(-10, 10), max_abs_calibration_intercept=10)
    judged = _evaluate({CANDIDATE: result["predicted"][CANDIDATE]}, y, groups, rule=rule)
    assert judged["subgroups"].set_index(["group", "level"]).loc[level, "poor"] == []
    out = optimism_corrected(judged, y, groups, [BootstrapFit(f.sample, {
        CANDIDATE: f.on_sample[CANDIDATE]}, {CANDIDATE: f.on_original[CANDIDATE]}) for f in fits],
        thresholds=THRESHOLDS, min_n=MIN_N, min_events=MIN_EVENTS, rule=rule)
    poor = out["subgroups"].set_index(["group", "level"]).loc[level, "poor"]
    assert len(poor) == 1 and poor[0].startswith("AUROC")


def test_bounded_measures_are_clipped_to_their_range():
    rng = np.random.default_rng(2)
    n = 200
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(int)
    # Perfect on its own resample, perfectly wrong on the original patients: optimism 1 in
    # AUROC and about -0.98 in Brier, more than the apparent figures can absorb.
    fits = []
    for _ in range(4):
        sample = rng.integers(0, n, n)
        fits.append(BootstrapFit(sample, {CANDIDATE: np.where(y[sample] == 1, 0.99, 0.01)},
                                 {CANDIDATE: np.where(y == 1, 0.01, 0.99)}))
    out = optimism_corrected(_evaluate({CANDIDATE: p}, y, {}), y, {}, fits,
                             thresholds=THRESHOLDS, min_n=MIN_N, min_events=MIN_EVENTS)
    headline = out["headline"][CANDIDATE]
    assert out["optimism"]["figures"][CANDIDATE]["auroc"] == 1.0
    assert headline["auroc"] == 0.0 and headline["auroc_ci"] == [0.0, 0.0]
    assert headline["brier"] == 1.0 and headline["brier_ci"][1] == 1.0
    assert headline["scaled_brier"] < 0  # bounded above only
    sensitivity = out["thresholds"]["sensitivity"]
    assert ((sensitivity >= 0) & (sensitivity <= 1)).all()


def test_inputs_that_do_not_belong_together_are_refused(overfitted):
    result, y, groups, fits = overfitted
    kwargs = dict(thresholds=THRESHOLDS, min_n=MIN_N, min_events=MIN_EVENTS)
    with pytest.raises(ValueError, match="outcome"):
        optimism_corrected(result, 1 - y, groups, fits, **kwargs)
    with pytest.raises(ValueError, match="candidate_calibrated"):
        optimism_corrected(result, y, groups, [BootstrapFit(
            f.sample, {"comparator_calibrated": f.on_sample["comparator_calibrated"]},
            {"comparator_calibrated": f.on_original["comparator_calibrated"]}) for f in fits],
            **kwargs)
    with pytest.raises(ValueError, match="thresholds"):
        optimism_corrected(result, y, groups, fits, **kwargs | {"thresholds": [0.5]})
    short = BootstrapFit(fits[0].sample, fits[0].on_sample,
                         {role: p[:-1] for role, p in fits[0].on_original.items()})
    with pytest.raises(ValueError, match="on_original"):
        optimism_corrected(result, y, groups, [short], **kwargs)
