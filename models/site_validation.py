"""Internal–external cross-validation by site: performance per site and pooled across sites.

The caller gives, for every labelled patient, the outcome y (0/1), the site, and the calibrated
probability p from a model developed WITHOUT that patient's site (leave one site out;
Steyerberg & Harrell 2016, J Clin Epidemiol 69:245). This module only computes; it fits no
prediction model.

Per site (``site_figures``): n, events, AUROC with its DeLong standard error (the structural
components of ``models.review.delong.placements``) and a 95 % interval made on the logit scale
and back-transformed (so it stays inside 0–1; the scale the AUROC is pooled on); the
calibration intercept (calibration-in-the-large: logistic regression of y on an intercept with
offset logit(p)) and calibration slope (logistic regression of y on logit(p)), each with its
model-based standard error and 95 % Wald interval, from the same statsmodels GLM fits as
``models.calibration_metrics.calibration_intercept_slope`` (same point values); and the Brier
score (point only). A site with fewer than ``min_events`` events or non-events gets no figures
and a ``reason``; so does a figure whose fit fails (separation, no convergence, zero variance).
A site without a figure is left out of that figure's pooling, with its reason.

Pooled (``pool_random_effects``), following Debray et al. (BMJ 2017;356:i6460; and their 2019
framework for meta-analysing prediction model studies), Snell et al. (Stat Methods Med Res
2018;27:3505, on the scale to pool on) and the defaults of their R package metamisc
(``valmeta``: REML, Hartung–Knapp–Sidik–Jonkman, t_{k−2} prediction interval):

* the AUROC on the logit scale, with the delta-method variance var(AUROC) / (AUROC(1 − AUROC))²,
  back-transformed; the calibration intercept and slope on their own (log-odds) scale;
* tau² (between-site variance) by restricted maximum likelihood (REML; Fisher scoring as in
  metafor, Viechtbauer 2005, J Educ Behav Stat 30:261), or DerSimonian–Laird on request;
* the pooled estimate with inverse-variance weights 1 / (v_i + tau²), and its 95 % confidence
  interval by Hartung–Knapp–Sidik–Jonkman (HKSJ): a t distribution with k − 1 degrees of
  freedom and the weighted residual variance (IntHout et al. 2014, BMC Med Res Methodol 14:25),
  by default never narrower than the Wald interval (the ad hoc floor of Knapp & Hartung 2003;
  see ``pool_random_effects``; ``hksj_floor=False`` gives metamisc's plain HKSJ);
* I² = tau² / (tau² + s²), s² the "typical" within-site variance (Higgins & Thompson 2002),
  the definition metafor prints; for DerSimonian–Laird it equals max(0, (Q − df) / Q);
* a 95 % prediction interval for the true figure at a new site: pooled ± t_{k−2, 0.975} ×
  sqrt(tau² + SE²), SE the HKSJ standard error, as metamisc's ``calcPredInt`` (Higgins,
  Thompson & Spiegelhalter 2009, J R Stat Soc A 172:137; Riley et al. 2011, BMJ 342:d549);
  undefined below 3 sites.

statsmodels' ``combine_effects`` (0.15) supplies Cochran's Q and the DerSimonian–Laird tau²
(also REML's starting value). Hand-written here, because it lacks them or gets them wrong for
this use: REML; the truncation of the DerSimonian–Laird tau² at 0 (``combine_effects`` returns
a negative tau² when Q < k − 1, and its random-effects weights and I² are then wrong); the HKSJ
interval at the truncated tau²; and the prediction interval.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from models.review.delong import placements
from models.scores import as_arrays, brier, logit

LEVEL = 0.95
DECIMALS = 4
MEASURES = ("auroc", "calibration_intercept", "calibration_slope")
TAU2_METHODS = {
    "reml": "restricted maximum likelihood (REML)",
    "dl": "DerSimonian–Laird",
}
MEASURE_LABELS = {
    "auroc": "AUROC",
    "calibration_intercept": "calibration intercept",
    "calibration_slope": "calibration slope",
}
_REML_TOLERANCE = 1e-10
_REML_MAX_ITERATIONS = 500


# -- small helpers -----------------------------------------------------------------------------

def _num(value) -> float | None:
    """A plain float rounded to DECIMALS, or None for missing / non-finite values."""
    if value is None:
        return None
    value = float(value)
    return round(value, DECIMALS) if math.isfinite(value) else None


def _pair(lower, upper) -> list[float] | None:
    lower, upper = _num(lower), _num(upper)
    return None if lower is None or upper is None else [lower, upper]


def _plain(label):
    """A site label as a JSON-ready value (numpy scalars unwrapped)."""
    return label.item() if isinstance(label, np.generic) else label


def _site_order(labels: np.ndarray) -> list:
    """Unique site labels in natural order (2 before 10), falling back to text order."""
    unique = list(dict.fromkeys(labels.tolist()))
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=str)


# -- per site ----------------------------------------------------------------------------------

def delong_auroc(y_true, p) -> tuple[float, float]:
    """AUROC and its DeLong standard error, var = S10 / m + S01 / n (DeLong et al. 1988).

    S10 and S01 are the sample variances (ddof 1) of the structural components of
    ``models.review.delong.placements``. Needs at least two patients of each outcome.
    """
    area, v10, v01 = placements(y_true, p)
    m, n = len(v10), len(v01)
    if m < 2 or n < 2:
        raise ValueError("the DeLong variance needs at least two events and two non-events")
    variance = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    return float(area), float(math.sqrt(max(variance, 0.0)))


def _glm(y: np.ndarray, exog: np.ndarray, offset: np.ndarray | None):
    """Unpenalised logistic regression: (params, standard errors) or (None, why it failed)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = sm.GLM(y, exog, family=sm.families.Binomial(), offset=offset).fit()
    except (ValueError, np.linalg.LinAlgError) as error:
        return None, f"fit failed ({error})"
    if any(issubclass(w.category, PerfectSeparationWarning) for w in caught):
        return None, "the predictions separate the outcomes (no finite maximum-likelihood fit)"
    params, bse = np.asarray(fit.params, float), np.asarray(fit.bse, float)
    if not fit.converged:
        return None, "the fit did not converge"
    if not (np.isfinite(params).all() and np.isfinite(bse).all()):
        return None, "the fit gave no finite estimate or standard error"
    return (params, bse), None


