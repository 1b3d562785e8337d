"""Harrell's bootstrap optimism correction of the evaluation figures (``split.strategy:
bootstrap``; Harrell, Lee & Mark 1996, Stat Med 15:361; Steyerberg, Clinical Prediction Models,
ch. 5).

The final model is developed on all labelled patients, and its "apparent" performance on those
same patients is optimistic. For each of B resamples of the patients, drawn with replacement,
the whole development procedure is run again on the resample; the optimism of a figure is

    optimism_b = figure(resample's model on its own resample)
                 − figure(resample's model on the original patients)

and the corrected figure is the apparent figure minus the mean optimism over resamples. The
sign takes care of itself: a measure where lower is better (Brier, ICI) has a negative optimism
and moves up.

Pure computation: the caller refits the procedure and passes each refit's predictions as a
``BootstrapFit``; ``point_figures`` computes, with the project's own metric functions, every
point figure that ``models.evaluation.evaluate_predictions`` reports, and
``optimism_corrected`` turns an apparent evaluation result into a corrected one.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.calibration_metrics import calibration_intercept_slope, ece, ici
from models.decision import RATES, decision_curve, threshold_metrics
from models.scores import as_arrays, auroc, average_precision, brier, log_loss, scaled_brier
from models.subgroups import (INTERVAL_COLUMNS, METRIC_COLUMNS, PoorSubgroupRule, judge,
                              subgroup_metrics)

CANDIDATE = "candidate_calibrated"
# The headline point figures corrected (n_test and prevalence describe the patients, not the
# model, and stay as they are).
HEADLINE_MEASURES = ("auroc", "auprc", "brier", "scaled_brier", "log_loss",
                     "calibration_intercept", "calibration_slope", "ici", "e50", "e90", "emax",
                     "ece")
# Rounding of headline figures, as models.metrics.headline_metrics.
DIGITS = 4

_UNIT = (0.0, 1.0)
# Range of each measure; a corrected value (and its interval) is clipped into it. Measures
# absent here (calibration intercept and slope) are unbounded. Net benefit's ceiling is the
# prevalence and is applied per table row.
BOUNDS: dict[str, tuple[float, float]] = {
    "auroc": _UNIT, "auprc": _UNIT, "brier": _UNIT, "scaled_brier": (-math.inf, 1.0),
    "log_loss": (0.0, math.inf), "ici": _UNIT, "e50": _UNIT, "e90": _UNIT, "emax": _UNIT,
    "ece": _UNIT, **dict.fromkeys(RATES, _UNIT),
}

METHOD = ("Harrell's bootstrap optimism correction: the whole model development procedure was "
          "repeated on each of {b} resamples of the {n} development patients drawn with "
          "replacement; a figure's optimism in one resample is its value for that resample's "
          "model on the resample itself minus its value for the same model on the original "
          "patients, and each corrected figure is the apparent figure (the final model on all "
          "patients) minus the mean optimism, clipped to the measure's range.")
INTERVALS = ("Each interval is the apparent percentile bootstrap interval shifted by the same "
             "mean optimism as its figure (then clipped to the measure's range); its width is "
             "that of the apparent interval, it does not include the uncertainty of the "
             "optimism estimate, and its coverage has not been measured.")
NOT_CORRECTED = ("Counts (n, events, true and false positives and negatives, predicted "
                 "positives), prevalence, n_test, the net benefit of treating all, the curves, "
                 "and the per-patient predictions are those of the final model on all patients "
                 "(apparent); a corrected sensitivity or PPV therefore does not equal the ratio "
                 "of the counts beside it.")


@dataclass
class BootstrapFit:
    """One resample's run of the whole development procedure."""

    sample: np.ndarray                  # indices into the original patients (0..n-1), with replacement
    on_sample: dict[str, np.ndarray]    # role -> its predictions for the drawn rows, in `sample` order
    on_original: dict[str, np.ndarray]  # role -> its predictions for all n original patients


# -- point figures ------------------------------------------------------------------------------

