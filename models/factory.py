"""Small factories returning unfitted, scikit-learn compatible response classifiers.

All take the model frame from `FeatureLayout.frame` (float64 with NaN; pandas categoricals).
"""
from __future__ import annotations

import warnings

import lightgbm as lgb
import pandas as pd
from interpret.glassbox import ExplainableBoostingClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

from models.layout import FeatureLayout

CLASSIFIERS = ("lightgbm", "logistic", "ebm")

# Search spaces, recorded with every run. Modest by design: cohorts are small and most of the
# signal is additive.
SEARCH_SPACES = {
    "lightgbm": {
        "num_leaves": [4, 8, 16, 31],
        "learning_rate": [0.02, 0.05, 0.1],
        "n_estimators": [100, 200, 400],
        "min_child_samples": [20, 40, 80],
        "reg_lambda": [0.0, 1.0, 5.0, 20.0],
        "colsample_bytree": [0.6, 0.8, 1.0],
        "subsample": [0.7, 0.85, 1.0],
    },
    "logistic": {
        "C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        "n_knots": [3, 4, 5],
    },
    # One candidate: the EBM's fits are the costliest of a development (docs/training.md, "EBM
    # settings and their cost"), and 10 pairs never beat 5 on the demo. [5, 10] is a sound
    # space for larger cohorts; it adds about 4 s of CPU to every development on the demo.
    "ebm": {
        "interactions": [5],
    },
}
# Logistic hyperparameters that shape the design matrix (the rest belong to the regression):
# the search builds each fold's design once per setting of these and reuses it across C.
LOGISTIC_DESIGN_PARAMETERS = ("n_knots",)


def make_lightgbm(seed: int, **hyper) -> lgb.LGBMClassifier:
    # deterministic + one thread + col-wise histograms: the same data and seed give the same
    # trees on any machine.
    return lgb.LGBMClassifier(objective="binary", random_state=seed, deterministic=True,
                              force_col_wise=True, n_jobs=1, verbose=-1, subsample_freq=1,
                              **hyper)


def _continuous(n_knots: int) -> FeatureUnion:
    """Spline terms for the value (median-imputed) plus a missingness indicator."""
    splines = Pipeline([
        # keep_empty_features: a feature recorded for few patients can be missing for everyone
        # in one cross-validation fold or bootstrap sample; it then stays a (constant) column
        # instead of vanishing, so every fit has the same design columns per feature.
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("spline", SplineTransformer(n_knots=n_knots, degree=3, knots="quantile",
                                     extrapolation="linear")),
        ("scale", StandardScaler()),
    ])
    return FeatureUnion([("value", splines),
                         ("missing", MissingIndicator(features="all", error_on_new=False))])


def _binary() -> FeatureUnion:
    value = Pipeline([("impute", SimpleImputer(strategy="most_frequent",
                                               keep_empty_features=True))])
    return FeatureUnion([("value", value),
                         ("missing", MissingIndicator(features="all", error_on_new=False))])


def _categorical(categories: list[str]) -> OneHotEncoder:
    # Missing is its own level: with no reference level dropped, the penalty keeps it stable.
    return OneHotEncoder(categories=[categories], handle_unknown="ignore", sparse_output=False)


def make_logistic(layout: FeatureLayout, seed: int, C: float = 0.1,
                  n_knots: int = 4) -> Pipeline:
    """Penalised logistic regression with one transformer per feature, so every output column
    belongs to exactly one feature (exact linear SHAP sums a feature's terms)."""
    parts = []
    for name in layout.order:
        if name in layout.categorical:
            parts.append((name, _categorical(layout.categorical[name]), [name]))
        elif name in layout.binary:
            parts.append((name, _binary(), [name]))
        else:
            parts.append((name, _continuous(n_knots), [name]))
    design = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True)
    return Pipeline([
        ("design", design),
        ("classifier", LogisticRegression(C=C, l1_ratio=0, solver="lbfgs", max_iter=5000,
                                          random_state=seed)),
    ])


# Fixed EBM settings, chosen for cost (docs/training.md, "EBM settings and their cost"): 4 outer
# bags instead of interpret's 14, a faster learning rate with earlier stopping, and coarser bins
# for pairs. On the demo one fit takes well under 1 s of CPU instead of interpret's defaults'
# 47 s, with a better cross-validated log loss. `max_rounds` only bounds the cost on large
# cohorts: early stopping ends the demo's fits after about 100 rounds.
EBM_SETTINGS = {
    "outer_bags": 4,
    "learning_rate": 0.05,
    "early_stopping_rounds": 25,
    "max_interaction_bins": 32,
    "max_rounds": 1000,
}


class ResponseEBM(ExplainableBoostingClassifier):
    """InterpretML's Explainable Boosting Machine, fitted on the model frame.

    Two differences from the parent, both in `fit`. Interpret's warnings that its graphs do not
    draw missing values (they have a bin of their own, which our explanations show) and that a
    feature is missing for every patient of a fit are silenced. And categories that no patient
    of this fit has are dropped before binning: interpret would otherwise give such a category
    (in the layout, absent from a cross-validation fold or bootstrap sample) a bin without
    patients, scored by whatever boosting left there; dropped, it falls in the
    unknown-category bin when predicting, which scores 0 (no contribution).
    """

    def fit(self, X, y, sample_weight=None, bags=None, init_score=None):
        if isinstance(X, pd.DataFrame):
            X = X.assign(**{name: X[name].cat.remove_unused_categories()
                            for name in X.columns
                            if isinstance(X[name].dtype, pd.CategoricalDtype)})
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Missing values detected",
                                    category=UserWarning)
            # A feature no patient of this fit has (possible in a small fold): one empty bin.
            warnings.filterwarnings("ignore", message="All-NaN slice encountered",
                                    category=RuntimeWarning)
            return super().fit(X, y, sample_weight=sample_weight, bags=bags,
                               init_score=init_score)


def make_ebm(layout: FeatureLayout, seed: int, **hyper) -> ResponseEBM:
    """An EBM with main effects and `interactions` pairwise terms. Numeric and 0/1 features are
    binned as continuous (missing: a bin of its own), categorical ones as nominal. One process
    (`n_jobs=1`: parallelism belongs to the caller) and a fixed `random_state`: the same data
    and seed give the same model."""
    types = ["nominal" if name in layout.categorical else "continuous" for name in layout.order]
    return ResponseEBM(feature_types=types, n_jobs=1, random_state=seed,
                       **(EBM_SETTINGS | hyper))


def make_classifier(name: str, layout: FeatureLayout, seed: int, **hyper):
    if name == "lightgbm":
        return make_lightgbm(seed, **hyper)
    if name == "logistic":
        return make_logistic(layout, seed, **hyper)
    if name == "ebm":
        return make_ebm(layout, seed, **hyper)
    raise ValueError(f"unknown classifier {name!r}: use one of {CLASSIFIERS}")
