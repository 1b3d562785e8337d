"""Internal–external cross-validation by site: per-site figures and their random-effects pooling.

Reference values, each with where it comes from:

* BCG vaccine trials (Colditz et al. 1994; metafor's ``dat.bcg``), log risk ratios: R metafor
  ``rma(yi, vi, method="REML")`` prints tau² 0.3132, estimate −0.7145 (SE 0.1798, 95 % CI
  −1.0669 to −0.3622), I² 92.22 %, Q(12) 152.233; ``method="DL"`` prints tau² 0.3088,
  estimate −0.7141 (SE 0.1787), I² 92.12 %. These are the values of metafor's documentation
  and the methodological literature for this data set.
* Kacker (2004) example, R metafor ``rma(y, v, method="DL")`` and ``test="knha"``: copied from
  statsmodels' own test results (statsmodels/stats/tests/results/results_meta.py, exk1_dl and
  exk1_dl_hksj).
* Fine (1993) odds ratios, R meta ``metabin(..., method.tau="DL", hakn=TRUE)``, including its
  prediction interval (t, k − 2 df): copied from the same file (results_or_dl_hk).
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import optimize
from scipy.special import expit
from statsmodels.stats.meta_analysis import combine_effects

from models.calibration_metrics import (calibration_in_the_large, calibration_intercept_slope,
                                        calibration_slope)
from models.review.delong import delong_test
from models.scores import auroc, brier, logit
from models.site_validation import (delong_auroc, i_squared, pool_random_effects,
                                    prediction_interval, reml_tau2, site_figures,
                                    site_performance, summary_sentences)

# -- reference data ------------------------------------------------------------------------------

# dat.bcg: tpos, tneg, cpos, cneg for the 13 trials.
BCG = np.array([
    [4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
    [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619],
    [505, 87886, 499, 87892], [29, 7470, 45, 7232], [17, 1699, 65, 1600],
    [186, 50448, 141, 27197], [5, 2493, 3, 2338], [27, 16886, 29, 17825]], dtype=float)
# metafor escalc(measure="RR") on dat.bcg, as printed (8 decimals).
BCG_YI = [-0.88931133, -1.58538866, -1.34807315, -1.44155119, -0.21754732, -0.78611559,
          -1.62089822, 0.01195233, -0.46941765, -1.37134480, -0.33935883, 0.44591340,
          -0.01731395]

KACKER_Y = np.array([61.00, 61.40, 62.21, 62.30, 62.34, 62.60, 62.70, 62.84, 65.90])
KACKER_V = np.array([0.2025, 1.2100, 0.0900, 0.2025, 0.3844, 0.5625, 0.0676, 0.0225, 1.8225])

# R meta metabin, sm="OR", method.tau="DL", hakn=TRUE (statsmodels results_or_dl_hk).
FINE_TE = np.array([
    2.70805020110221, 1.25672336971146, 0.374938517449009, 1.65822807660353,
    0.784954729813068, 0.361663949151077, 0.575364144903562, 0.250542525502324,
    0.650587566141149, 0.0918075492531229, 0.273865253802803, 0.485755524477543,
    0.182321556793955, 0.980829253011726, 1.31218638896617, -0.259511195485085,
    0.138402322859119])
FINE_SE = np.array([
    1.1130538571376, 0.505568465186247, 0.390847133738078, 0.680511012471685,
    0.434831536798166, 0.26249802054503, 0.490562645746402, 0.376864733063505,
    0.529771411128472, 0.458411099840008, 0.193159187510219, 0.206827050443269,
    0.441477021807833, 0.713624032148063, 1.18251919576455, 0.604874380241894,
    0.329592099997789])
FINE_META = {"TE_random": 0.429520368698268, "seTE_random": 0.0915952752397692,
             "lower_random": 0.235347059333852, "upper_random": 0.623693678062684,
             "lower_predict": 0.215650965184522, "upper_predict": 0.643389772212014,
             "tau2": 0.0016783981912744, "Q": 16.181374262823, "I2": 0.0112088293538659}


def bcg_log_rr():
    a, b, c, d = BCG.T
    yi = np.log(a / (a + b)) - np.log(c / (c + d))
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return yi, vi


# -- simulated sites -----------------------------------------------------------------------------

def simulated_sites(shifts, n: int = 600, seed: int = 0, slope: float = 1.0):
    """Sites sharing one true model logit P(y) = shift + slope × z, with p = expit(z) the
    model's prediction: the true calibration intercept is `shift` (when slope is 1) and the
    true calibration slope is `slope`."""
    rng = np.random.default_rng(seed)
    ys, ps, sites = [], [], []
    for index, shift in enumerate(shifts):
        z = rng.normal(-0.5, 1.2, n)
        ys.append((rng.random(n) < expit(shift + slope * z)).astype(int))
        ps.append(expit(z))
        sites += [f"S{index + 1}"] * n
    return np.concatenate(ys), np.concatenate(ps), np.array(sites)


def true_auroc(seed: int = 99, n: int = 400_000) -> float:
    """Population AUROC of the homogeneous simulation (Monte Carlo, error ~0.001)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-0.5, 1.2, n)
    return float(auroc((rng.random(n) < expit(z)).astype(int), expit(z)))