def threshold_key(measure: str, threshold: float) -> str:
    """Key of a per-threshold figure in ``point_figures``: "sensitivity@0.3"."""
    return f"{measure}@{float(threshold)!r}"


def subgroup_key(group: str, level: str, measure: str) -> str:
    """Key of a subgroup figure in ``point_figures``: "subgroup:sex=female:auroc"."""
    return f"subgroup:{group}={level}:{measure}"


def _net_benefit_thresholds(thresholds) -> list[float]:
    """The thresholds evaluate_predictions reports net benefit at (strictly inside (0, 1))."""
    return [float(t) for t in np.atleast_1d(np.asarray(thresholds, dtype=float)) if 0 < t < 1]


def headline_points(y, p) -> dict[str, float]:
    """The headline measures of ``headline_metrics`` as unrounded points, no intervals."""
    y, p = as_arrays(y, p)
    return {
        "auroc": float(auroc(y, p)),
        "auprc": float(average_precision(y, p)),
        "brier": float(brier(y, p)),
        "scaled_brier": float(scaled_brier(y, p)),
        "log_loss": float(log_loss(y, p)),
        **calibration_intercept_slope(y, p),
        **ici(y, p).as_dict(),
        "ece": ece(y, p, n_bins=10),
    }


def point_figures(y, p, groups: Mapping[str, pd.Series], thresholds, *, min_n: int,
                  min_events: int) -> dict[str, float]:
    """Every point figure the evaluation reports for one prediction vector, flat and unrounded.

    Keys: the headline measures (``HEADLINE_MEASURES``), sensitivity, specificity, PPV and NPV
    at each threshold (``threshold_key``), net benefit at each threshold strictly inside (0, 1)
    (``threshold_key("net_benefit", t)``), and AUROC, Brier, calibration intercept and slope and
    ICI of each subgroup level with at least ``min_n`` patients and ``min_events`` responders
    and non-responders in these patients (``subgroup_key``; smaller levels have no keys). The
    values are those ``evaluate_predictions`` reports for the same y and p (its headline rounds
    them to 4 decimals); undefined ones are NaN. ``groups`` values are aligned by position.
    No intervals: this runs twice per resample.
    """
    y, p = as_arrays(y, p)
    out = headline_points(y, p)
    table = threshold_metrics(y, p, thresholds)
    for row in table.to_dict(orient="records"):
        out |= {threshold_key(q, row["threshold"]): float(row[q]) for q in RATES}
    nb_thresholds = _net_benefit_thresholds(thresholds)
    if nb_thresholds:
        curve = decision_curve(y, p, nb_thresholds)
        out |= {threshold_key("net_benefit", t): float(v)
                for t, v in zip(curve["threshold"], curve["net_benefit"])}
    if groups:
        subgroups = subgroup_metrics(None, y, p, dict(groups), min_n=min_n,
                                     min_events=min_events)
        for row in subgroups[subgroups["status"] == "ok"].to_dict(orient="records"):
            out |= {subgroup_key(row["group"], row["level"], m): float(row[m])
                    for m in METRIC_COLUMNS}
    return out


# -- the optimism ------------------------------------------------------------------------------

def _finite(value) -> bool:
    return value is not None and isinstance(value, int | float | np.number) \
        and math.isfinite(float(value))


