"""Minimum sample size for developing a prediction model of a binary outcome (Riley et al.).

The question answered: given P candidate predictor parameters, an outcome proportion φ (here the
proportion of responders to ketamine) and an anticipated Cox–Snell R², how many patients (and
responders) does a development cohort need so that the model is not badly overfitted and the
overall response rate is estimated precisely? Three criteria, the final n being the largest:

1. small overfitting: expected uniform shrinkage of the predictor effects S ≥ 0.9
   (Van Houwelingen's heuristic), n = P / ((S − 1) · ln(1 − R²cs / S));
2. small optimism in the apparent Nagelkerke R²: apparent minus adjusted ≤ δ = 0.05, which needs
   the shrinkage S = R²cs / (R²cs + δ · max(R²cs)), then n from the formula of criterion 1;
   max(R²cs) = 1 − exp(2 · lnL_null / n) is the largest Cox–Snell R² a binary outcome with this
   prevalence allows, lnL_null / n = φ ln φ + (1 − φ) ln(1 − φ);
3. precise overall risk: the 95 % interval of φ within ± 0.05, n = (1.96 / 0.05)² · φ(1 − φ).

Sources: Riley RD, Snell KIE, Ensor J, et al. Minimum sample size for developing a multivariable
prediction model: Part II – binary and time-to-event outcomes. Stat Med 2019;38:1276–96
(doi:10.1002/sim.7992, with its correction to eq. 13, Stat Med 2019;38:5672); Riley RD, Ensor J,
Snell KIE, et al. Calculating the sample size required for developing a clinical prediction model.
BMJ 2020;368:m441. The numbers match the authors' R package ``pmsampsize`` ≥ 1.1.1 (binary
outcome; earlier versions rounded max(R²cs) to 2 and S to 3 decimals, e.g. 668 instead of 662 in
the package's own example). Written here rather than taken from PyPI's ``pmsampsize`` 0.1.0: that
port needs Python ≥ 3.12 and caps statsmodels < 0.15 and tabulate < 0.10 (this project runs 3.11
with 0.15 and 0.10), prints its table by default and raises ZeroDivisionError on R²cs = 0 or
P = 0.

Edge cases never raise: what cannot be computed is None, with a sentence saying why.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from models.scores import PROBABILITY_EPS, as_arrays

SHRINKAGE_TARGET = 0.9  # criterion 1: predictor effects shrunk by at most 10 %
R2_DIFFERENCE = 0.05  # criterion 2: δ, apparent minus adjusted Nagelkerke R²
MARGIN_OF_ERROR = 0.05  # criterion 3: half-width of the 95 % interval of the overall risk
Z_95 = 1.96  # as the papers and pmsampsize, not 1.959964, so the integers match theirs

CRITERIA = ("shrinkage", "optimism", "overall_risk")
_DESCRIPTIONS = {
    "shrinkage": "expected shrinkage of predictor effects at least the target (small overfitting)",
    "optimism": "apparent minus adjusted Nagelkerke R² at most δ (small optimism)",
    "overall_risk": "overall outcome proportion estimated within the margin of error (95 %)",
}


# ── R² on the Cox–Snell and Nagelkerke scales ────────────────────────────────


def _bernoulli_loglik_per_patient(prevalence: float) -> float:
    """lnL_null / n of an intercept-only model: φ ln φ + (1 − φ) ln(1 − φ); 0 for φ = 0 or 1."""
    return sum(q * math.log(q) for q in (prevalence, 1.0 - prevalence) if q > 0.0)


def _as_float(value) -> float | None:
    """A finite float, or None for None, NaN, ±inf and non-numbers (numpy scalars accepted).

    Strings and booleans are refused rather than coerced: "24" or True as a parameter count is a
    configuration mistake to report, not to guess at.
    """
    if isinstance(value, (str, bytes, bool)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _valid_prevalence(prevalence) -> bool:
    value = _as_float(prevalence)
    return value is not None and 0 < value < 1


def max_cox_snell_r2(prevalence: float) -> float | None:
    """Largest Cox–Snell R² attainable with this outcome proportion: 1 − exp(2 lnL_null / n).

    It is below 1 (0.75 at φ = 0.5, 0.33 at φ = 0.05), which is why a Cox–Snell R² has to be read
    against it. None when φ is not strictly between 0 and 1.
    """
    if not _valid_prevalence(prevalence):
        return None
    return 1.0 - math.exp(2.0 * _bernoulli_loglik_per_patient(float(prevalence)))


def cox_snell_r2(y_true, p) -> float:
    """Cox–Snell R² of predicted probabilities p against outcomes y.

    R²cs = 1 − exp(2 (lnL_null − lnL_model) / n), both Bernoulli log-likelihoods of the same
    outcomes: lnL_model of p, lnL_null of the observed proportion. For a logistic model's fitted
    values it equals 1 − exp(−LR/n). With out-of-fold (cross-validated) predictions it is an honest,
    not apparent, estimate, which is what Riley et al. ask for as the anticipated R²cs; it is
    negative when the predictions fit worse than the overall proportion (e.g. badly calibrated),
    and is returned as such so the caller can see it. p is clipped by PROBABILITY_EPS as in
    ``models.scores``. NaN with no patients or only one outcome class (there is no R² to speak of).
    """
    y, p = as_arrays(y_true, p)
    n = y.shape[-1]
    if n == 0 or y.min() == y.max():
        return float("nan")
    p = np.clip(p, PROBABILITY_EPS, 1 - PROBABILITY_EPS)
    ll_model = float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
    ll_null = n * _bernoulli_loglik_per_patient(float(y.mean()))
    return float(-np.expm1(2.0 * (ll_null - ll_model) / n))


# ── the three criteria ───────────────────────────────────────────────────────


@dataclass(frozen=True)
class Criterion:
    """One criterion: its n (None when it cannot be computed, with the reason), the shrinkage it
    aims at, and the events and events per parameter (EPP) that n implies at the prevalence."""

    key: str
    description: str
    n: int | None
    shrinkage: float | None = None
    events: float | None = None
    epp: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SampleSize:
    """Minimum development sample size for a binary-outcome model, with its inputs.

    n: the largest of the three criteria; None if any of them cannot be computed (a maximum over
    the others would understate it), ``reason`` then says why. events = n·φ (as pmsampsize, not
    rounded; ``events_required`` is it rounded up, the figure the package prints) and epp = events
    / P are the events and events per candidate parameter required.
    """

    parameters: int | None  # None when not a whole number ≥ 0
    prevalence: float | None  # None when not a finite number
    r2_cox_snell: float | None  # anticipated; None when not a finite number
    max_r2_cox_snell: float | None
    r2_nagelkerke: float | None
    shrinkage_target: float | None
    r2_difference: float
    margin_of_error: float
    criteria: tuple[Criterion, ...]
    n: int | None
    binding: str | None  # key of the criterion that sets n
    events: float | None
    events_required: int | None
    epp: float | None
    reason: str | None

    @property
    def computable(self) -> bool:
        return self.n is not None

    def criterion(self, key: str) -> Criterion:
        return next(c for c in self.criteria if c.key == key)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["criteria"] = {c.key: c.to_dict() for c in self.criteria}
        return out


def _n_for_shrinkage(parameters: int, r2: float, shrinkage: float) -> int | None:
    """n = P / ((S − 1) ln(1 − R²cs / S)), rounded up: n is a count that must reach the target.

    None when it overflows (an R²cs within a few orders of magnitude of the smallest float).
    """
    # log1p keeps precision for small R²cs, where 1 − R²cs / S rounds towards 1.
    try:
        n = parameters / ((shrinkage - 1.0) * math.log1p(-r2 / shrinkage))
    except ZeroDivisionError:  # the denominator underflowed to 0
        return None
    return math.ceil(n) if math.isfinite(n) else None


def _r2_problem(r2: float | None, given, maximum: float, shrinkage: float) -> str | None:
    """Why the overfitting criteria (1 and 2) cannot be computed from this R²cs, or None."""
    if r2 is None:
        return f"anticipated Cox–Snell R² is {given!r}, not a finite number"
    if r2 <= 0:
        return (f"anticipated Cox–Snell R² is {r2:.4g}, not above 0: a model expected to predict "
                "no better than the overall proportion cannot reach the shrinkage target at any n")
    if r2 > maximum:
        return (f"anticipated Cox–Snell R² {r2:.4g} exceeds its maximum {maximum:.4g} for this "
                "prevalence (Riley et al. 2019, eq. 23)")
    if r2 >= shrinkage:
        return f"anticipated Cox–Snell R² {r2:.4g} is not below the shrinkage target {shrinkage}"
    return None


def minimum_sample_size(parameters: float, prevalence: float, r2_cox_snell: float | None, *,
                        shrinkage: float = SHRINKAGE_TARGET, r2_difference: float = R2_DIFFERENCE,
                        margin_of_error: float = MARGIN_OF_ERROR) -> SampleSize:
    """Riley et al.'s minimum n for developing a logistic prediction model (see module docstring).

    parameters: candidate predictor parameters P (dummies, spline terms and interactions count
    one each; count the candidates, not those a selection keeps). prevalence: anticipated outcome
    proportion φ. r2_cox_snell: anticipated (optimism-adjusted or cross-validated) Cox–Snell R²;
    a Nagelkerke R² converts to it as R²N · ``max_cox_snell_r2(φ)``.

    Never raises for bad numbers: what cannot be computed is None with a reason. P = 0 (intercept
    only) needs no shrinkage, so criteria 1 and 2 ask for 0 patients and EPP is undefined.
    """
    notes: dict[str, str] = {}
    p_value = _as_float(parameters)
    params_ok = p_value is not None and p_value >= 0 and p_value.is_integer()
    n_params = int(p_value) if params_ok else None
    if not params_ok:
        notes["shrinkage"] = notes["optimism"] = (
            f"parameters is {parameters!r}; it must be a whole number ≥ 0")
    phi = _as_float(prevalence)
    prevalence_ok = _valid_prevalence(phi)
    if not prevalence_ok:
        # φ = 0 or 1: no responders (or no non-responders), so there is nothing to predict and
        # criterion 3's φ(1 − φ) = 0 would claim that zero patients suffice.
        text = (f"prevalence is {prevalence!r}; it must be strictly between 0 and 1 (with no "
                "events, or no non-events, there is nothing to predict)")
        notes = {key: notes.get(key, text) for key in CRITERIA}
    target = _as_float(shrinkage)
    if target is None or not 0 < target < 1:
        notes.setdefault("shrinkage", f"shrinkage target is {shrinkage!r}; it must be in (0, 1)")
    delta = _as_float(r2_difference)
    if delta is None or not 0 < delta < 1:
        notes.setdefault("optimism", f"r2_difference is {r2_difference!r}; it must be in (0, 1)")
    margin = _as_float(margin_of_error)
    if margin is None or not 0 < margin < 1:
        notes.setdefault("overall_risk",
                         f"margin_of_error is {margin_of_error!r}; it must be in (0, 1)")

    maximum = max_cox_snell_r2(phi) if prevalence_ok else None
    r2 = _as_float(r2_cox_snell)
    nagelkerke = r2 / maximum if (maximum and r2 is not None) else None

    n_by: dict[str, int] = {}
    s_by: dict[str, float] = {}
    too_small = ("anticipated Cox–Snell R² is so close to 0 that the required n is not a finite "
                 "number")
    if n_params == 0 and prevalence_ok:
        # An intercept-only model has no predictor effects to overfit.
        for key in ("shrinkage", "optimism"):
            if key not in notes:
                n_by[key] = 0
    elif n_params and prevalence_ok:
        if "shrinkage" not in notes:
            problem = _r2_problem(r2, r2_cox_snell, maximum, target)
            if problem:
                notes["shrinkage"] = problem
            else:
                s_by["shrinkage"] = target
                n_by["shrinkage"] = _n_for_shrinkage(n_params, r2, target)
        if "optimism" not in notes:
            problem = _r2_problem(r2, r2_cox_snell, maximum, 1.0)
            if problem:
                notes["optimism"] = problem
            else:
                # Corrected eq. 13 of Part II (Stat Med 2019;38:5672): S = R²cs / (R²cs + δ max).
                s_opt = r2 / (r2 + delta * maximum)
                s_by["optimism"] = s_opt
                n_by["optimism"] = _n_for_shrinkage(n_params, r2, s_opt)
        for key in ("shrinkage", "optimism"):
            if key in s_by and n_by[key] is None:
                del n_by[key]
                notes[key] = too_small
    if "overall_risk" not in notes:
        n_by["overall_risk"] = math.ceil((Z_95 / margin) ** 2 * phi * (1 - phi))

    def events_epp(n: int | None) -> tuple[float | None, float | None]:
        if n is None:
            return None, None
        events = n * phi
        return events, (events / n_params if n_params else None)

    criteria = tuple(
        Criterion(key, _DESCRIPTIONS[key], n_by.get(key), s_by.get(key),
                  *events_epp(n_by.get(key)), reason=notes.get(key))
        for key in CRITERIA)

    if all(c.n is not None for c in criteria):
        final = max(criteria, key=lambda c: c.n)  # first of equals, in criterion order
        n, binding, reason = final.n, final.key, None
    else:
        n = binding = None
        # One sentence per distinct reason, naming the criteria it stops.
        by_reason: dict[str, list[str]] = {}
        for c in criteria:
            if c.n is None:
                by_reason.setdefault(c.reason, []).append(c.key)
        reason = "; ".join(f"{' and '.join(keys)}: {text}" for text, keys in by_reason.items())
    events, epp = events_epp(n)
    return SampleSize(
        parameters=n_params, prevalence=phi, r2_cox_snell=r2, max_r2_cox_snell=maximum,
        r2_nagelkerke=nagelkerke, shrinkage_target=target, r2_difference=r2_difference,
        margin_of_error=margin_of_error, criteria=criteria, n=n, binding=binding, events=events,
        # round() drops float fuzz (n·φ a hair above a whole number) before rounding up
        events_required=None if events is None else math.ceil(round(events, 9)),
        epp=epp, reason=reason)


# ── does an actual cohort reach it? ──────────────────────────────────────────


@dataclass(frozen=True)
class Assessment:
    """An actual development cohort against the minimum.

    adequate: True when it has at least the required patients and events; None when the minimum
    cannot be computed (``requirement.reason`` says why). epp_achieved = actual events / P.
    """

    actual_n: int
    actual_events: int
    epp_achieved: float | None
    requirement: SampleSize
    meets_n: bool | None
    meets_events: bool | None
    adequate: bool | None
    shortfall_n: int | None  # patients missing (0 when adequate)
    shortfall_events: int | None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["requirement"] = self.requirement.to_dict()
        return out


def assess(actual_n: int, actual_events: int, parameters: float, r2_cox_snell: float | None, *,
           prevalence: float | None = None, shrinkage: float = SHRINKAGE_TARGET,
           r2_difference: float = R2_DIFFERENCE,
           margin_of_error: float = MARGIN_OF_ERROR) -> Assessment:
    """Whether a cohort of actual_n patients with actual_events responders reaches the minimum.

    The minimum is computed at the cohort's own proportion actual_events / actual_n unless a
    prevalence is given (e.g. the anticipated one from the protocol). Both patients and events must
    reach it: the required events are the required n times the prevalence, rounded up.
    """
    if prevalence is None:
        prevalence = actual_events / actual_n if actual_n > 0 else None
    requirement = minimum_sample_size(parameters, prevalence, r2_cox_snell, shrinkage=shrinkage,
                                      r2_difference=r2_difference,
                                      margin_of_error=margin_of_error)
    epp = actual_events / requirement.parameters if requirement.parameters else None
    if not requirement.computable:
        return Assessment(actual_n, actual_events, epp, requirement, None, None, None, None, None)
    meets_n = actual_n >= requirement.n
    meets_events = actual_events >= requirement.events_required
    return Assessment(actual_n, actual_events, epp, requirement, meets_n, meets_events,
                      meets_n and meets_events, max(0, requirement.n - actual_n),
                      max(0, requirement.events_required - actual_events))