def _wald(estimate: float, se: float, level: float = LEVEL) -> tuple[float, float]:
    z = stats.norm.ppf(0.5 + level / 2)
    return estimate - z * se, estimate + z * se


def site_figures(y_true, p, *, min_events: int = 5) -> dict:
    """Figures for one site, unrounded (floats or None), plus ``reason`` (None when all exist).

    Also returns the pooling-scale inputs: ``auroc_logit`` and ``auroc_logit_se``.
    """
    y, p = as_arrays(y_true, p)
    n, events = len(y), int(y.sum())
    non_events = n - events
    out = {"n": n, "events": events, "brier": float(brier(y, p)) if n else None}
    empty = {f"{name}{suffix}": None for name in MEASURES for suffix in ("", "_se", "_ci")}
    out |= empty | {"auroc_logit": None, "auroc_logit_se": None}
    if events == 0 or non_events == 0:
        out["reason"] = f"only one outcome class ({events} events among {n} patients)"
        return out
    if events < min_events or non_events < min_events:
        out["reason"] = (f"fewer than {min_events} events or non-events "
                         f"({events} events, {non_events} non-events)")
        return out
    reasons = []

    area, se = delong_auroc(y, p)
    out["auroc"], out["auroc_se"] = area, se
    if area <= 0.0 or area >= 1.0:
        reasons.append(f"AUROC is {area:g}: the predictions separate the outcomes, so its "
                       "logit and DeLong variance are undefined")
    elif se <= 1e-12:
        reasons.append("the DeLong variance of the AUROC is 0 (no spread in the predictions)")
    else:
        logit_area = math.log(area / (1 - area))
        logit_se = se / (area * (1 - area))  # delta method
        out["auroc_logit"], out["auroc_logit_se"] = logit_area, logit_se
        out["auroc_ci"] = tuple(expit(_wald(logit_area, logit_se)))
    if out["auroc_logit"] is None:
        out["auroc_se"] = None  # not poolable: keep the point, drop the unusable variance

    log_odds = logit(p)
    ones = np.ones((n, 1))
    fitted, why = _glm(y, ones, offset=log_odds)
    if fitted is None:
        reasons.append(f"calibration intercept: {why}")
    else:
        out["calibration_intercept"] = float(fitted[0][0])
        out["calibration_intercept_se"] = float(fitted[1][0])
        out["calibration_intercept_ci"] = _wald(fitted[0][0], fitted[1][0])

    if np.ptp(log_odds) <= 1e-12:
        reasons.append("calibration slope: every patient has the same prediction")
    else:
        fitted, why = _glm(y, np.column_stack([ones, log_odds]), offset=None)
        if fitted is None:
            reasons.append(f"calibration slope: {why}")
        else:
            out["calibration_slope"] = float(fitted[0][1])
            out["calibration_slope_se"] = float(fitted[1][1])
            out["calibration_slope_ci"] = _wald(fitted[0][1], fitted[1][1])
    out["reason"] = "; ".join(reasons) or None
    return out