class _Optimism:
    """Mean optimism per figure of one role, and how to apply it to an apparent figure."""

    def __init__(self, pairs: list[tuple[dict[str, float], dict[str, float]]]):
        self.resamples = len(pairs)
        keys = list(dict.fromkeys(k for on_sample, on_original in pairs
                                  for k in (*on_original, *on_sample)))
        self.mean: dict[str, float | None] = {}
        self.used: dict[str, int] = {}
        for key in keys:
            diffs = np.array([on_sample.get(key, np.nan) - on_original.get(key, np.nan)
                              for on_sample, on_original in pairs], dtype=float)
            finite = diffs[np.isfinite(diffs)]
            self.used[key] = int(len(finite))
            self.mean[key] = float(finite.mean()) if len(finite) else None
        self.reasons: dict[str, str] = {}

    def usable(self, key: str) -> bool:
        """At least half the resamples gave the figure (on the resample and on the original)."""
        return 2 * self.used.get(key, 0) >= self.resamples

    def correct(self, key: str, apparent, bounds=None) -> float | None:
        """apparent − mean optimism, clipped; None (with a reason) when too few resamples gave
        the figure; an undefined apparent figure stays as it was."""
        if not _finite(apparent):
            return apparent
        if not self.usable(key):
            self.reasons[key] = (f"not corrected: only {self.used.get(key, 0)} of "
                                 f"{self.resamples} resamples gave a value (at least half are "
                                 "needed)")
            return None
        return _clip(float(apparent) - self.mean[key], bounds)

    def shift(self, key: str, interval, bounds=None) -> list | None:
        """The apparent interval moved by the same mean optimism (clipped); None where the
        figure could not be corrected."""
        if interval is None or not self.usable(key):
            return None
        return [None if not _finite(end) else _clip(float(end) - self.mean[key], bounds)
                for end in interval]


def _clip(value: float, bounds) -> float:
    if bounds is None:
        return value
    return float(min(max(value, bounds[0]), bounds[1]))


def _round(value, digits: int = DIGITS):
    return None if not _finite(value) else round(float(value), digits)


def _check(y: np.ndarray, result: dict, groups: Mapping[str, pd.Series],
           fits: list[BootstrapFit], thresholds) -> list[str]:
    """Validate the inputs; the roles to correct, the candidate first."""
    n = len(y)
    asked = np.atleast_1d(np.asarray(thresholds, dtype=float)).tolist()
    if result["thresholds"]["threshold"].astype(float).tolist() != asked:
        raise ValueError(f"thresholds {asked} are not those of the apparent result "
                         f"{result['thresholds']['threshold'].tolist()}")
    if not fits:
        raise ValueError("optimism correction needs at least one bootstrap fit")
    roles = list(fits[0].on_original)
    if CANDIDATE not in roles:
        raise ValueError(f"the bootstrap fits have no {CANDIDATE!r} predictions")
    unknown = [r for r in roles if r not in result["headline"]]
    if unknown:
        raise ValueError(f"roles {unknown} are in the bootstrap fits but not in the result")
    labels = result.get("predictions")
    if isinstance(labels, pd.DataFrame) and "label" in labels and (
            len(labels) != n or not np.array_equal(labels["label"].to_numpy(), y)):
        raise ValueError("y is not the outcome the apparent result was computed on")
    for name, values in groups.items():
        if len(values) != n:
            raise ValueError(f"subgroup {name!r} has {len(values)} values for {n} patients")
    for b, fit in enumerate(fits):
        sample = np.asarray(fit.sample)
        if sample.ndim != 1 or not np.issubdtype(sample.dtype, np.integer) or len(sample) == 0 \
                or sample.min() < 0 or sample.max() >= n:
            raise ValueError(f"fit {b}: sample must be indices 0..{n - 1}")
        if set(fit.on_sample) != set(roles) or set(fit.on_original) != set(roles):
            raise ValueError(f"fit {b}: roles differ from the first fit's {roles}")
        for role in roles:
            if len(fit.on_sample[role]) != len(sample):
                raise ValueError(f"fit {b}: {role} on_sample has {len(fit.on_sample[role])} "
                                 f"predictions for {len(sample)} drawn rows")
            if len(fit.on_original[role]) != n:
                raise ValueError(f"fit {b}: {role} on_original has "
                                 f"{len(fit.on_original[role])} predictions for {n} patients")
    return [CANDIDATE, *(r for r in roles if r != CANDIDATE)]


def _rule(rule: PoorSubgroupRule | None, result: dict) -> PoorSubgroupRule | None:
    """The given rule, else the one the apparent judgement used (from the result)."""
    if rule is not None or not result.get("poor_subgroup_rule"):
        return rule
    stored = result["poor_subgroup_rule"]
    return PoorSubgroupRule(stored["min_auroc"], tuple(stored["calibration_slope"]),
                            stored["max_abs_calibration_intercept"])


