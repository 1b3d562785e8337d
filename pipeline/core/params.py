"""Typed, validated view of `configs/params.yaml`.

Loaded once by each stage's `main()`; plain values are then passed to pure functions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.core.errors import UserError, read_yaml_file, validation_problems


class _Section(BaseModel):
    # Extra keys are allowed so that a stage added later can carry its own section without every
    # older stage having to know about it.
    model_config = ConfigDict(extra="allow", frozen=True)


class DataParams(_Section):
    raw_dir: Path
    # Where the patients come from: the model card's limitations differ. Real unless a
    # params file says the cohort was simulated (the demo's does).
    origin: Literal["simulated", "real"] = "real"


class TargetParams(_Section):
    """What counts as a good outcome (see docs/data-contract.md, "Outcome")."""

    instrument: str = "madrs"
    definition: Literal["response", "remission"] = "response"
    baseline_window: tuple[int, int] = (-14, 0)
    endpoint_window: tuple[int, int] = (10, 28)
    min_reduction: float = 0.5
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

    prediction_day: int = 0
    biomarker_lookback_days: int = Field(90, ge=0)


class ValidateParams(_Section):
    """How much quarantine the validate stage tolerates before it stops (docs/validation.md)."""

    max_quarantine_fraction: float = 0.2  # per table: quarantined rows / rows in

    @model_validator(mode="after")
    def _check(self) -> ValidateParams:
        if not 0 <= self.max_quarantine_fraction <= 1:
            raise ValueError("validate.max_quarantine_fraction must lie between 0 and 1")
        return self


class SplitParams(_Section):
    """Held-out test patients: a stratified share, or a whole site (a new clinic)."""

    test_fraction: float = Field(0.25, gt=0, lt=1)
    holdout_site: str | None = None


class TrainParams(_Section):
    model: Literal["auto", "lightgbm", "logistic"] = "auto"
    calibrator: Literal["platt", "isotonic"] = "platt"
    cv_folds: int = Field(5, ge=2)
    search_budget: int = Field(12, ge=1)       # candidates tried per classifier
    uncertainty_replicates: int = Field(20, ge=0)  # bootstrap refits for per-patient intervals
    experiment: str = "txresponse"
    registered_model: str = "txresponse-response"


class PoorSubgroupParams(BaseModel):
    """When a subgroup big enough to judge is named among the model card's limitations
    (`models.subgroups.PoorSubgroupRule`). Unknown keys are refused: a typo must not switch the
    rule off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_auroc: float = Field(0.6, ge=0, le=1)
    calibration_slope: tuple[float, float] = (0.5, 1.5)
    max_abs_calibration_intercept: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _check(self) -> PoorSubgroupParams:
        low, high = self.calibration_slope
        if not low < high:
            raise ValueError("evaluate.poor_subgroup.calibration_slope must be [low, high] "
                             "with low < high")
        return self


class EvaluateParams(_Section):
    bootstrap_resamples: int = Field(1000, ge=200)
    thresholds: list[float] = [0.3, 0.5, 0.7]
    min_subgroup_n: int = 30
    min_subgroup_events: int = 10
    poor_subgroup: PoorSubgroupParams = PoorSubgroupParams()


class ReportParams(_Section):
    max_patients: int = Field(1000, ge=1)


class Params(_Section):
    seed: int
    data: DataParams
    target: TargetParams = TargetParams()
    # `validate` would shadow a pydantic method; the YAML key is still `validate`.
    validation: ValidateParams = Field(ValidateParams(), alias="validate")
    features: FeaturesParams = FeaturesParams()
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    report: ReportParams = ReportParams()


def load_params(path: Path | str = "configs/params.yaml") -> Params:
    """Read and validate the params file; a missing or unreadable file, or a key with a wrong
    value, raises `UserError` naming the file and the key."""
    raw = read_yaml_file(path, "params file", "--params") or {}
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        problems = validation_problems(error)
        raise UserError(f"{path}: {problems}") from None