# -- pooling -----------------------------------------------------------------------------------

def reml_tau2(effects, variances, start: float = 0.0) -> tuple[float, bool]:
    """REML estimate of the between-site variance tau² (intercept-only model), by Fisher
    scoring as metafor does: tau² ← tau² + (y'PPy − tr P) / tr PP, with
    P = W − W11'W / Σw and W = diag(1 / (v_i + tau²)); kept at 0 when the step goes below.
    Returns (tau², converged).
    """
    y, v = np.asarray(effects, float), np.asarray(variances, float)
    tau2 = max(float(start), 0.0)
    for _ in range(_REML_MAX_ITERATIONS):
        w = 1.0 / (v + tau2)
        sw, sw2, sw3 = w.sum(), (w ** 2).sum(), (w ** 3).sum()
        mu = (w * y).sum() / sw
        py = w * (y - mu)                                    # P y
        trace_p = sw - sw2 / sw
        trace_pp = sw2 - 2 * sw3 / sw + sw2 ** 2 / sw ** 2
        new = max(tau2 + ((py ** 2).sum() - trace_p) / trace_pp, 0.0)
        if abs(new - tau2) < _REML_TOLERANCE * max(1.0, tau2):
            return new, True
        tau2 = new
    return tau2, False


def i_squared(variances, tau2: float) -> float:
    """I² (%) = 100 tau² / (tau² + s²), s² = (k − 1) Σw / ((Σw)² − Σw²), w = 1 / v (metafor)."""
    w = 1.0 / np.asarray(variances, float)
    typical = (len(w) - 1) * w.sum() / (w.sum() ** 2 - (w ** 2).sum())
    return 100.0 * tau2 / (tau2 + typical)


def prediction_interval(estimate: float, se: float, tau2: float, k: int,
                        level: float = LEVEL) -> tuple[float, float] | None:
    """estimate ± t_{k−2} × sqrt(tau² + se²) (Higgins et al. 2009; Riley et al. 2011); None for
    k < 3, where the t distribution has no degrees of freedom."""
    if k < 3:
        return None
    half = stats.t.ppf(0.5 + level / 2, k - 2) * math.sqrt(tau2 + se ** 2)
    return estimate - half, estimate + half


def _method_text(tau2_method: str, scale: str, hksj_floor: bool) -> str:
    floor = ", never narrower than the Wald interval" if hksj_floor else ""
    return (f"random-effects meta-analysis on the {scale} scale; tau² by "
            f"{TAU2_METHODS[tau2_method]}; 95 % confidence interval by Hartung–Knapp–Sidik–"
            f"Jonkman (t, k − 1 df{floor}); 95 % prediction interval pooled ± t_{{k−2}} × "
            "sqrt(tau² + SE²)")


