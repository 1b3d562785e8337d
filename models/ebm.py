"""Explainable Boosting Machines as plain numbers: export, checks, predictions, contributions.

A fitted EBM (InterpretML, `models/factory.py`) is a sum of look-up tables: an intercept plus,
per term, a score for the bin the patient falls in, on the log-odds scale. Main terms bin one
feature; pair terms bin two, on their own coarser bins. `EBMTables` holds exactly that and
nothing else:

  intercept   a float
  features    per feature, in training order: name, type ("continuous" or "nominal") and one
              list of bins per resolution (the first for main terms, the second, when there is
              one, for pairs). Continuous bins are cut points: bin 0 is "missing", value x falls
              in bin 1 + (number of cuts <= x), and the last bin is interpret's "unknown"
              (values it cannot read; never reached from the model frame). Nominal bins map
              each category to a bin 1..k: bin 0 is missing, k + 1 an unknown category (one no
              patient of the fit had), whose score is 0.
  terms       per term: its feature(s), the score table and the table of training weights
              (patients per cell), both of shape (bins of feature 1[, bins of feature 2]).

`ResponseModel` stores it as JSON (ebm.json) and evaluates it here, vectorised, with NumPy only:
loading an EBM imports no interpret code and unpickles nothing. The evaluation is the same as
interpret's (`eval_terms`, `decision_function`): tested to 1e-9, on training data and on new
patients with missing values and unknown categories (tests/model/test_ebm.py); on the demo and
in the tests the two agree bit for bit.

Contributions (`contributions`) are exact interventional Shapley values of the model's log-odds
with the patients it was fitted on (the development cohort) as background, computed per term:

* a main term h(x_j) gives feature j  h(x_j) - E[h];
* a pair term g(x_j, x_k) gives feature j  (g - E[g] + E_k[g](x_j) - E_j[g](x_k)) / 2 and
  feature k the rest, where E_k[g](x_j) averages g over the development cohort's values of
  x_k with x_j held at the patient's (E_j likewise), and E[g] over the cohort's pairs.

The base is the cohort's mean model log-odds, intercept + sum of E[term], which is what the
logistic model's base is too; base + contributions = the model's log-odds exactly. A pair term
whose averages over either feature are all zero (pure, "purified" with respect to the product
of the two features' distributions) is split equally between its two features. InterpretML
0.7.8 only centres its terms (E[g] = 0) and does not purify them, and on the demo its pair
terms carry much of a main effect (docs/explanations.md), so splitting them equally would give
half of one feature's effect to the other; the formula above does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

FORMAT = "txresponse-ebm"
FORMAT_VERSION = 1
TYPES = ("continuous", "nominal")


class EBMFileError(ValueError):
    """An EBM description that txresponse did not write as it is (the message says what)."""


@dataclass(frozen=True)
class Feature:
    name: str
    type: str                          # "continuous" | "nominal"
    levels: tuple                      # per resolution: np.ndarray of cuts, or dict cat -> bin

    def n_bins(self, level: int) -> int:
        bins = self.levels[level]
        if self.type == "continuous":
            return len(bins) + 3
        return max(bins.values()) + 2 if bins else 2


@dataclass(frozen=True)
class Term:
    features: tuple[int, ...]          # indexes into EBMTables.features (one or two)
    scores: np.ndarray                 # log-odds per bin (cell)
    weights: np.ndarray                # training patients per bin (cell)


@dataclass(frozen=True)
class EBMTables:
    intercept: float
    features: tuple[Feature, ...]
    terms: tuple[Term, ...]

    # --- from interpret ---------------------------------------------------------------------
    @classmethod
    def from_interpret(cls, ebm) -> EBMTables:
        """The tables of a fitted binary `ExplainableBoostingClassifier` on the logit link."""
        if getattr(ebm, "link_", None) != "logit" or list(ebm.classes_) != [0, 1]:
            raise ValueError("only binary EBM classifiers on the logit link are supported")
        features = []
        for name, kind, levels in zip(ebm.feature_names_in_, ebm.feature_types_in_, ebm.bins_):
            if kind not in TYPES:
                raise ValueError(f"feature {name!r} has EBM type {kind!r}, not one of {TYPES}")
            features.append(Feature(str(name), kind, tuple(
                np.array(level, dtype=float) if kind == "continuous" else
                {str(k): int(v) for k, v in level.items()} for level in levels)))
        terms = tuple(Term(tuple(int(i) for i in feature_idxs),
                           np.array(scores, dtype=float), np.array(weights, dtype=float))
                      for feature_idxs, scores, weights in zip(ebm.term_features_,
                                                               ebm.term_scores_,
                                                               ebm.bin_weights_))
        intercept = np.asarray(ebm.intercept_, dtype=float).reshape(-1)
        return _checked(float(intercept[0]), tuple(features), terms)

    # --- evaluation ---------------------------------------------------------------------------
    def _bins(self, frame: pd.DataFrame, feature: int, level: int, cache: dict) -> np.ndarray:
        """The bin of every patient for one feature at one resolution (interpret's rules)."""
        key = (feature, level)
        if key in cache:
            return cache[key]
        spec = self.features[feature]
        column = frame[spec.name]
        bins = spec.levels[level]
        if spec.type == "continuous":
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float,
                                                                     na_value=np.nan)
            out = np.searchsorted(bins, values, side="right") + 1
            out[np.isnan(values)] = 0
        else:
            unknown = spec.n_bins(level) - 1
            if isinstance(column.dtype, pd.CategoricalDtype):
                categories = column.cat.categories
                lookup = np.array([bins.get(str(c), unknown) for c in categories] + [0],
                                  dtype=np.intp)
                out = lookup[column.cat.codes.to_numpy()]   # code -1 (missing) -> last: 0
            else:
                values = column.to_numpy(dtype=object)
                out = np.array([0 if v is None or (isinstance(v, float) and math.isnan(v))
                                or v is pd.NA else bins.get(str(v), unknown) for v in values],
                               dtype=np.intp)
        cache[key] = out
        return out

    def _cells(self, frame: pd.DataFrame) -> list[tuple[np.ndarray, ...]]:
        cache: dict = {}
        cells = []
        for term in self.terms:
            order = len(term.features)
            cells.append(tuple(
                self._bins(frame, f, min(len(self.features[f].levels), order) - 1, cache)
                for f in term.features))
        return cells

    def term_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """(patients, terms): each term's log-odds score, as interpret's `eval_terms`."""
        out = np.empty((len(frame), len(self.terms)))
        for t, (term, cell) in enumerate(zip(self.terms, self._cells(frame))):
            out[:, t] = term.scores[cell]
        return out

    def decision_function(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's log-odds: intercept + the sum of term scores, added in interpret's
        order."""
        out = np.full(len(frame), self.intercept)
        for term, cell in zip(self.terms, self._cells(frame)):
            out += term.scores[cell]
        return out

    def contributions(self, frame: pd.DataFrame) -> tuple[float, np.ndarray]:
        """(base, (patients, features)): exact interventional Shapley values on the log-odds
        scale with the fitting cohort as background (module docstring)."""
        out = np.zeros((len(frame), len(self.features)))
        base = self.intercept
        for term, cell in zip(self.terms, self._cells(frame)):
            total = term.weights.sum()
            mean = float((term.weights * term.scores).sum() / total)
            base += mean
            value = term.scores[cell]
            if len(term.features) == 1:
                out[:, term.features[0]] += value - mean
                continue
            j, k = term.features
            # Averages over the cohort's values of the other feature (its marginal): by rows of
            # the table, over k, and by columns, over j.
            over_k = term.scores @ (term.weights.sum(axis=0) / total)
            over_j = (term.weights.sum(axis=1) / total) @ term.scores
            swing = over_k[cell[0]] - over_j[cell[1]]
            out[:, j] += (value - mean + swing) / 2
            out[:, k] += (value - mean - swing) / 2
        return float(base), out

    # --- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        def level_data(feature: Feature, bins):
            return [float(c) for c in bins] if feature.type == "continuous" else dict(bins)
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "link": "logit",
            "intercept": self.intercept,
            "features": [{"name": f.name, "type": f.type,
                          "bins": [level_data(f, level) for level in f.levels]}
                         for f in self.features],
            "terms": [{"features": [self.features[i].name for i in term.features],
                       "scores": term.scores.tolist(), "weights": term.weights.tolist()}
                      for term in self.terms],
        }

    @classmethod
    def from_dict(cls, data, order: list[str], categorical: dict[str, list[str]]) -> EBMTables:
        """The tables described by `data` (parsed JSON), for a model whose features are `order`
        with `categorical` ones; `EBMFileError` saying what is wrong otherwise. Every value is
        checked: a file that passes can be evaluated without an index or shape error."""
        if not isinstance(data, dict) or set(data) != {"format", "format_version", "link",
                                                       "intercept", "features", "terms"}:
            raise EBMFileError("it is not a txresponse EBM description")
        if data["format"] != FORMAT or _integer(data["format_version"]) != FORMAT_VERSION:
            raise EBMFileError(f"it is not a {FORMAT} file of version {FORMAT_VERSION}")
        if data["link"] != "logit":
            raise EBMFileError("its link is not logit")
        features_data = data["features"]
        if not isinstance(features_data, list) or len(features_data) != len(order):
            raise EBMFileError(f"its features do not match model.json's {len(order)}")
        features = []
        for name, item in zip(order, features_data):
            features.append(_feature(item, name, categorical.get(name)))
        index = {f.name: i for i, f in enumerate(features)}
        if not isinstance(data["terms"], list):
            raise EBMFileError("its terms are not a list")
        terms = []
        for item in data["terms"]:
            if not isinstance(item, dict) or set(item) != {"features", "scores", "weights"}:
                raise EBMFileError("a term is not well formed")
            names = item["features"]
            if not isinstance(names, list) or not 1 <= len(names) <= 2 or \
                    not all(isinstance(n, str) and n in index for n in names) or \
                    len(set(names)) != len(names):
                raise EBMFileError("a term names features that are not the model's")
            idxs = tuple(index[n] for n in names)
            shape = tuple(features[i].n_bins(min(len(features[i].levels), len(idxs)) - 1)
                          for i in idxs)
            scores = _table(item["scores"], shape)
            weights = _table(item["weights"], shape)
            if (weights < 0).any() or not weights.sum() > 0:
                raise EBMFileError("a term's weights are not patient counts")
            terms.append(Term(idxs, scores, weights))
        return _checked(_number(data["intercept"]), tuple(features), tuple(terms))


def _checked(intercept: float, features: tuple[Feature, ...], terms: tuple[Term, ...]
             ) -> EBMTables:
    if not math.isfinite(intercept):
        raise EBMFileError("its intercept is not a finite number")
    return EBMTables(intercept, features, terms)


def _integer(value) -> int | None:
    return value if type(value) is int else None


def _number(value) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise EBMFileError("a number in it is not a finite number")
    return float(value)


def _table(value, shape: tuple[int, ...]) -> np.ndarray:
    """A nested list of finite numbers of exactly `shape`, as float64."""
    try:
        array = np.array(value, dtype=object)
    except (ValueError, TypeError):
        raise EBMFileError("a term's table is not well formed") from None
    if array.shape != shape:
        raise EBMFileError("a term's table does not match its features' bins")
    if not all(type(v) in (int, float) for v in array.flat):
        raise EBMFileError("a term's table holds something other than numbers")
    out = array.astype(float)
    if not np.isfinite(out).all():
        raise EBMFileError("a term's table holds a number that is not finite")
    return out


def _feature(item, name: str, categories: list[str] | None) -> Feature:
    """One feature's description, checked against the layout's name, kind and categories."""
    if not isinstance(item, dict) or set(item) != {"name", "type", "bins"}:
        raise EBMFileError("a feature is not well formed")
    if item["name"] != name:
        raise EBMFileError("its features do not match model.json's")
    kind = "nominal" if categories is not None else "continuous"
    if item["type"] != kind:
        raise EBMFileError("a feature's type does not match model.json's")
    levels_data = item["bins"]
    if not isinstance(levels_data, list) or not 1 <= len(levels_data) <= 2:
        raise EBMFileError("a feature's bins are not well formed")
    levels = []
    for bins in levels_data:
        if kind == "continuous":
            if not isinstance(bins, list):
                raise EBMFileError("a feature's cut points are not a list")
            cuts = np.array([_number(c) for c in bins], dtype=float)
            if (np.diff(cuts) <= 0).any():
                raise EBMFileError("a feature's cut points are not increasing")
            levels.append(cuts)
        else:
            if not isinstance(bins, dict) or not set(bins) <= set(categories):
                raise EBMFileError("a feature's categories are not model.json's")
            values = [_integer(v) for v in bins.values()]
            if any(v is None or not 1 <= v <= len(bins) for v in values):
                raise EBMFileError("a feature's category bins are not well formed")
            levels.append(dict(bins))
    return Feature(name, kind, tuple(levels))
