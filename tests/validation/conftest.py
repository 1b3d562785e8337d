"""Tiny hand-made raw folders and a helper that runs `txresponse validate` on them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from pipeline.cli import app

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "patients": "patient_id,site,age_years,sex,bmi\n"
                "pt-a,site_01,34,female,24.5\n"
                "pt-b,site_02,90,male,31.0\n",
    "assessments": "patient_id,day,instrument,score\n"
                   "pt-a,0,madrs,32\n"
                   "pt-a,14,madrs,12\n"
                   "pt-b,0,madrs,40\n"
                   "pt-b,0,phq9,20\n",
    "sessions": "patient_id,day,route,dose,dose_unit\n"
                "pt-a,0,iv,0.5,mg_per_kg\n"
                "pt-a,3,iv,0.5,mg_per_kg\n"
                "pt-b,0,intranasal,56,mg\n",
}


@dataclass
class Run:
    result: Result
    out: Path
    report: Path

    @property
    def code(self) -> int:
        return self.result.exit_code

    @property
    def text(self) -> str:
        return self.result.output


def write_raw(folder: Path, **tables: str | bytes) -> Path:
    """The GOOD tables, with any table replaced (str or bytes) or removed (None)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in {**GOOD, **tables}.items():
        if content is None:
            continue
        path = folder / (name if "." in name else f"{name}.csv")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def permissive_params(folder: Path) -> Path:
    """Params that never stop for quarantine: a tiny table with one bad row is 25 % bad."""
    path = folder / "params.yaml"
    path.write_text("seed: 1\ndata: {raw_dir: raw}\nvalidate: {max_quarantine_fraction: 1.0}\n")
    return path


def validate(tmp_path: Path, raw: Path, params: Path | None = None) -> Run:
    out, report = tmp_path / "out", tmp_path / "report"
    result = CliRunner().invoke(app, [
        "validate", "--raw", str(raw), "--out", str(out), "--report", str(report),
        "--params", str(params or permissive_params(tmp_path)),
        "--configs", str(REPO / "configs"),
    ])
    return Run(result, out, report)


@pytest.fixture
def run_with(tmp_path):
    """run_with(patients=..., assessments=...) -> Run, on GOOD with those tables replaced."""
    def run(**tables: str | bytes | None) -> Run:
        return validate(tmp_path, write_raw(tmp_path / "raw", **tables))
    return run
