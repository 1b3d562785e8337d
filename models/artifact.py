"""The fitted response model as one artifact: classifier + calibrator + feature layout.

The object that is evaluated is the object that is explained and that scores new patients:
every stage loads it with `ResponseModel.load`. On disk it is a folder:

  model.json       classifier name, hyperparameters, feature layout, calibrator, provenance
  lightgbm.txt     LightGBM's own text model format (classifier "lightgbm"), or
  logistic.skops   the scikit-learn pipeline in skops format (classifier "logistic"), or
  ebm.json         the Explainable Boosting Machine's bins and score tables (classifier "ebm").

Loading a model never runs code from the model folder, which may come from an MLflow artifact
store that others can write (docs/security.md):

- model.json is plain JSON, read into numbers and strings only.
- logistic.skops is a zip holding a JSON description of objects (schema.json) and NumPy arrays
  (read with pickling disabled). Before skops sees it, every object in the description is
  checked against `SKOPS_NODES`, the exact list of (loader, type) pairs a txresponse logistic
  model contains: a file naming any other type (`builtins.exec`, `os.system`, ...) or another
  skops protocol is refused and no module it names is imported. Only then does skops load it,
  trusting no more than `SKOPS_TRUSTED`.
- lightgbm.txt holds numbers only, but LightGBM's C++ reader aborts the whole process on some
  malformed files and trusts the indices it reads. `check_lightgbm_text` therefore reads the
  file first, in Python, and refuses anything but a binary model with the layout's features
  and well-formed trees (children in range, every node reached once from the root: no loop).
- ebm.json is plain JSON too: numbers, category names and feature names, which
  `models.ebm.EBMTables.from_dict` checks against model.json's layout (every table's shape
  against its features' bins, every number finite, cut points increasing, category bins in
  range) before txresponse's own NumPy code evaluates it. Interpret is not involved in loading.
A refused file gives a `UserError` naming the file, never a traceback, and never repeats more
than a few shortened type names from it.
"""
from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.pipeline import Pipeline

from models.calibration import Calibrator, calibrator_from_dict, expit
from models.ebm import EBMFileError, EBMTables
from models.layout import FeatureLayout
from pipeline.core.errors import UserError

FORMAT_VERSION = 1

# Every (skops loader, type) pair in a logistic model file that txresponse writes, and nothing
# else. Derived by building a logistic model as models/factory.py does (numeric, binary and
# categorical features, with missing values), saving it with `ResponseModel.save` and listing
# `skops_nodes` of its logistic.skops (scikit-learn 1.9.1, SciPy 1.17.1, NumPy 2.4.6, skops
# 0.16.0). tests/security/test_model_files.py trains a model on a simulated cohort and checks
# that it contains exactly these, so an upgrade that writes other types fails that test, not
# the users' `score`: re-derive the list then, and read what each new type is before adding it.
SKOPS_NODES = frozenset({
    ("DTypeNode", "numpy.dtype"),
    ("DictNode", "builtins.dict"),
    ("FunctionNode", "scipy._lib.array_api_compat.numpy._aliases.asarray"),
    ("JsonNode", "builtins.str"),
    ("ListNode", "builtins.list"),
    ("NdArrayNode", "numpy.float64"),
    ("NdArrayNode", "numpy.ndarray"),
    ("ObjectNode", "scipy.interpolate._bsplines.BSpline"),
    ("ObjectNode", "sklearn.compose._column_transformer.ColumnTransformer"),
    ("ObjectNode", "sklearn.impute._base.MissingIndicator"),
    ("ObjectNode", "sklearn.impute._base.SimpleImputer"),
    ("ObjectNode", "sklearn.linear_model._logistic.LogisticRegression"),
    ("ObjectNode", "sklearn.pipeline.FeatureUnion"),
    ("ObjectNode", "sklearn.pipeline.Pipeline"),
    ("ObjectNode", "sklearn.preprocessing._data.StandardScaler"),
    ("ObjectNode", "sklearn.preprocessing._encoders.OneHotEncoder"),
    ("ObjectNode", "sklearn.preprocessing._polynomial.SplineTransformer"),
    ("SliceNode", "builtins.slice"),
    ("TupleNode", "builtins.tuple"),
    ("TypeNode", "builtins.str"),
    ("TypeNode", "numpy.float64"),
})
# The types among those that skops does not trust by default: `skops.io.get_untrusted_types`
# of the same file. The only extra trust given to `skops.io.load` (derived and tested as above).
SKOPS_TRUSTED = ("numpy.dtype", "scipy._lib.array_api_compat.numpy._aliases.asarray",
                 "scipy.interpolate._bsplines.BSpline")
