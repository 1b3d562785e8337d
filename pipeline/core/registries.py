"""Registries of rating scales, biomarkers and site covariates, read from `configs/`.

Users extend the pipeline by editing the YAML files; nothing here names a particular scale or
marker, so a new one works without code changes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.core.errors import (UserError, missing_path, project_path, read_yaml_file,
                                  validation_problems)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Instrument(_Strict):
    """A rating scale whose total score is recorded in `assessments`."""

    key: str
    label: str
    name: str
    min: float
    max: float
    remission_max: float | None = None
    higher_is_worse: bool = True
    # False for scales that measure a session effect rather than a state (CADSS): they get no
    # baseline_<key> feature.
    baseline_feature: bool = True
    severity_bands: list[tuple[float, str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Instrument:
        if self.min >= self.max:
            raise ValueError(f"instrument {self.key!r}: min must be below max")
        if self.remission_max is not None and not self.min <= self.remission_max <= self.max:
            raise ValueError(f"instrument {self.key!r}: remission_max outside its range")
        bounds = [upper for upper, _ in self.severity_bands]
        if bounds != sorted(bounds) or (bounds and bounds[-1] < self.max):
            raise ValueError(
                f"instrument {self.key!r}: severity_bands must ascend and end at max ({self.max})"
            )
        return self

    def severity_band(self, score: float) -> str | None:
        """Name of the severity band a total score falls in, or None without bands."""
        for upper, band in self.severity_bands:
            if score <= upper:
                return band
        return None


class Biomarker(_Strict):
    """A laboratory or genetic measurement recorded in `biomarkers`."""

    key: str
    label: str
    unit: str
    min: float
    max: float
    integer: bool = False
    # A germline genotype never changes: any sample before the prediction day counts, however
    # old, instead of only those within features.biomarker_lookback_days.
    time_invariant: bool = False


class Covariate(_Strict):
    """An extra `patients` column declared by a site."""

    key: str
    kind: Literal["numeric", "binary", "categorical"]
    label: str
    min: float | None = None
    max: float | None = None
    levels: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> Covariate:
        if self.kind == "categorical" and not self.levels:
            raise ValueError(f"covariate {self.key!r}: a categorical covariate needs levels")
        if self.kind != "categorical" and self.levels:
            raise ValueError(f"covariate {self.key!r}: only categorical covariates take levels")
        if self.kind != "numeric" and (self.min is not None or self.max is not None):
            raise ValueError(f"covariate {self.key!r}: only numeric covariates take min/max")
        return self


class Registries(_Strict):
    """Everything the data contract takes from configuration rather than code."""

    instruments: dict[str, Instrument]
    biomarkers: dict[str, Biomarker]
    covariates: dict[str, Covariate]


def _load_keyed(path: Path, model: type[_Strict], what: str) -> dict:
    raw = read_yaml_file(path, what, "--configs")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of key -> settings, found "
                        f"{type(raw).__name__}")
    entries = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict | None):
            raise UserError(f"{path}: {key}: expected a mapping of settings, found "
                            f"{type(spec).__name__}")
        if spec and "key" in spec:
            raise UserError(f"{path}: {key}: the key is the entry's name; remove 'key:'")
        try:
            entries[key] = model.model_validate({**(spec or {}), "key": key})
        except ValidationError as error:
            # An unknown field is named with the closest valid one (never `key`: it is the
            # entry's name).
            problems = validation_problems(error, prefix=str(key), model=model, hidden={"key"})
            raise UserError(f"{path}: {problems}") from None
    return entries


DEFAULT_DIR = Path("configs")


def load_registries(config_dir: Path | str | None = None) -> Registries:
    """Read `instruments.yaml`, `biomarkers.yaml` and `covariates.yaml` from `config_dir`
    (default: `configs/` of the working folder, or else of the project folder it lies in); a
    missing, unreadable or invalid file, or an unknown field in an entry, raises `UserError`
    (one line) naming it."""
    default = config_dir is None or Path(config_dir) == DEFAULT_DIR
    config_dir = project_path(DEFAULT_DIR) if config_dir is None else Path(config_dir)
    if not config_dir.is_dir():
        raise UserError(missing_path(config_dir, "configuration folder", "--configs",
                                     folder=True, default=default))
    return Registries(
        instruments=_load_keyed(config_dir / "instruments.yaml", Instrument,
                                "instrument registry"),
        biomarkers=_load_keyed(config_dir / "biomarkers.yaml", Biomarker, "biomarker registry"),
        covariates=_load_keyed(config_dir / "covariates.yaml", Covariate, "covariate registry"),
    )
