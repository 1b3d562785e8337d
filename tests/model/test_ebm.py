"""The Explainable Boosting Machine: our JSON tables evaluate exactly as interpret does, fits are
deterministic, contributions are exact interventional Shapley values that add up, saved models
round-trip, and a damaged or tampered ebm.json is refused with a message."""
from __future__ import annotations

import itertools
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from models.artifact import ResponseModel
from models.calibration import expit, fit_calibrator, logit
from models.ebm import EBMTables
from models.explain import explain, model_contributions
from models.factory import SEARCH_SPACES, make_classifier
from models.layout import FeatureLayout
from models.tuning import search
from pipeline.core.errors import UserError

SEX = ["female", "male", "other"]
ROUTE = ["im", "intranasal", "iv", "oral"]


def cohort(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric, 0/1 and categorical features with missing values, and an outcome with main
    effects and one interaction (so the EBM has pairs worth finding)."""
    rng = np.random.default_rng(seed)
    age = rng.normal(45, 12, n).round()
    madrs = rng.integers(20, 50, n).astype(float)
    crp = np.where(rng.random(n) < 0.4, np.nan, rng.lognormal(1, 0.6, n).round(2))
    prior = np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 2, n).astype(float))
    sex = rng.choice(SEX, n, p=[0.55, 0.4, 0.05]).astype(object)
    route = rng.choice(ROUTE, n).astype(object)
    route[rng.random(n) < 0.08] = None
    z = (0.04 * (madrs - 35) - 0.02 * (age - 45) + 0.5 * np.nan_to_num(prior)
         + 0.6 * (route == "iv") - 0.3 * np.nan_to_num(np.log(crp))
         + 0.05 * (madrs - 35) * (np.nan_to_num(prior) - 0.5))
    y = (rng.random(n) < expit(z)).astype(int)
    features = pd.DataFrame({"patient_id": [f"p{i:04d}" for i in range(n)], "age_years": age,
                             "baseline_madrs": madrs, "crp_mg_l": crp, "prior_ect": prior,
                             "sex": sex, "route": route})
    return features, y


@pytest.fixture(scope="module")
def data():
    features, y = cohort(500, seed=1)
    layout = FeatureLayout.fit(features, {"prior_ect": "binary", "sex": "categorical",
                                          "route": "categorical"})
    return layout, layout.frame(features), y


@pytest.fixture(scope="module")
def fitted(data):
    layout, X, y = data
    return make_classifier("ebm", layout, 7, interactions=3).fit(X, y)


@pytest.fixture(scope="module")
def new_patients(data):
    """New patients: values beyond the training range and on cut points, missing values, a
    category the model never saw (missing in the model frame) and every kind of missing."""
    layout, X, _ = data
    features, _ = cohort(200, seed=2)
    features.loc[:9, "age_years"] = [-1e9, 1e9, np.inf, -np.inf, np.nan, 18, 90, 0, 45, 45.5]
    features.loc[10:19, "route"] = "nasal spray"          # unseen: becomes missing
    features.loc[20:29, ["baseline_madrs", "crp_mg_l", "prior_ect", "sex"]] = np.nan
    return layout.frame(features)


def ebm_model(layout, X, y, estimator, calibrator="platt") -> ResponseModel:
    p = estimator.predict_proba(X)[:, 1]
    return ResponseModel(classifier="ebm", estimator=estimator,
                         calibrator=fit_calibrator(calibrator, y, p), layout=layout,
                         hyperparameters={"interactions": 3}, info={"seed": 7})


# --- the fitted model ------------------------------------------------------------------------
def test_the_ebm_has_pairs_and_bins_every_kind_of_feature(data, fitted):
    layout, _, _ = data
    pairs = [t for t in fitted.term_features_ if len(t) == 2]
    assert len(pairs) == 3
    assert list(fitted.feature_names_in_) == layout.order
    assert [fitted.feature_types_in_[layout.order.index(n)] for n in ("sex", "route")] == \
        ["nominal", "nominal"]
    assert fitted.feature_types_in_[layout.order.index("prior_ect")] == "continuous"


def test_same_data_and_seed_give_the_same_model(data, fitted, new_patients):
    layout, X, y = data
    again = clone(make_classifier("ebm", layout, 7, interactions=3)).fit(X, y)
    assert np.array_equal(again.decision_function(new_patients),
                          fitted.decision_function(new_patients))
    assert EBMTables.from_interpret(again).to_dict() == EBMTables.from_interpret(fitted).to_dict()
    other = make_classifier("ebm", layout, 8, interactions=3).fit(X, y)
    assert not np.array_equal(other.decision_function(X), fitted.decision_function(X))


def test_the_search_tries_the_ebm_space(data):
    layout, X, y = data
    X, y = X.iloc[:240], y[:240]
    result = search("ebm", layout, X, y, budget=2, cv_folds=3, seed=5)
    assert {tuple(sorted(c["hyperparameters"].items())) for c in result.candidates} == \
        {(("interactions", v),) for v in SEARCH_SPACES["ebm"]["interactions"]}
    assert 0.5 < result.cv_auroc < 1 and result.out_of_fold.shape == y.shape


# --- our evaluation equals interpret's -------------------------------------------------------
@pytest.mark.parametrize("which", ["training", "new"])
def test_tables_evaluate_exactly_as_interpret(data, fitted, new_patients, which):
    _, X, _ = data
    frame = X if which == "training" else new_patients
    tables = EBMTables.from_interpret(fitted)
    loaded = EBMTables.from_dict(json.loads(json.dumps(tables.to_dict())), data[0].order,
                                 data[0].categorical)
    for t in (tables, loaded):
        assert np.abs(t.term_scores(frame) - fitted.eval_terms(frame)).max() <= 1e-9
        assert np.abs(t.decision_function(frame) - fitted.decision_function(frame)).max() <= 1e-9


def test_a_category_absent_from_the_fit_scores_like_interprets_unknown_bin(data):
    layout, X, y = data
    keep = (X["sex"] != "other").to_numpy()
    model = make_classifier("ebm", layout, 3, interactions=2).fit(X[keep], y[keep])
    sex = layout.order.index("sex")
    assert "other" not in model.bins_[sex][0]          # dropped before binning
    frame = X[~keep]                                   # every patient is "other"
    tables = EBMTables.from_interpret(model)
    assert np.abs(tables.decision_function(frame) - model.decision_function(frame)).max() <= 1e-9
    term = model.term_names_.index("sex")
    assert np.all(model.eval_terms(frame)[:, term] == 0) and \
        np.all(tables.term_scores(frame)[:, term] == 0)
    # Categories as plain text, and a categorical type with a category the layout lacks.
    text = frame.assign(sex=frame["sex"].astype(object))
    wider = frame.assign(sex=pd.Categorical(frame["sex"].astype(object),
                                            categories=SEX + ["unrecorded"]))
    for other in (text, wider):
        assert np.abs(tables.decision_function(other) - model.decision_function(other)).max() \
            <= 1e-9


# --- explanations ----------------------------------------------------------------------------
def test_base_plus_contributions_is_the_models_log_odds(data, fitted, new_patients):
    layout, X, y = data
    model = ebm_model(layout, X, y, fitted)
    for frame in (X, new_patients):
        base, contributions = model_contributions(model, frame)
        assert contributions.shape == (len(frame), len(layout.order))
        assert np.abs(base + contributions.sum(axis=1)
                      - fitted.decision_function(frame)).max() <= 1e-9
    # The reference patient is the development cohort's mean log-odds, as for the logistic model.
    assert base == pytest.approx(fitted.decision_function(X).mean(), abs=1e-12)
    assert base == pytest.approx(float(fitted.intercept_[0]), abs=1e-12)
    # A feature in no term contributes nothing.
    used = {f for t in fitted.term_features_ for f in t}
    for f in set(range(len(layout.order))) - used:
        assert np.all(contributions[:, f] == 0)


@pytest.mark.parametrize("calibrator", ["platt", "isotonic"])
def test_calibrated_contributions_add_up_like_the_other_classifiers(data, fitted, new_patients,
                                                                    calibrator):
    layout, X, y = data
    model = ebm_model(layout, X, y, fitted, calibrator)
    e = explain(model, new_patients)
    predicted = model.predict_proba(new_patients)
    assert np.abs(e.calibrated_probability - predicted).max() < 1e-9
    if calibrator == "platt":
        assert np.abs(e.additivity_gap).max() < 1e-9
        assert np.abs(e.base_logodds + e.contributions.sum(axis=1) - logit(predicted)).max() \
            < 1e-9
    else:
        assert model.calibrator.exactly_additive is False


def test_contributions_are_the_interventional_shapley_values(data):
    """Brute force: v(S) = mean over the fitting cohort of the model with the patient's values
    in S, over every coalition, evaluated by interpret itself."""
    layout, X, y = data
    columns = ["age_years", "baseline_madrs", "prior_ect", "route"]
    small = FeatureLayout.fit(X[columns].assign(patient_id="x"), {"prior_ect": "binary",
                                                                  "route": "categorical"})
    Xs = small.frame(X[columns])
    estimator = make_classifier("ebm", small, 11,
                                interactions=[(0, 1), (1, 2), (2, 3), (0, 3)]).fit(Xs, y)
    assert sum(len(t) == 2 for t in estimator.term_features_) == 4
    model = ebm_model(small, Xs, y, estimator)
    patients = Xs.iloc[:6]
    base, ours = model_contributions(model, patients)
    k = len(columns)
    exact = np.zeros((len(patients), k))
    for row in range(len(patients)):
        value = {}
        for size in range(k + 1):
            for S in itertools.combinations(range(k), size):
                mixed = Xs.copy()
                for j in S:
                    mixed[columns[j]] = pd.Series([patients.iloc[row, j]] * len(Xs),
                                                  index=Xs.index, dtype=Xs[columns[j]].dtype)
                value[S] = estimator.decision_function(mixed).mean()
        for j in range(k):
            for S, v in value.items():
                if j in S:
                    without = tuple(i for i in S if i != j)
                    weight = math.factorial(len(without)) * math.factorial(k - len(S)) / \
                        math.factorial(k)
                    exact[row, j] += weight * (v - value[without])
    assert base == pytest.approx(value[()], abs=1e-12)
    assert np.abs(ours - exact).max() < 1e-9


# --- saving and loading ----------------------------------------------------------------------
def test_saved_model_loads_to_the_same_predictions_and_explanations(tmp_path, data, fitted,
                                                                    new_patients):
    layout, X, y = data
    model = ebm_model(layout, X, y, fitted)
    model.save(tmp_path / "m")
    loaded = ResponseModel.load(tmp_path / "m")
    assert isinstance(loaded.estimator, EBMTables)
    assert np.array_equal(loaded.model_logodds(new_patients), model.model_logodds(new_patients))
    assert np.abs(loaded.model_logodds(new_patients)
                  - fitted.decision_function(new_patients)).max() <= 1e-9
    a, b = explain(model, new_patients), explain(loaded, new_patients)
    assert np.array_equal(a.contributions, b.contributions) and a.base_logodds == b.base_logodds
    loaded.save(tmp_path / "again")    # byte-identical files: DVC caching, determinism
    for name in ("ebm.json", "model.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "m" / name).read_bytes()


@pytest.fixture
def saved(tmp_path, data, fitted):
    layout, X, y = data
    ebm_model(layout, X, y, fitted).save(tmp_path / "m")
    return tmp_path / "m"


def _tamper(folder, change) -> None:
    path = folder / "ebm.json"
    description = json.loads(path.read_text())
    change(description)
    path.write_text(json.dumps(description))


def _first_pair(d):
    return next(t for t in d["terms"] if len(t["features"]) == 2)


def _set(target: dict, key, value):
    target[key] = value


TAMPERED = {
    "names an unknown term feature": lambda d: _set(d["terms"][0], "features", ["os.system"]),
    "renames a feature": lambda d: _set(d["features"][0], "name", "age"),
    "drops a feature": lambda d: d["features"].pop(),
    "changes a feature's type": lambda d: _set(d["features"][0], "type", "nominal"),
    "adds a key": lambda d: _set(d, "__class__", "builtins.exec"),
    "shortens a score table": lambda d: d["terms"][0]["scores"].pop(),
    "makes a pair table ragged": lambda d: _first_pair(d)["scores"][1].pop(),
    "puts text in a table": lambda d: _set(d["terms"][0]["scores"], 1, "1.0"),
    "puts a boolean in a table": lambda d: _set(d["terms"][0]["scores"], 1, True),
    "nests a table deeper": lambda d: _set(d["terms"][0]["scores"], 1, [0.1]),
    "makes a weight negative": lambda d: _set(d["terms"][0]["weights"], 1, -5.0),
    "zeroes every weight": lambda d: _set(d["terms"][0], "weights",
                                          [0.0] * len(d["terms"][0]["weights"])),
    "unsorts cut points": lambda d: d["features"][0]["bins"][0].reverse(),
    "adds a category": lambda d: _set(d["features"][-1]["bins"][0], "subcutaneous", 1),
    "moves a category out of range": lambda d: _set(d["features"][-1]["bins"][0], "iv", 99),
    "gives a third bin level": lambda d: d["features"][0]["bins"].append([1.0]),
    "makes a three-way term": lambda d: _first_pair(d)["features"].append("route"),
    "repeats a feature in a pair": lambda d: _set(_first_pair(d), "features",
                                                  [_first_pair(d)["features"][0]] * 2),
    "changes the link": lambda d: _set(d, "link", "identity"),
    "changes the version": lambda d: _set(d, "format_version", 2),
    "makes the intercept text": lambda d: _set(d, "intercept", "-0.1"),
    "makes the terms a dict": lambda d: _set(d, "terms", {}),
}


@pytest.mark.parametrize("how", sorted(TAMPERED))
def test_a_tampered_ebm_file_is_refused_with_a_message(saved, how):
    _tamper(saved, TAMPERED[how])
    with pytest.raises(UserError, match="refusing to load .*ebm.json"):
        ResponseModel.load(saved)


@pytest.mark.parametrize("text", ["", "{", "[]", "null", "\xff", '{"intercept": NaN}',
                                  "[" * 100_000 + "]" * 100_000])
def test_an_ebm_file_that_is_not_its_json_is_refused(saved, text):
    (saved / "ebm.json").write_text(text, encoding="latin-1")
    with pytest.raises(UserError, match="refusing to load .*ebm.json"):
        ResponseModel.load(saved)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("where", ["intercept", "scores"])
def test_non_finite_numbers_are_refused(saved, bad, where):
    path = saved / "ebm.json"
    text = path.read_text()
    pattern = r'"intercept":[^,}]+' if where == "intercept" else r'"scores":\[[^,\]\[]+'
    damaged, count = re.subn(pattern, lambda m: m.group(0).split(":")[0] + ":"
                             + ("[" if where == "scores" else "") + bad, text, count=1)
    assert count == 1
    path.write_text(damaged)
    with pytest.raises(UserError, match="refusing to load .*ebm.json"):
        ResponseModel.load(saved)


def test_a_missing_ebm_file_is_refused(saved):
    (saved / "ebm.json").unlink()
    with pytest.raises(UserError, match="ebm.json is missing"):
        ResponseModel.load(saved)


def test_random_damage_gives_a_message_or_the_same_model(saved, data):
    """Seeded mutations of single values anywhere in the file: each either still loads (a
    changed score is a valid, different model) or is refused with a UserError, never a crash."""
    original = json.loads((saved / "ebm.json").read_text())
    replacements = [None, -1, 0, 1.5, 10**6, "x", [], {}, [1.0], True, -1e308]
    rng = np.random.default_rng(0)

    def locations(node, path=()):
        yield path
        children = node.items() if isinstance(node, dict) else \
            enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from locations(child, path + (key,))

    paths = [p for p in locations(original) if p]
    for index in rng.choice(len(paths), 80, replace=False):
        damaged = json.loads(json.dumps(original))
        *parents, last = paths[index]
        target = damaged
        for key in parents:
            target = target[key]
        target[last] = replacements[rng.integers(len(replacements))]
        (saved / "ebm.json").write_text(json.dumps(damaged))
        try:
            model = ResponseModel.load(saved)
        except UserError:
            continue
        model.model_logodds(data[1].head(20))