SKOPS_PROTOCOL = 2  # the skops file format version skops 0.16 writes (tested as above)
# Far above any model txresponse writes (a logistic file is well under 1 MB, a LightGBM text
# model a few MB): a bigger file, or a zip that claims to unpack to more, is refused unread.
MAX_MODEL_BYTES = 64 * 2**20


@dataclass
class ResponseModel:
    classifier: str                 # "lightgbm" | "logistic" | "ebm"
    estimator: object               # fitted LGBMClassifier / lgb.Booster, sklearn Pipeline, or
                                    # fitted ResponseEBM / EBMTables (loaded)
    calibrator: Calibrator
    layout: FeatureLayout
    hyperparameters: dict
    info: dict = field(default_factory=dict)  # provenance: target, data digest, versions, CV

    @property
    def booster(self) -> lgb.Booster:
        """The LightGBM booster, whether fitted here (LGBMClassifier) or loaded from disk."""
        return getattr(self.estimator, "booster_", self.estimator)

    @property
    def ebm(self) -> EBMTables:
        """The EBM as plain tables (models/ebm.py), whether fitted here or loaded from disk:
        fitted or loaded, the model predicts and explains through the same code."""
        if isinstance(self.estimator, EBMTables):
            return self.estimator
        cached = self.__dict__.get("_ebm_tables")
        if cached is None or cached[0] is not self.estimator:
            cached = (self.estimator, EBMTables.from_interpret(self.estimator))
            self.__dict__["_ebm_tables"] = cached
        return cached[1]

    # --- prediction -----------------------------------------------------------------------
    def model_logodds(self, features: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds of response (the scale SHAP explains)."""
        frame = self.layout.frame(features)
        if self.classifier == "lightgbm":
            return self.booster.predict(frame, raw_score=True)
        if self.classifier == "ebm":
            return self.ebm.decision_function(frame)
        return self.estimator.decision_function(frame)

    def predict_uncalibrated(self, features: pd.DataFrame) -> np.ndarray:
        return expit(self.model_logodds(features))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of response, one per row."""
        if self.calibrator.method == "platt":
            return expit(self.calibrator.logodds(self.model_logodds(features)))
        return self.calibrator.transform(self.predict_uncalibrated(features))

    # --- persistence ----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.classifier == "lightgbm":
            self.booster.save_model(str(folder / "lightgbm.txt"))
        elif self.classifier == "ebm":
            # repr-exact floats: the loaded tables equal the fitted ones bit for bit.
            (folder / "ebm.json").write_text(
                json.dumps(self.ebm.to_dict(), sort_keys=True, separators=(",", ":")) + "\n",
                encoding="utf-8")
        else:
            sio.dump(self.estimator, folder / "logistic.skops")
            _canonical_skops(folder / "logistic.skops")
        meta = {
            "format_version": FORMAT_VERSION,
            "classifier": self.classifier,
            "hyperparameters": self.hyperparameters,
            "calibrator": self.calibrator.to_dict(),
            "layout": self.layout.to_dict(),
            "info": self.info,
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ResponseModel:
        """The model saved in `folder`; a `UserError` for a folder that is not one txresponse
        wrote (see the module docstring: nothing in the folder is ever run)."""
        folder = Path(folder)
        meta_path = folder / "model.json"
        if not meta_path.is_file():
            raise UserError(f"{folder} holds no txresponse model (no model.json): pass the "
                            "train stage's model folder")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UserError(f"{meta_path} is not valid JSON: retrain, or restore the model "
                            "folder from a trusted copy") from None
        if not isinstance(meta, dict):
            raise _refused(meta_path, "it is not a txresponse model description")
        if meta.get("format_version") != FORMAT_VERSION:
            raise UserError(f"{folder}: model format {_shown(str(meta.get('format_version')))} "
                            f"is not {FORMAT_VERSION}; retrain with this version of txresponse")
        try:
            classifier = meta["classifier"]
            layout = FeatureLayout.from_dict(meta["layout"])
            calibrator = calibrator_from_dict(meta["calibrator"])
            hyperparameters, info = dict(meta["hyperparameters"]), dict(meta.get("info", {}))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _refused(meta_path, "it is not a txresponse model description") from None
        if classifier == "lightgbm":
            path = folder / "lightgbm.txt"
            text = check_lightgbm_text(path, layout)
            try:  # from the text just checked: a file swapped meanwhile is never read
                estimator = lgb.Booster(model_str=text)
            except lgb.basic.LightGBMError:
                raise _refused(path, "LightGBM cannot read it") from None
        elif classifier == "logistic":
            estimator = load_logistic(folder / "logistic.skops")
        elif classifier == "ebm":
            estimator = load_ebm(folder / "ebm.json", layout)
        else:
            raise _refused(meta_path, f"it names an unknown classifier "
                                      f"{_shown(str(classifier))!r}")
        return cls(classifier=classifier, estimator=estimator, calibrator=calibrator,
                   layout=layout, hyperparameters=hyperparameters, info=info)


def _shown(text: str, limit: int = 40) -> str:
    """A name read from a model file, fit to quote in a message: letters, digits and `._:-`
    only (no terminal control sequences), at most `limit` characters."""
    text = re.sub(r"[^A-Za-z0-9_.:-]", "?", text)
    return text if len(text) <= limit else text[:limit] + "..."


def _refused(path: Path, problem: str) -> UserError:
    return UserError(f"refusing to load {path}: {problem}. txresponse did not write it as it "
                     "is now (damaged, or changed after training): retrain, or restore the model "
                     "folder from a trusted copy")


def skops_nodes(schema: dict) -> set[tuple[str, str]]:
    """(loader, type) of every object a skops schema describes, e.g. ("ObjectNode",
    "sklearn.pipeline.Pipeline"). Any dict carrying one of the keys skops reads a type from is
    an object, so nothing escapes the list; one with a key missing or not a string is listed
    with a type of "?" (never allowed)."""
    found, stack = set(), [schema]
    while stack:  # iterative: a deeply nested file cannot exhaust the Python stack
        item = stack.pop()
        if isinstance(item, dict):
            if item.keys() & {"__loader__", "__module__", "__class__"}:
                loader, module, name = (item.get(k) for k in ("__loader__", "__module__",
                                                              "__class__"))
                if all(isinstance(v, str) for v in (loader, module, name)):
                    found.add((loader, f"{module}.{name}"))
                else:
                    found.add((str(loader), "?"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _read_model_file(path: Path) -> bytes:
    """The bytes of a model file, read once (what is checked is what is loaded); a
    `UserError` if it is missing or larger than any model txresponse writes."""
    if not path.is_file():
        raise UserError(f"{path} is missing: the model folder is incomplete; retrain, or "
                        "restore it from a trusted copy")
    with open(path, "rb") as handle:
        data = handle.read(MAX_MODEL_BYTES + 1)
    if len(data) > MAX_MODEL_BYTES:
        raise _refused(path, "it is larger than any model txresponse writes")
    return data


def _skops_schema(path: Path, data: bytes) -> dict:
    """schema.json of a skops file, read without skops; a `UserError` if it cannot be."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_MODEL_BYTES:
                raise _refused(path, "it unpacks to more than a txresponse model ever holds")
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError, ValueError,
            RecursionError):
        raise _refused(path, "it is not a skops model file") from None
    if not isinstance(schema, dict):
        raise _refused(path, "it is not a skops model file")
    return schema


def load_logistic(path: Path) -> Pipeline:
    """The scikit-learn pipeline in `path`, if the file holds only what txresponse writes."""
    data = _read_model_file(path)
    schema = _skops_schema(path, data)
    protocol = schema.get("protocol")
    if type(protocol) is not int or protocol != SKOPS_PROTOCOL:
        raise _refused(path, f"it is in skops format {_shown(str(protocol))}, not "
                             f"{SKOPS_PROTOCOL}")
    unexpected = sorted(type_name for node in skops_nodes(schema) - SKOPS_NODES
                        for type_name in [node[1] if node[1] != "?" else node[0]])
    if unexpected:
        shown = ", ".join(_shown(t) for t in unexpected[:3])
        more = f" and {len(unexpected) - 3} more" if len(unexpected) > 3 else ""
        raise _refused(path, f"it contains types that txresponse never writes ({shown}{more})")
    try:
        # Belt and braces: skops' own audit, trusting no more than the allow-list's part that
        # skops does not trust by default.
        if not set(sio.get_untrusted_types(data=data)) <= set(SKOPS_TRUSTED):
            raise _refused(path, "it contains types that txresponse never writes")
        estimator = sio.loads(data, trusted=list(SKOPS_TRUSTED))
    except UserError:
        raise
    except Exception:  # noqa: BLE001 - any failure of a checked file is a damaged file
        raise _refused(path, "skops cannot read it") from None
    if type(estimator) is not Pipeline:
        raise _refused(path, "it does not hold a scikit-learn pipeline")
    return estimator


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number txresponse writes")


def load_ebm(path: Path, layout: FeatureLayout) -> EBMTables:
    """The EBM in `path` (models/ebm.py), if it is a well-formed description of `layout`'s
    features; a `UserError` otherwise. Plain JSON (NaN and Infinity refused) read into numbers
    and strings, then checked in full before anything is evaluated."""
    data = _read_model_file(path)
    try:
        description = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refused(path, "it is not valid JSON") from None
    try:
        return EBMTables.from_dict(description, layout.order, layout.categorical)
    except EBMFileError as error:
        raise _refused(path, str(error)) from None
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
        raise _refused(path, "it is not a txresponse EBM description") from None


# --- LightGBM text models --------------------------------------------------------------------
_LGB_HEADER = ("version", "num_class", "num_tree_per_iteration", "label_index",
               "max_feature_idx", "objective", "feature_names", "feature_infos", "tree_sizes")
_LGB_TREE = ("num_leaves", "num_cat", "split_feature", "split_gain", "threshold",
             "decision_type", "left_child", "right_child", "leaf_value", "leaf_weight",
             "leaf_count", "internal_value", "internal_weight", "internal_count", "is_linear",
             "shrinkage")
_LGB_CATEGORICAL = ("cat_boundaries", "cat_threshold")
_INT = re.compile(r"-?\d{1,10}")
_FLOAT = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf)")
_TRAILER = re.compile(r"|feature_importances:|[^\s=]+=\d+|parameters:|\[[a-z0-9_]+: [^\n]*\]"
                      r"|end of parameters|pandas_categorical:.*")
MAX_LEAVES = 131072  # LightGBM's own limit on num_leaves


class _Malformed(Exception):
    pass


def _key_values(lines: list[str], keys: tuple[str, ...], optional=()) -> dict[str, str]:
    values = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or key in values or key not in (*keys, *optional):
            raise _Malformed
        values[key] = value
    if not set(keys) <= set(values):
        raise _Malformed
    return values


def _numbers(text: str, pattern: re.Pattern, length: int | tuple[int, ...]) -> list[str]:
    items = text.split(" ") if text else []
    if len(items) not in ((length,) if isinstance(length, int) else length):
        raise _Malformed
    if not all(pattern.fullmatch(item) for item in items):
        raise _Malformed
    return items


def _check_tree(tree: dict[str, str], n_features: int) -> None:
    """One tree: every array as long as its node count says, features and children in range,
    and every internal node and leaf reached exactly once from the root."""
    n = int(_numbers(tree["num_leaves"], _INT, 1)[0])
    n_cat = int(_numbers(tree["num_cat"], _INT, 1)[0])
    if not 1 <= n <= MAX_LEAVES or not 0 <= n_cat <= n - 1 or tree["is_linear"] != "0":
        raise _Malformed
    if set(_LGB_CATEGORICAL) & set(tree) != (set(_LGB_CATEGORICAL) if n_cat else set()):
        raise _Malformed
    _numbers(tree["shrinkage"], _FLOAT, 1)
    for key in ("split_gain", "threshold", "internal_value", "internal_weight"):
        _numbers(tree[key], _FLOAT, n - 1)
    _numbers(tree["internal_count"], _INT, n - 1)
    _numbers(tree["leaf_value"], _FLOAT, n)
    _numbers(tree["leaf_weight"], _FLOAT, (n, 0) if n == 1 else n)
    _numbers(tree["leaf_count"], _INT, n)
    if not all(math.isfinite(float(v)) for v in tree["leaf_value"].split(" ")):
        raise _Malformed
    features = [int(v) for v in _numbers(tree["split_feature"], _INT, n - 1)]
    decisions = [int(v) for v in _numbers(tree["decision_type"], _INT, n - 1)]
    thresholds = tree["threshold"].split(" ") if n > 1 else []
    if not all(0 <= f < n_features for f in features):
        raise _Malformed
    # decision_type bits: 1 categorical, 2 default left, 4-8 missing type (0, 1 or 2).
    if not all(0 <= d <= 15 and (d >> 2) != 3 for d in decisions):
        raise _Malformed
    if n_cat:
        bounds = [int(v) for v in _numbers(tree["cat_boundaries"], _INT, n_cat + 1)]
        if bounds[0] != 0 or any(b < a for a, b in zip(bounds, bounds[1:])):
            raise _Malformed
        _numbers(tree["cat_threshold"], _INT, bounds[-1])
    for d, threshold in zip(decisions, thresholds):
        if d & 1 and not (float(threshold).is_integer() and 0 <= float(threshold) < n_cat):
            raise _Malformed
    left = [int(v) for v in _numbers(tree["left_child"], _INT, n - 1)]
    right = [int(v) for v in _numbers(tree["right_child"], _INT, n - 1)]
    if n == 1:
        return
    seen_nodes, seen_leaves, stack = {0}, set(), [0]
    while stack:
        node = stack.pop()
        for child in (left[node], right[node]):
            if child >= 0:  # an internal node
                if child >= n - 1 or child in seen_nodes:
                    raise _Malformed
                seen_nodes.add(child)
                stack.append(child)
            else:  # leaf ~child
                if ~child >= n or ~child in seen_leaves:
                    raise _Malformed
                seen_leaves.add(~child)
    if len(seen_nodes) != n - 1 or len(seen_leaves) != n:
        raise _Malformed


def _lightgbm_problem(text: str, n_features: int, categories: list[list[str]] | None) -> str:
    """What is wrong with a LightGBM text model for these features ("" when nothing)."""
    head, _, rest = text.partition("\n\n")
    lines = head.split("\n")
    try:
        if lines[0] != "tree":
            raise _Malformed
        header = _key_values(lines[1:], _LGB_HEADER)
    except _Malformed:
        return "it is not a LightGBM text model"
    if (header["version"], header["num_class"], header["num_tree_per_iteration"],
            header["label_index"]) != ("v4", "1", "1", "0") or \
            not header["objective"].startswith("binary "):
        return "it is not a binary LightGBM model of the version txresponse writes"
    if header["max_feature_idx"] != str(n_features - 1) or \
            len(header["feature_names"].split(" ")) != n_features or \
            len(header["feature_infos"].split(" ")) != n_features:
        return f"its features do not match model.json's {n_features}"
    try:
        items = header["tree_sizes"].split(" ")
        if not all(_INT.fullmatch(v) for v in items):
            raise _Malformed
        sizes = [int(v) for v in items]
        trees, end, trailer = rest.partition("end of trees\n")
        if not sizes or not end or sum(sizes) != len(trees) or min(sizes) < 1:
            raise _Malformed
        start = 0
        for index, size in enumerate(sizes):
            block = trees[start:start + size].rstrip("\n").split("\n")
            start += size
            if block[0] != f"Tree={index}":
                raise _Malformed
            _check_tree(_key_values(block[1:], _LGB_TREE, _LGB_CATEGORICAL), n_features)
    except _Malformed:
        return "its trees are not well formed"
    trailer_lines = trailer.rstrip("\n").split("\n")
    if not all(_TRAILER.fullmatch(line) for line in trailer_lines) or \
            not trailer_lines[-1].startswith("pandas_categorical:"):
        return "its parameters are not well formed"
    try:
        stored = json.loads(trailer_lines[-1].removeprefix("pandas_categorical:"))
    except (ValueError, RecursionError):
        return "its categories are not well formed"
    if stored != categories:
        return "its categories do not match model.json's"
    return ""


def check_lightgbm_text(path: Path, layout: FeatureLayout) -> str:
    """The text of lightgbm.txt, or a `UserError` if it is not a well-formed binary LightGBM
    model of `layout`'s features: checked before LightGBM's own reader sees it (see the module
    docstring). Load the model from the text returned, not from the file again."""
    try:
        text = _read_model_file(path).decode("utf-8")
    except UnicodeDecodeError:
        raise _refused(path, "it is not a LightGBM text model") from None
    categories = [layout.categorical[name] for name in layout.order
                  if name in layout.categorical] or None
    problem = _lightgbm_problem(text, len(layout.order), categories)
    if problem:
        raise _refused(path, problem)
    return text


def _canonical_skops(path: Path) -> None:
    """Make a skops file byte-reproducible. skops names stored arrays and shared objects after
    object ids (memory addresses) and stamps zip entries with the time of writing; renumber
    both in order of first appearance in the schema and use a fixed timestamp, so the same
    model gives the same bytes (determinism, and DVC caching)."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: (info, archive.read(info)) for info in archive.infolist()}
    schema = entries["schema.json"][1].decode("utf-8")
    names = dict.fromkeys(re.findall(r'"([^"/]+\.npy)"', schema))
    renamed = {old: f"array_{i:04d}.npy" for i, old in enumerate(names)}
    schema = re.sub(r'"([^"/]+\.npy)"', lambda m: f'"{renamed[m.group(1)]}"', schema)
    # Memo ids (shared-object references) are memory addresses too: renumber consistently.
    ids = {old: str(i) for i, old in enumerate(dict.fromkeys(re.findall(r'"__id__": (\d+)',
                                                                         schema)))}
    schema = re.sub(r'"__id__": (\d+)', lambda m: f'"__id__": {ids[m.group(1)]}', schema)
    with zipfile.ZipFile(path, "w") as archive:
        for name, (info, data) in sorted(entries.items(),
                                         key=lambda item: renamed.get(item[0], item[0])):
            if name == "schema.json":
                data = schema.encode("utf-8")
            fixed = zipfile.ZipInfo(renamed.get(name, name), date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            archive.writestr(fixed, data)
