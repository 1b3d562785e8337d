"""Internal validation's results in the model folder, for the evaluate stage.

  validation.json         strategy, settings, resamples used, the choice of classifier per
                          resample, sites that could not be left out (and why)
  out_of_sample.parquet   per labelled patient: predictions by procedures that never saw them
                          (out-of-fold, or out-of-bag for the bootstrap)
  bootstrap.parquet       bootstrap only: each resample's predictions on its own resample and
                          on the original patients (Harrell's optimism)
  by_site.parquet         with >= 3 sites: each patient predicted without their site

Plain data (JSON and Parquet), never code. A holdout model folder has validation.json only.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.core.atomic import write_bytes, write_text
from pipeline.core.errors import UserError


@dataclass
class Validated:
    """What internal validation produced, for the evaluate stage to judge."""
    strategy: str                                   # holdout | cross_validation | bootstrap
    summary: dict                                   # settings, resamples used, selection
    out_of_sample: pd.DataFrame | None = None       # per patient: out-of-fold / out-of-bag
    bootstrap: pd.DataFrame | None = None           # per resample: predictions (optimism)
    by_site: pd.DataFrame | None = None             # per patient: prediction without their site
    sites_failed: dict[str, str] = field(default_factory=dict)


FILES = {"out_of_sample": "out_of_sample.parquet", "bootstrap": "bootstrap.parquet",
         "by_site": "by_site.parquet"}


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def save_validation(validated: Validated | None, folder: Path) -> None:
    if validated is None:
        return
    document = {"strategy": validated.strategy, "summary": validated.summary,
                "sites_failed": validated.sites_failed}
    write_text(folder / "validation.json", json.dumps(document, indent=2, default=str) + "\n")
    for attribute, name in FILES.items():
        frame = getattr(validated, attribute)
        if frame is not None:
            write_bytes(folder / name, _parquet(frame))


def load_validation(folder: Path) -> Validated:
    """The validation saved with a model; a model folder from before validation strategies
    (no validation.json) was validated on a held-out test set."""
    path = folder / "validation.json"
    if not path.exists():
        return Validated("holdout", {"strategy": "holdout"})
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        strategy = document["strategy"]
        if strategy not in ("holdout", "cross_validation", "bootstrap"):
            raise ValueError(f"unknown strategy {strategy!r}")
        frames = {attribute: pd.read_parquet(folder / name) if (folder / name).exists()
                  else None for attribute, name in FILES.items()}
        return Validated(strategy, dict(document["summary"]), **frames,
                         sites_failed=dict(document.get("sites_failed", {})))
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise UserError(f"{path}: not a validation record txresponse wrote ({error}); re-run "
                        "the train stage") from None