def inside(value: float, interval) -> bool:
    return interval[0] <= value <= interval[1]


# -- (a) pooling against published / R reference values --------------------------------------

def test_bcg_log_risk_ratios_are_metafor_escalc():
    yi, _ = bcg_log_rr()
    assert yi == pytest.approx(BCG_YI, abs=5e-9)


def test_reml_pooling_matches_metafor_on_bcg():
    yi, vi = bcg_log_rr()
    pooled = pool_random_effects(yi, vi, tau2_method="reml", hksj_floor=False)
    assert pooled["tau2"] == pytest.approx(0.3132, abs=5e-5)
    assert pooled["estimate"] == pytest.approx(-0.7145, abs=5e-5)
    assert pooled["i2"] == pytest.approx(92.22, abs=5e-3)
    assert pooled["q"] == pytest.approx(152.233, abs=5e-4)
    assert pooled["k"] == 13
    # metafor's default (Wald) standard error and interval at that tau².
    w = 1 / (vi + pooled["tau2"])
    wald_se = 1 / math.sqrt(w.sum())
    assert wald_se == pytest.approx(0.1798, abs=5e-5)
    assert pooled["estimate"] - 1.959964 * wald_se == pytest.approx(-1.0669, abs=5e-5)
    assert pooled["estimate"] + 1.959964 * wald_se == pytest.approx(-0.3622, abs=5e-5)


def test_dersimonian_laird_matches_metafor_on_bcg():
    yi, vi = bcg_log_rr()
    pooled = pool_random_effects(yi, vi, tau2_method="dl")
    assert pooled["tau2"] == pytest.approx(0.3088, abs=5e-5)
    assert pooled["estimate"] == pytest.approx(-0.7141, abs=5e-5)
    assert pooled["i2"] == pytest.approx(92.12, abs=5e-3)
    assert 1 / math.sqrt((1 / (vi + pooled["tau2"])).sum()) == pytest.approx(0.1787, abs=5e-5)


def test_dersimonian_laird_with_hksj_matches_metafor_kacker():
    """metafor rma(y, v, method="DL", test="knha") on Kacker (2004), via statsmodels' tests."""
    pooled = pool_random_effects(KACKER_Y, KACKER_V, tau2_method="dl", hksj_floor=False)
    assert pooled["tau2"] == pytest.approx(0.288049246973751, rel=1e-10)
    assert pooled["estimate"] == pytest.approx(62.3901386044504, rel=1e-12)
    assert pooled["se"] == pytest.approx(0.29477605699879, rel=1e-9)
    assert pooled["ci"] == pytest.approx((61.710383798052, 63.0698934108488), rel=1e-10)
    assert pooled["i2"] == pytest.approx(67.744403741711, rel=1e-9)
    assert pooled["q"] == pytest.approx(24.801897741835, rel=1e-10)


@pytest.mark.parametrize("hksj_floor", [False, True])
def test_hksj_and_prediction_interval_match_r_meta(hksj_floor):
    """R meta metabin(hakn=TRUE, method.tau="DL"): pooled log odds ratio, HKSJ interval and
    prediction interval (t with k − 2 df). Its HKSJ scale is above 1, so the floor is idle."""
    pooled = pool_random_effects(FINE_TE, FINE_SE ** 2, tau2_method="dl", hksj_floor=hksj_floor)
    assert pooled["tau2"] == pytest.approx(FINE_META["tau2"], rel=1e-9)
    assert pooled["q"] == pytest.approx(FINE_META["Q"], rel=1e-12)
    assert pooled["i2"] == pytest.approx(100 * FINE_META["I2"], rel=1e-8)
    assert pooled["estimate"] == pytest.approx(FINE_META["TE_random"], rel=1e-12)
    assert pooled["se"] == pytest.approx(FINE_META["seTE_random"], rel=1e-10)
    assert pooled["ci"] == pytest.approx((FINE_META["lower_random"], FINE_META["upper_random"]),
                                         rel=1e-10)
    assert pooled["prediction_interval"] == pytest.approx(
        (FINE_META["lower_predict"], FINE_META["upper_predict"]), rel=1e-10)


