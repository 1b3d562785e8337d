"""The reviewers' file, `configs/promotion.yaml`: the promotion criteria (`txresponse promote`)
and the subgroup margins that both `promote` and `txresponse compare` apply.

Unknown keys are refused, so a typo cannot switch a criterion off.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_FILE = Path("configs/promotion.yaml")


class CriteriaError(ValueError):
    """The criteria file cannot be read or is invalid; the message is one line naming the file
    and the key."""


class PairedCriteria(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resamples: int = Field(1000, ge=200)
    seed: int = 20261126
    confidence: float = Field(0.95, gt=0.5, lt=1)
    when_test_sets_differ: Literal["pass", "fail"] = "pass"


class PromotionCriteria(BaseModel):
    """Thresholds a version must meet before it becomes `champion`, and the subgroup margins
    (see configs/promotion.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auroc_lower_bound_min: float = Field(0.60, ge=0, le=1)
    calibration_slope_range: tuple[float, float] = (0.8, 1.2)
    calibration_intercept_max_abs: float = Field(0.2, ge=0)
    ici_max: float = Field(0.05, ge=0)
    n_test_min: int = Field(200, ge=1)
    subgroup_auroc_margin: float = Field(0.05, ge=0)
    subgroup_ici_margin: float = Field(0.02, ge=0)
    paired: PairedCriteria = PairedCriteria()

    @model_validator(mode="after")
    def _check(self) -> PromotionCriteria:
        low, high = self.calibration_slope_range
        if not 0 < low <= 1 <= high:
            raise ValueError("calibration_slope_range must be [low, high], 0 < low <= 1 <= high")
        return self

    @property
    def subgroup_margins(self) -> dict[str, float]:
        """{metric: margin} for `models.review.subgroups.worse`."""
        return {"auroc": self.subgroup_auroc_margin, "ici": self.subgroup_ici_margin}

    def digest(self) -> str:
        """sha256 of the validated criteria (canonical JSON): same thresholds, same hash,
        however the file is formatted."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_criteria(path: Path | str) -> PromotionCriteria:
    """Read and validate the criteria file; raises `pydantic.ValidationError` naming the key."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return PromotionCriteria.model_validate(raw)


def read_criteria(path: Path | str) -> PromotionCriteria:
    """`load_criteria`, with any problem raised as one CriteriaError line."""
    try:
        return load_criteria(path)
    except ValidationError as error:
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
                           for e in error.errors())
    except (OSError, yaml.YAMLError) as error:
        detail = getattr(error, "strerror", None) or type(error).__name__
    raise CriteriaError(f"Cannot read the criteria in {path}: {detail}")