def _headline(headline: dict, optimism: _Optimism) -> dict:
    out = copy.deepcopy(headline)
    for key in HEADLINE_MEASURES:
        if key not in out:
            continue
        bounds = BOUNDS.get(key)
        out[key] = _round(optimism.correct(key, headline[key], bounds))
        if f"{key}_ci" in out:
            shifted = optimism.shift(key, headline[f"{key}_ci"], bounds)
            out[f"{key}_ci"] = None if shifted is None or out[key] is None \
                else [_round(end) for end in shifted]
    return out


def _thresholds(table: pd.DataFrame, optimism: _Optimism) -> pd.DataFrame:
    out = table.copy()
    for i, row in table.iterrows():
        for q in RATES:
            key = threshold_key(q, row["threshold"])
            value = optimism.correct(key, row[q], BOUNDS[q])
            out.at[i, q] = np.nan if value is None else value
            if f"{q}_ci" in out:
                out.at[i, f"{q}_ci"] = None if value is None or not _finite(value) \
                    else optimism.shift(key, row[f"{q}_ci"], BOUNDS[q])
    return out


def _net_benefit(table: pd.DataFrame, optimism: _Optimism, prevalence: float) -> pd.DataFrame:
    """Net benefit corrected; the gain over treating all is corrected net benefit minus the
    (apparent) net benefit of treating all, which is no model's figure."""
    out = table.copy()
    for i, row in table.iterrows():
        key = threshold_key("net_benefit", row["threshold"])
        bounds = (-math.inf, prevalence)
        gain_bounds = (-math.inf, prevalence - row["net_benefit_treat_all"])
        value = optimism.correct(key, row["net_benefit"], bounds)
        ok = value is not None and _finite(value)
        out.at[i, "net_benefit"] = value if ok else np.nan
        out.at[i, "net_benefit_vs_treat_all"] = value - row["net_benefit_treat_all"] if ok \
            else np.nan
        if "net_benefit_ci" in out:
            out.at[i, "net_benefit_ci"] = optimism.shift(key, row["net_benefit_ci"], bounds) \
                if ok else None
        if "net_benefit_vs_treat_all_ci" in out:
            out.at[i, "net_benefit_vs_treat_all_ci"] = optimism.shift(
                key, row["net_benefit_vs_treat_all_ci"], gain_bounds) if ok else None
    return out


def _subgroups(table: pd.DataFrame, optimism: _Optimism,
               rule: PoorSubgroupRule | None) -> pd.DataFrame:
    out = table.copy()
    notes, poor = [], []
    for i, row in table.iterrows():
        if row["status"] != "ok":
            notes.append(None)
            poor.append([])
            continue
        corrected, reasons = {}, []
        for m in METRIC_COLUMNS:
            key = subgroup_key(row["group"], row["level"], m)
            value = optimism.correct(key, row[m], BOUNDS.get(m))
            corrected[m] = value
            out.at[i, m] = np.nan if value is None else value
            if key in optimism.reasons:
                reasons.append(f"{m} {optimism.reasons[key]}")
            if m in INTERVAL_COLUMNS and f"{m}_ci" in out:
                out.at[i, f"{m}_ci"] = None if value is None or not _finite(value) \
                    else optimism.shift(key, row[f"{m}_ci"], BOUNDS.get(m))
        poor.append(judge(corrected, rule) if rule is not None else [])
        notes.append("; ".join(reasons) or None)
    if rule is not None:
        out["poor"] = poor
    out["optimism_note"] = pd.Series(notes, index=out.index, dtype=object)  # None, not NaN
    return out