def test_prediction_interval_formula():
    low, high = prediction_interval(0.5, 0.1, 0.04, k=5)
    half = 3.182446305284263 * math.sqrt(0.04 + 0.01)  # qt(0.975, 3)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-12)
    assert prediction_interval(0.5, 0.1, 0.04, k=2) is None


def _neg_reml_loglik(tau2, y, v):
    w = 1 / (v + tau2)
    mu = (w * y).sum() / w.sum()
    return 0.5 * (np.log(v + tau2).sum() + math.log(w.sum()) + (w * (y - mu) ** 2).sum())


@pytest.mark.parametrize("seed", range(6))
def test_reml_maximises_the_restricted_likelihood(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 12))
    v = rng.uniform(0.01, 0.3, k)
    y = rng.normal(0, math.sqrt(rng.choice([0.0, 0.05, 0.5])), k) + rng.normal(0, np.sqrt(v))
    tau2, converged = reml_tau2(y, v)
    assert converged
    best = optimize.minimize_scalar(_neg_reml_loglik, bounds=(0, 10), args=(y, v),
                                    method="bounded", options={"xatol": 1e-12})
    expected = best.x if best.x > 1e-7 else 0.0
    assert tau2 == pytest.approx(expected, abs=1e-6)
    assert _neg_reml_loglik(tau2, y, v) <= best.fun + 1e-9


def test_dersimonian_laird_tau2_is_truncated_at_zero():
    """statsmodels' combine_effects returns a negative DL tau² when Q < k − 1; pooling must not."""
    y, v = np.array([0.10, 0.11, 0.09, 0.10]), np.array([0.04, 0.05, 0.04, 0.06])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its HKSJ sqrt of a negative number
        assert combine_effects(y, v, method_re="dl").tau2 < 0  # the behaviour guarded against
    for method in ("dl", "reml"):
        pooled = pool_random_effects(y, v, tau2_method=method)
        assert pooled["tau2"] == 0.0
        assert pooled["i2"] == 0.0
        assert pooled["estimate"] == pytest.approx(((y / v).sum()) / (1 / v).sum(), rel=1e-12)


def test_hksj_floor_never_narrower_than_wald():
    y, v = np.array([0.10, 0.11, 0.09, 0.10]), np.array([0.04, 0.05, 0.04, 0.06])
    wald_se = 1 / math.sqrt((1 / v).sum())  # tau² is 0 here
    plain = pool_random_effects(y, v, hksj_floor=False)
    floored = pool_random_effects(y, v, hksj_floor=True)
    assert plain["se"] < wald_se
    assert floored["se"] == pytest.approx(wald_se, rel=1e-12)


def test_i_squared_definition():
    v = np.array([0.1, 0.2, 0.4])
    w = 1 / v
    typical = 2 * w.sum() / (w.sum() ** 2 - (w ** 2).sum())
    assert i_squared(v, 0.3) == pytest.approx(100 * 0.3 / (0.3 + typical))
    assert i_squared(v, 0.0) == 0.0


# -- per-site figures ----------------------------------------------------------------------------