def pool_random_effects(effects, variances, *, tau2_method: str = "reml",
                        logit_scale: bool = False, hksj_floor: bool = True,
                        level: float = LEVEL) -> dict:
    """Random-effects summary of per-site estimates with known sampling variances.

    Returns unrounded floats: estimate, ci, se (HKSJ, pooling scale), tau2, i2 (%), q,
    prediction_interval, k, method, reason (why something is None, else None). With
    ``logit_scale`` the effects are logits and estimate, ci and prediction_interval are
    back-transformed to probabilities (tau2 and se stay on the logit scale).

    HKSJ variance: q × 1 / Σw with q = Σ w_i (y_i − μ)² / (k − 1). With ``hksj_floor`` (the
    default) q is taken as at least 1 (Knapp & Hartung 2003's ad hoc correction; Röver et al.
    2015, BMC Med Res Methodol 15:99; Jackson et al. 2017, Stat Med 36:3923): with a handful of
    sites that agree by chance the plain HKSJ interval is narrower than the Wald interval and
    under-covers. ``hksj_floor=False`` gives the plain HKSJ of metafor's test="knha" and
    metamisc's valmeta defaults.
    """
    if tau2_method not in TAU2_METHODS:
        raise ValueError(f"tau2_method must be one of {sorted(TAU2_METHODS)}")
    y, v = np.asarray(effects, float), np.asarray(variances, float)
    if y.shape != v.shape or y.ndim != 1:
        raise ValueError("effects and variances must be 1-D and of the same length")
    if not (np.isfinite(y).all() and np.isfinite(v).all() and (v > 0).all()):
        raise ValueError("effects must be finite and variances finite and positive")
    k = len(y)
    scale = "logit" if logit_scale else "log-odds"
    out = {"estimate": None, "ci": None, "se": None, "tau2": None, "i2": None, "q": None,
           "prediction_interval": None, "k": k,
           "method": _method_text(tau2_method, scale, hksj_floor), "reason": None}
    if k < 2:
        out["reason"] = (f"{k} site{'' if k == 1 else 's'} with an estimate: pooling needs "
                         "at least 2 (and a prediction interval at least 3)")
        return out

    with warnings.catch_warnings():
        # combine_effects divides by (v + tau²) with its untruncated DerSimonian–Laird tau²,
        # which can be negative; only Q and that tau² are used here.
        warnings.simplefilter("ignore", RuntimeWarning)
        combined = combine_effects(y, v, method_re="dl")
    tau2_dl = max(float(combined.tau2), 0.0)
    if tau2_method == "dl":
        tau2 = tau2_dl
    else:
        tau2, converged = reml_tau2(y, v, start=tau2_dl)
        if not converged:
            out["reason"] = "the REML estimate of tau² did not converge"
            return out

    w = 1.0 / (v + tau2)
    mu = float((w * y).sum() / w.sum())
    hksj_scale = float((w * (y - mu) ** 2).sum() / (k - 1))
    if hksj_floor:
        hksj_scale = max(hksj_scale, 1.0)
    se = math.sqrt(hksj_scale / float(w.sum()))
    half = stats.t.ppf(0.5 + level / 2, k - 1) * se
    ci = (mu - half, mu + half)
    pi = prediction_interval(mu, se, tau2, k, level)
    back = expit if logit_scale else (lambda x: x)
    out |= {"estimate": float(back(mu)), "ci": tuple(float(back(c)) for c in ci), "se": se,
            "tau2": tau2, "i2": i_squared(v, tau2), "q": float(combined.q),
            "prediction_interval": None if pi is None else tuple(float(back(b)) for b in pi)}
    if pi is None:
        out["reason"] = (f"a prediction interval needs at least 3 sites with an estimate "
                         f"({k} here)")
    return out


# -- public API --------------------------------------------------------------------------------

def site_performance(y, p, sites, *, min_events: int = 5, tau2_method: str = "reml",
                     hksj_floor: bool = True) -> dict:
    """Per-site performance of leave-one-site-out predictions and its random-effects summary.

    ``y`` (0/1), ``p`` (predicted probability from a model developed without the patient's
    site) and ``sites`` (a label per patient, no missing values) are aligned by position.

    Returns a JSON-ready dict (floats rounded to 4 decimals, None where undefined, no NaN):

    * ``sites``: one dict per site, sorted by site: site, n, events, auroc, auroc_se, auroc_ci,
      calibration_intercept, calibration_intercept_se, calibration_intercept_ci,
      calibration_slope, calibration_slope_se, calibration_slope_ci, brier, reason;
    * ``pooled``: for each of auroc, calibration_intercept, calibration_slope: estimate, ci, se
      (HKSJ, on the pooling scale), tau2 (pooling scale), i2 (%), q, prediction_interval, k,
      method, reason, excluded (the sites left out, each with its reason);
    * ``method``: one plain sentence naming the pooling method and the interval kinds.
    """
    if min_events < 2:
        raise ValueError("min_events must be at least 2 (the DeLong variance needs two of each)")
    y_arr, p_arr = as_arrays(y, p)
    if y_arr.ndim != 1:
        raise ValueError("y and p must be 1-D (one value per patient)")
    if np.any((p_arr < 0) | (p_arr > 1)):
        raise ValueError("p must be probabilities in [0, 1]")
    labels = np.asarray(sites, dtype=object)
    if labels.shape != y_arr.shape:
        raise ValueError(f"sites has {labels.size} values for {y_arr.size} patients")
    if pd.isna(labels).any():
        raise ValueError("sites contains missing values")

    raw = {}
    for site in _site_order(labels):
        mask = labels == site
        raw[site] = site_figures(y_arr[mask], p_arr[mask], min_events=min_events)

    rows = []
    for site, fig in raw.items():
        row = {"site": _plain(site), "n": fig["n"], "events": fig["events"]}
        for name in MEASURES:
            row[name] = _num(fig[name])
            row[f"{name}_se"] = _num(fig[f"{name}_se"])
            row[f"{name}_ci"] = None if fig[f"{name}_ci"] is None else _pair(*fig[f"{name}_ci"])
        row["brier"] = _num(fig["brier"])
        row["reason"] = fig["reason"]
        rows.append(row)

    pooled = {}
    for name in MEASURES:
        effect_key, se_key = ("auroc_logit", "auroc_logit_se") if name == "auroc" \
            else (name, f"{name}_se")
        usable = [s for s, fig in raw.items()
                  if fig[effect_key] is not None and fig[se_key] is not None]
        excluded = [{"site": _plain(s), "reason": fig["reason"] or "no estimate"}
                    for s, fig in raw.items() if s not in usable]
        result = pool_random_effects(
            [raw[s][effect_key] for s in usable], [raw[s][se_key] ** 2 for s in usable],
            tau2_method=tau2_method, logit_scale=name == "auroc", hksj_floor=hksj_floor)
        pooled[name] = {
            "estimate": _num(result["estimate"]),
            "ci": None if result["ci"] is None else _pair(*result["ci"]),
            "se": _num(result["se"]),
            "tau2": _num(result["tau2"]),
            "i2": _num(result["i2"]),
            "q": _num(result["q"]),
            "prediction_interval": None if result["prediction_interval"] is None
            else _pair(*result["prediction_interval"]),
            "k": result["k"],
            "method": result["method"],
            "reason": result["reason"],
            "excluded": excluded,
        }
    return {"sites": rows, "pooled": pooled,
            "method": method_sentence(tau2_method, hksj_floor)}