def optimism_corrected(result: dict, y: np.ndarray, groups: Mapping[str, pd.Series],
                       fits: list[BootstrapFit], *, thresholds, min_n: int, min_events: int,
                       rule: PoorSubgroupRule | None = None) -> dict:
    """A copy of ``result`` (``evaluate_predictions`` on the apparent predictions: the final
    model on all n development patients) with the figures corrected for optimism.

    ``y`` and ``groups`` are the development patients' outcome and subgroup variables, aligned
    by position with the apparent predictions; each ``BootstrapFit`` is one resample's run of
    the whole development procedure; ``thresholds``, ``min_n`` and ``min_events`` are those the
    apparent result was computed with.

    Corrected: for every role in the fits, the headline measures (``HEADLINE_MEASURES``); for
    the calibrated candidate also sensitivity, specificity, PPV and NPV per threshold, net
    benefit per threshold (and so the gain over treating all, whose treat-all part is no model's
    figure and stays apparent), and each judged subgroup's AUROC, Brier, calibration intercept,
    slope and ICI, with the poor-subgroup judgement made again on the corrected values with
    ``rule`` (default: the rule stored in ``result``). A subgroup's figure in one resample
    exists only when the subgroup has ``min_n`` patients and ``min_events`` responders and
    non-responders among the drawn rows; a figure that fewer than half the resamples give is
    not corrected: it becomes None (NaN in tables) and the reason is in
    ``result["optimism"]["uncorrected"]`` (and the subgroup table's ``optimism_note``).
    Corrected values of bounded measures (AUROC, Brier, ICI, sensitivity, ...) are clipped to
    their range; headline values are rounded to 4 decimals, as the apparent ones.

    Intervals: each is the apparent percentile bootstrap interval shifted by the same mean
    optimism as its figure (clipped to the range). Its coverage has not been measured; it does
    not include the uncertainty of the optimism estimate.

    Added: ``result["apparent"]`` (the candidate's apparent headline) and
    ``result["optimism"]``: method, resamples, intervals, not_corrected (plain sentences), roles,
    figures (role -> key -> mean optimism, None if no resample gave one), resamples_used
    (role -> key -> resamples with a finite optimism) and uncorrected (role -> key -> reason).
    Counts, prevalence, treat-all net benefit, curves and predictions stay apparent.
    """
    y = np.asarray(y)
    as_arrays(y, np.zeros(len(y)))  # y must be 0/1
    groups = {name: values.reset_index(drop=True) for name, values in groups.items()}
    roles = _check(y, result, groups, fits, thresholds)
    rule = _rule(rule, result)

    optimism: dict[str, _Optimism] = {}
    for role in roles:
        pairs = []
        for fit in fits:
            sample = np.asarray(fit.sample)
            if role == CANDIDATE:
                drawn = {name: values.iloc[sample] for name, values in groups.items()}
                pairs.append((
                    point_figures(y[sample], fit.on_sample[role], drawn, thresholds,
                                  min_n=min_n, min_events=min_events),
                    point_figures(y, fit.on_original[role], groups, thresholds,
                                  min_n=min_n, min_events=min_events)))
            else:
                pairs.append((headline_points(y[sample], fit.on_sample[role]),
                              headline_points(y, fit.on_original[role])))
        optimism[role] = _Optimism(pairs)

    out = dict(result)
    out["apparent"] = copy.deepcopy(result["headline"][CANDIDATE])
    out["headline"] = {role: _headline(figures, optimism[role]) if role in optimism
                       else copy.deepcopy(figures)
                       for role, figures in result["headline"].items()}
    main = optimism[CANDIDATE]
    out["thresholds"] = _thresholds(result["thresholds"], main)
    out["net_benefit"] = _net_benefit(result["net_benefit"], main, float(np.mean(y)))
    out["subgroups"] = _subgroups(result["subgroups"], main, rule)
    if rule is not None:
        out["poor_subgroup_rule"] = rule.as_dict() | {"description": rule.describe()}
    out["optimism"] = {
        "method": METHOD.format(b=len(fits), n=len(y)),
        "resamples": len(fits),
        "intervals": INTERVALS,
        "not_corrected": NOT_CORRECTED + (
            "" if set(result["headline"]) <= set(roles) else
            " Roles without bootstrap fits keep their apparent figures: "
            + ", ".join(r for r in result["headline"] if r not in roles) + "."),
        "roles": roles,
        "figures": {role: dict(o.mean) for role, o in optimism.items()},
        "resamples_used": {role: dict(o.used) for role, o in optimism.items()},
        "uncorrected": {role: dict(o.reasons) for role, o in optimism.items()},
    }
    return out