def test_delong_standard_error_matches_project_delong_and_brute_force():
    y, p, _ = simulated_sites([0.0], n=300, seed=3)
    area, se = delong_auroc(y, p)
    # Against a constant comparator the DeLong SE of the difference is that of the AUROC.
    assert se == pytest.approx(delong_test(y, np.full(len(y), 0.5), p).standard_error,
                               rel=1e-12)
    pos, neg = p[y == 1], p[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    brute = math.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    assert area == pytest.approx(psi.mean(), rel=1e-12)
    assert se == pytest.approx(brute, rel=1e-12)


def test_site_calibration_equals_project_functions():
    """(e) Per-site intercept and slope are the project's calibration_metrics values."""
    y, p, sites = simulated_sites([-0.6, 0.0, 0.4, 0.9], n=500, seed=11, slope=0.8)
    result = site_performance(y, p, sites)
    for row in result["sites"]:
        mask = sites == row["site"]
        expected = calibration_intercept_slope(y[mask], p[mask])
        figures = site_figures(y[mask], p[mask])
        assert figures["calibration_intercept"] == pytest.approx(
            expected["calibration_intercept"], abs=1e-10)
        assert figures["calibration_slope"] == pytest.approx(
            expected["calibration_slope"], abs=1e-10)
        assert figures["calibration_intercept"] == pytest.approx(
            calibration_in_the_large(y[mask], p[mask]), abs=1e-8)
        assert figures["calibration_slope"] == pytest.approx(
            calibration_slope(y[mask], p[mask]), abs=1e-8)
        assert row["calibration_intercept"] == round(expected["calibration_intercept"], 4)
        assert row["calibration_slope"] == round(expected["calibration_slope"], 4)
        assert row["auroc"] == round(float(auroc(y[mask], p[mask])), 4)
        assert row["brier"] == round(float(brier(y[mask], p[mask])), 4)
        # Intercept SE: inverse Fisher information of the offset model, 1 / sqrt(Σ μ(1 − μ)).
        mu = expit(figures["calibration_intercept"] + logit(p[mask]))
        assert figures["calibration_intercept_se"] == pytest.approx(
            1 / math.sqrt((mu * (1 - mu)).sum()), rel=1e-6)
        low, high = figures["calibration_slope_ci"]
        assert (high - low) == pytest.approx(2 * 1.959964 * figures["calibration_slope_se"],
                                             rel=1e-6)


def test_site_auroc_interval_is_made_on_the_logit_scale():
    y, p, _ = simulated_sites([0.0], n=400, seed=5)
    figures = site_figures(y, p)
    area, se = delong_auroc(y, p)
    centre = math.log(area / (1 - area))
    half = 1.959964 * se / (area * (1 - area))
    assert figures["auroc_ci"] == pytest.approx((expit(centre - half), expit(centre + half)),
                                                rel=1e-6)
    assert figures["auroc_logit_se"] == pytest.approx(se / (area * (1 - area)), rel=1e-12)


def test_auroc_is_pooled_on_the_logit_scale_and_back_transformed():
    y, p, sites = simulated_sites([0.0, 0.8, -0.6, 0.3], n=400, seed=17, slope=1.3)
    result = site_performance(y, p, sites)
    logits, variances = [], []
    for site in sorted(set(sites)):
        figures = site_figures(y[sites == site], p[sites == site])
        area, se = delong_auroc(y[sites == site], p[sites == site])
        logits.append(math.log(area / (1 - area)))
        variances.append((se / (area * (1 - area))) ** 2)
        assert figures["auroc_logit"] == pytest.approx(logits[-1], rel=1e-12)
    on_logit = pool_random_effects(logits, variances)
    block = result["pooled"]["auroc"]
    assert block["tau2"] == round(on_logit["tau2"], 4)
    assert block["estimate"] == round(float(expit(on_logit["estimate"])), 4)
    mu, se, tau2 = on_logit["estimate"], on_logit["se"], on_logit["tau2"]
    assert on_logit["estimate"] == pytest.approx(
        sum(x / (v + tau2) for x, v in zip(logits, variances))
        / sum(1 / (v + tau2) for v in variances), rel=1e-12)
    half = 4.302652729911275 * math.sqrt(tau2 + se ** 2)  # qt(0.975, 2)
    assert block["prediction_interval"] == [round(float(expit(mu - half)), 4),
                                            round(float(expit(mu + half)), 4)]
    # Not the same as pooling the AUROCs themselves.
    raw = pool_random_effects([expit(x) for x in logits],
                              [v * (expit(x) * (1 - expit(x))) ** 2
                               for x, v in zip(logits, variances)])
    assert block["prediction_interval"] != [round(b, 4) for b in raw["prediction_interval"]]


# -- (b) homogeneous and heterogeneous sites -----------------------------------------------------

def test_homogeneous_sites_have_low_heterogeneity_and_cover_the_truth():
    """Six sites, one true model, 20 replicates: I² is a noisy statistic with 6 sites (under
    homogeneity Q ~ chi²_5, so I² > 25 % in about 1 replicate of 4), hence averages."""
    truths = {"auroc": true_auroc(), "calibration_intercept": 0.0, "calibration_slope": 1.0}
    i2 = {name: [] for name in truths}
    covered = dict.fromkeys(truths, 0)
    widths = []
    for seed in range(20):
        y, p, sites = simulated_sites([0.0] * 6, n=600, seed=seed)
        pooled = site_performance(y, p, sites)["pooled"]
        for name, truth in truths.items():
            block = pooled[name]
            assert block["k"] == 6
            i2[name].append(block["i2"])
            covered[name] += inside(truth, block["prediction_interval"])
        low, high = pooled["calibration_intercept"]["prediction_interval"]
        widths.append(high - low)
    for name in truths:
        assert np.mean(i2[name]) < 25, (name, i2[name])
        assert np.median(i2[name]) < 10, (name, i2[name])
        assert covered[name] >= 19, (name, covered[name])
    assert np.median(widths) < 0.8  # against > 3 with heterogeneous intercepts below


def test_heterogeneous_intercepts_give_large_i2_and_a_wide_prediction_interval():
    shifts = [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]
    y, p, sites = simulated_sites(shifts, n=600, seed=21)
    block = site_performance(y, p, sites)["pooled"]["calibration_intercept"]
    assert block["i2"] > 85
    assert block["tau2"] == pytest.approx(np.var(shifts, ddof=1), rel=0.5)
    low, high = block["prediction_interval"]
    assert high - low > 3.0
    assert low < min(shifts) and high > max(shifts)
    assert (high - low) > 1.5 * (block["ci"][1] - block["ci"][0])


# -- (c) a site with one outcome only ------------------------------------------------------------

def test_site_with_one_outcome_gets_a_reason_and_is_left_out():
    y, p, sites = simulated_sites([0.0, 0.3, -0.2, 0.5], n=500, seed=8)
    extra_p = np.random.default_rng(1).uniform(0.05, 0.6, 80)
    y_all = np.concatenate([y, np.zeros(80, int)])
    p_all = np.concatenate([p, extra_p])
    sites_all = np.concatenate([sites, ["Z"] * 80])
    with_z = site_performance(y_all, p_all, sites_all)
    without_z = site_performance(y, p, sites)

    row = next(r for r in with_z["sites"] if r["site"] == "Z")
    assert row["n"] == 80 and row["events"] == 0
    assert "only one outcome class" in row["reason"]
    for key in ("auroc", "auroc_ci", "calibration_intercept", "calibration_intercept_ci",
                "calibration_slope", "calibration_slope_ci"):
        assert row[key] is None
    for name, block in with_z["pooled"].items():
        assert block["k"] == 4
        assert block["excluded"] == [{"site": "Z", "reason": row["reason"]}]
        reference = without_z["pooled"][name]
        for key in ("estimate", "ci", "tau2", "i2", "prediction_interval"):
            assert block[key] == reference[key], (name, key)
    assert any("Site Z was left out of pooling" in line for line in summary_sentences(with_z))


def test_small_site_and_separating_site_get_reasons():
    y, p, sites = simulated_sites([0.0, 0.2, -0.1], n=500, seed=4)
    # A site with 3 events: too small. A site whose predictions separate the outcomes.
    small_y = np.r_[np.ones(3, int), np.zeros(60, int)]
    small_p = np.random.default_rng(2).uniform(0.1, 0.5, 63)
    sep_y = np.r_[np.ones(20, int), np.zeros(30, int)]
    sep_p = np.r_[np.linspace(0.6, 0.9, 20), np.linspace(0.1, 0.4, 30)]
    result = site_performance(np.concatenate([y, small_y, sep_y]),
                              np.concatenate([p, small_p, sep_p]),
                              np.concatenate([sites, ["small"] * 63, ["sep"] * 50]))
    rows = {r["site"]: r for r in result["sites"]}
    assert "fewer than 5 events" in rows["small"]["reason"]
    assert rows["sep"]["auroc"] == 1.0 and rows["sep"]["auroc_ci"] is None
    assert rows["sep"]["calibration_slope"] is None
    assert "separate" in rows["sep"]["reason"]
    assert rows["sep"]["calibration_intercept"] is not None  # still estimable
    pooled = result["pooled"]
    assert {e["site"] for e in pooled["auroc"]["excluded"]} == {"small", "sep"}
    assert {e["site"] for e in pooled["calibration_slope"]["excluded"]} == {"small", "sep"}
    assert {e["site"] for e in pooled["calibration_intercept"]["excluded"]} == {"small"}
    assert pooled["calibration_intercept"]["k"] == 4 and pooled["auroc"]["k"] == 3


# -- (d) fewer than three poolable sites ---------------------------------------------------------

def test_two_poolable_sites_have_no_prediction_interval():
    y, p, sites = simulated_sites([0.0, 0.4], n=500, seed=6)
    result = site_performance(y, p, sites)
    for block in result["pooled"].values():
        assert block["k"] == 2
        assert block["estimate"] is not None and block["ci"] is not None
        assert block["prediction_interval"] is None
        assert "at least 3 sites" in block["reason"]
    lines = summary_sentences(result)
    assert all("no 95 % prediction interval" in line for line in lines[:3])


def test_three_poolable_sites_have_a_prediction_interval():
    y, p, sites = simulated_sites([0.0, 0.4, -0.3], n=500, seed=6)
    for block in site_performance(y, p, sites)["pooled"].values():
        assert block["k"] == 3 and block["reason"] is None
        low, high = block["prediction_interval"]
        assert low < block["ci"][0] <= block["estimate"] <= block["ci"][1] < high


def test_one_poolable_site_is_not_pooled():
    y, p, sites = simulated_sites([0.0], n=500, seed=6)
    result = site_performance(y, p, sites)
    for block in result["pooled"].values():
        assert block["k"] == 1 and block["estimate"] is None and block["ci"] is None
        assert block["prediction_interval"] is None and "at least 2" in block["reason"]
    assert summary_sentences(result)[0].startswith("The AUROC could not be pooled")


# -- output form -----------------------------------------------------------------------------

def test_output_is_json_ready_rounded_and_sorted():
    y, p, sites = simulated_sites([0.0, 0.2, -0.3], n=300, seed=9)
    labels = np.select([sites == "S1", sites == "S2"], [10, 2], 7)  # natural order 2, 7, 10
    result = site_performance(y, p, labels)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    assert [r["site"] for r in result["sites"]] == [2, 7, 10]
    assert all(type(r["site"]) is int for r in result["sites"])

    def floats(value):
        if isinstance(value, float):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from floats(item)
        elif isinstance(value, list):
            for item in value:
                yield from floats(item)
    assert all(x == round(x, 4) for x in floats(result))
    assert set(result["pooled"]) == {"auroc", "calibration_intercept", "calibration_slope"}
    assert set(result["pooled"]["auroc"]) >= {"estimate", "ci", "tau2", "i2",
                                              "prediction_interval", "k", "method"}
    assert "REML" in result["method"] and "prediction interval" in result["method"]


def test_summary_sentences_report_the_pooled_numbers():
    y, p, sites = simulated_sites([0.0, 0.3, -0.3, 0.1, 0.2], n=500, seed=12)
    result = site_performance(y, p, sites)
    lines = summary_sentences(result)
    block = result["pooled"]["auroc"]
    low, high = block["ci"]
    pi_low, pi_high = block["prediction_interval"]
    assert lines[0] == (
        f"Across 5 sites the pooled AUROC was {block['estimate']:.2f} (95 % CI {low:.2f}–"
        f"{high:.2f}); between-site heterogeneity I² {block['i2']:.0f} %; in a new clinic like "
        f"these the AUROC is expected between {pi_low:.2f} and {pi_high:.2f} "
        "(95 % prediction interval).")
    assert "calibration slope" in lines[2] and "ideal 1" in lines[2]
    assert all("effect" not in line.lower() for line in lines)


def test_input_validation():
    with pytest.raises(ValueError, match="sites has"):
        site_performance([0, 1, 1], [0.2, 0.5, 0.7], ["a", "b"])
    with pytest.raises(ValueError, match="missing"):
        site_performance([0, 1], [0.2, 0.5], ["a", None])
    with pytest.raises(ValueError, match="missing"):
        site_performance([0, 1], [0.2, 0.5], np.array(["a", np.nan], dtype=object))
    with pytest.raises(ValueError, match="min_events"):
        site_performance([0, 1], [0.2, 0.5], ["a", "a"], min_events=1)
    with pytest.raises(ValueError, match="tau2_method"):
        pool_random_effects([0.1, 0.2], [0.01, 0.02], tau2_method="pm")