def method_sentence(tau2_method: str = "reml", hksj_floor: bool = True) -> str:
    floor = " (never narrower than the Wald interval)" if hksj_floor else ""
    return ("Leave-one-site-out estimates from each site were pooled by random-effects "
            f"meta-analysis (between-site variance tau² by {TAU2_METHODS[tau2_method]}; AUROC "
            "on the logit scale, calibration intercept and slope on the log-odds scale), with "
            "95 % confidence intervals for the average performance by the Hartung–Knapp–Sidik–"
            f"Jonkman method{floor} and 95 % prediction intervals for the performance at a new "
            "site (t distribution, k − 2 degrees of freedom); per-site intervals are 95 % Wald "
            "intervals (AUROC: DeLong variance, logit scale).")


# -- plain language ----------------------------------------------------------------------------

def _fmt(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")


def _span(lower: float, upper: float) -> str:
    return f"{_fmt(lower)}–{_fmt(upper)}" if lower >= 0 and upper >= 0 \
        else f"{_fmt(lower)} to {_fmt(upper)}"


_IDEAL = {"auroc": "", "calibration_intercept": ", ideal 0", "calibration_slope": ", ideal 1"}


def summary_sentences(result: dict) -> list[str]:
    """Plain-language lines for a model card or the console, one per pooled measure, then one
    naming the sites left out of pooling. Performance words only: the figures describe how
    well the predictions agreed with outcomes at these sites."""
    lines = []
    n_sites = len(result["sites"])
    for name in MEASURES:
        block = result["pooled"][name]
        label = MEASURE_LABELS[name]
        k = block["k"]
        if block["estimate"] is None:
            lines.append(f"The {label} could not be pooled across sites: {block['reason']}.")
            continue
        lower, upper = block["ci"]
        where = f"Across {k} sites" if k == n_sites else \
            f"Across the {k} of {n_sites} sites with an estimate"
        text = (f"{where} the pooled {label} was "
                f"{_fmt(block['estimate'])} (95 % CI {_span(lower, upper)}{_IDEAL[name]}); "
                f"between-site heterogeneity I² {block['i2']:.0f} %")
        if block["prediction_interval"] is None:
            text += (f"; no 95 % prediction interval for a new clinic ({block['reason']}).")
        else:
            low, high = block["prediction_interval"]
            text += (f"; in a new clinic like these the {label} is expected between "
                     f"{_fmt(low)} and {_fmt(high)} (95 % prediction interval).")
        lines.append(text)
    left_out: dict[str, dict] = {}
    for name in MEASURES:
        for entry in result["pooled"][name]["excluded"]:
            left_out.setdefault(str(entry["site"]), {"reason": entry["reason"], "from": []})
            left_out[str(entry["site"])]["from"].append(MEASURE_LABELS[name])
    for site, entry in left_out.items():
        measures = "" if len(entry["from"]) == len(MEASURES) \
            else f" (from the {' and '.join(entry['from'])} only)"
        lines.append(f"Site {site} was left out of pooling{measures}: {entry['reason']}.")
    return lines
