"""Typed, validated view of `configs/params.yaml`.

Loaded once by each stage's `main()`; plain values are then passed to pure functions. Every
section refuses keys it does not declare, so a misspelt key stops the stage with the closest
valid one instead of running with the default: a stage that needs a new key declares it here,
with its default.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Field,
                      ValidationError, field_validator, model_validator)

from pipeline.core.errors import UserError, project_path, read_yaml_file, validation_problems

DEFAULT_PATH = Path("configs/params.yaml")

# scikit-learn takes seeds up to 2**32 - 1; the bootstrap refits use seed + 1, seed + 2, ...
# (models/uncertainty.py), so seed + train.uncertainty_replicates must stay within it.
MAX_SEED = 2**32 - 1
# Registered model and experiment names appear in model URIs (models:/NAME/VERSION,
# models:/NAME@ALIAS), file names and the model card: letters, digits, '.', '_' and '-' only.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _not_bool(value):
    # YAML reads `yes`/`true` as a boolean, which pydantic would take as the integer 1.
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    return value


def _not_bool_number(value):
    # pydantic would take true/false as 1.0/0.0 for a float.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
# A finite number: `.nan` or `.inf` in YAML would slip through every range check.
Float = Annotated[float, BeforeValidator(_not_bool_number), AllowInfNan(False)]


def _safe_name(value: str, key: str) -> str:
    if not SAFE_NAME.fullmatch(value):
        raise ValueError(f"{key} must be 1-100 letters, digits, '.', '_' or '-', starting "
                         "with a letter or digit")
    return value


class _Section(BaseModel):
    # Unknown keys are refused (load_params names the closest valid one): a misspelt key must
    # not silently run with the default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    raw_dir: Path
    # Where the patients come from: the model card's limitations differ. Real unless a
    # params file says the cohort was simulated (the demo's does).
    origin: Literal["simulated", "real"] = "real"

    @field_validator("raw_dir", mode="before")
    @classmethod
    def _raw_dir(cls, value):
        if isinstance(value, str) and not value.strip():
            raise ValueError("must name the folder of raw tables, not be empty")
        return value


class TargetParams(_Section):
    """What counts as a good outcome (see docs/data-contract.md, "Outcome")."""

    instrument: str = Field("madrs", min_length=1)
    definition: Literal["response", "remission"] = "response"
    baseline_window: tuple[Int, Int] = (-14, 0)
    endpoint_window: tuple[Int, Int] = (10, 28)
    min_reduction: Float = 0.5
    # A patient with a baseline but no endpoint rating: left out, or counted as not reaching
    # the outcome (features/estimand.py; the default is argued in docs/training.md).
    missing_endpoint: Literal["exclude", "non_response"] = "exclude"

    @model_validator(mode="after")
    def _check(self) -> TargetParams:
        lo, hi = self.baseline_window
        if lo > hi or hi > 0:
            raise ValueError("target.baseline_window must be [start, end] with end <= 0")
        lo, hi = self.endpoint_window
        if lo > hi or lo <= 0:
            raise ValueError("target.endpoint_window must be [start, end] with start > 0")
        if not 0 < self.min_reduction < 1:
            raise ValueError("target.min_reduction must lie strictly between 0 and 1")
        return self


class FeaturesParams(_Section):
    """What is known when the prediction is made (see docs/features.md)."""

    # Any day relative to the first session (negative: before treatment starts).
    prediction_day: Int = 0
    biomarker_lookback_days: Int = Field(90, ge=0)


class ValidateParams(_Section):
    """How much quarantine the validate stage tolerates before it stops (docs/validation.md)."""

    max_quarantine_fraction: Float = 0.2  # per table: quarantined rows / rows in

    @model_validator(mode="after")
    def _check(self) -> ValidateParams:
        if not 0 <= self.max_quarantine_fraction <= 1:
            raise ValueError("validate.max_quarantine_fraction must lie between 0 and 1")
        return self


class SplitParams(_Section):
    """How the model's performance is estimated (docs/training.md, "Validation"):
    cross_validation or bootstrap develop the deployed model on every labelled patient and
    validate the whole procedure by resampling; holdout keeps a test set out of development.
    With three or more sites, every strategy also leaves one site out in turn (`by_site`)."""

    strategy: Literal["holdout", "cross_validation", "bootstrap"] = "cross_validation"
    folds: Int = Field(5, ge=2)                 # cross_validation: outer folds
    repeats: Int = Field(1, ge=1)               # cross_validation: repeats of the folds
    resamples: Int = Field(50, ge=10)           # bootstrap: resamples for the optimism
    by_site: bool = True                        # leave one site out (needs >= 3 sites)
    test_fraction: Float = Field(0.25, gt=0, lt=1)   # holdout: share held out
    holdout_site: str | None = None                  # holdout: or that whole site

    @field_validator("holdout_site")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must name a site (a value of patients.site), or be null for a "
                             "stratified split")
        return value

    @model_validator(mode="after")
    def _holdout_only(self) -> SplitParams:
        if self.holdout_site is not None and self.strategy != "holdout":
            raise ValueError(
                f"split.holdout_site is set but split.strategy is {self.strategy}: a held-out "
                "site needs strategy holdout. To judge transport to a new clinic, keep the "
                "resampling strategy and split.by_site: true (each site is left out in turn "
                "when there are at least three)")
        return self


class TrainParams(_Section):
    model: Literal["auto", "lightgbm", "logistic", "ebm"] = "auto"
    calibrator: Literal["platt", "isotonic"] = "platt"
    cv_folds: Int = Field(5, ge=2)
    search_budget: Int = Field(12, ge=1)       # candidates tried per classifier
    uncertainty_replicates: Int = Field(20, ge=0)  # bootstrap refits for per-patient intervals
    workers: Int = Field(2, ge=1)              # processes for the validation's developments
    experiment: str = "txresponse"
    registered_model: str = "txresponse-response"

    @field_validator("experiment", "registered_model")
    @classmethod
    def _names(cls, value: str, info) -> str:
        return _safe_name(value, f"train.{info.field_name}")


class PoorSubgroupParams(_Section):
    """When a subgroup big enough to judge is named among the model card's limitations
    (`models.subgroups.PoorSubgroupRule`)."""

    min_auroc: Float = Field(0.6, ge=0, le=1)
    calibration_slope: tuple[Float, Float] = (0.5, 1.5)
    max_abs_calibration_intercept: Float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _check(self) -> PoorSubgroupParams:
        low, high = self.calibration_slope
        if not low < high:
            raise ValueError("evaluate.poor_subgroup.calibration_slope must be [low, high] "
                             "with low < high")
        return self


class EvaluateParams(_Section):
    bootstrap_resamples: Int = Field(1000, ge=200)
    # Probabilities where sensitivity, PPV and net benefit are reported; net benefit weighs
    # false positives by t / (1 - t), so 0 and 1 are excluded.
    thresholds: list[Float] = [0.3, 0.5, 0.7]
    min_subgroup_n: Int = Field(30, ge=1)
    min_subgroup_events: Int = Field(10, ge=1)  # responders and non-responders, each
    poor_subgroup: PoorSubgroupParams = PoorSubgroupParams()
    # Log evaluation/test_predictions.csv (pseudonymous id, label, probabilities of the test
    # patients) to the MLflow run. Reviewers need it to pair two runs patient by patient;
    # sites whose governance forbids patient-level rows in the store turn it off, and
    # compare/promote fall back to unpaired statistics (docs/security.md).
    log_patient_predictions: bool = True

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, values: list[float]) -> list[float]:
        if not values:
            raise ValueError("list at least one threshold")
        if not all(0 < t < 1 for t in values):
            raise ValueError("every threshold must lie strictly between 0 and 1")
        if len(set(values)) != len(values):
            raise ValueError("a threshold is listed twice")
        return values


class ReportParams(_Section):
    max_patients: Int = Field(1000, ge=1)


# Sections a params file may leave empty (`evaluate:` with every key commented out): defaults.
_SECTIONS = ("target", "validate", "features", "split", "train", "evaluate", "report")


class Params(_Section):
    seed: Int = Field(ge=0, le=MAX_SEED)
    data: DataParams
    target: TargetParams = TargetParams()
    # `validate` would shadow a pydantic method; the YAML key is still `validate`.
    validation: ValidateParams = Field(ValidateParams(), alias="validate")
    features: FeaturesParams = FeaturesParams()
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    report: ReportParams = ReportParams()

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, raw):
        if isinstance(raw, dict):
            raw = {k: {} if k in _SECTIONS and v is None else v for k, v in raw.items()}
        return raw

    def feature_settings(self) -> dict:
        """How the features are built (stored with a model: scoring new patients builds them
        the same way, and says where the params file now differs)."""
        return {"target_instrument": self.target.instrument,
                "baseline_window": list(self.target.baseline_window),
                "prediction_day": self.features.prediction_day,
                "biomarker_lookback_days": self.features.biomarker_lookback_days}

    @model_validator(mode="after")
    def _seeds(self) -> Params:
        if self.seed + self.train.uncertainty_replicates > MAX_SEED:
            raise ValueError(f"seed + train.uncertainty_replicates must not exceed {MAX_SEED} "
                             "(the bootstrap refits use seed + 1, seed + 2, ...)")
        return self


def load_params(path: Path | str | None = None) -> Params:
    """Read and validate the params file (default: `configs/params.yaml` of the working folder,
    or else of the project folder it lies in); a missing or unreadable file, an unknown key or
    a key with a wrong value raises `UserError` (one line) naming the file and the key."""
    default = path is None or Path(path) == DEFAULT_PATH
    path = project_path(DEFAULT_PATH) if path is None else path
    raw = read_yaml_file(path, "params file", "--params", default=default)
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of sections (seed:, data:, target:, ...), "
                        f"found {'nothing' if raw is None else type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        problems = validation_problems(error, model=Params)
        raise UserError(f"{path}: {problems}") from None
