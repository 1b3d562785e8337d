"""`txresponse report`: selection, limits and refusal of unsafe patient ids."""
from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from models.report.writer import UnsafePatientId, safe_file_name
from pipeline.cli import app
from tests.report.conftest import PATIENTS, Patient, write_inputs

runner = CliRunner()


def _run(paths, out, *extra):
    return runner.invoke(app, ["report", "--predictions", str(paths["predictions"]),
                               "--explanations", str(paths["explanations"]),
                               "--meta", str(paths["meta"]),
                               "--out", str(out),
                               *extra])


def test_max_patients_renders_the_first_ones_only(report_inputs, tmp_path):
    result = _run(report_inputs, tmp_path / "out", "--max-patients", "2")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.html")) == [
        "index.html", "pt-high.html", "pt-low.html"]
    assert (tmp_path / "out" / ".txresponse-output").is_file()  # may be replaced next run


def test_named_patients_in_the_order_given(report_inputs, tmp_path):
    result = _run(report_inputs, tmp_path / "out", "--patients", "pt-inject, pt-low")
    assert result.exit_code == 0, result.output
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert index.index("pt-inject.html") < index.index("pt-low.html")
    assert not (tmp_path / "out" / "pt-high.html").exists()


def test_unknown_patient_id_fails(report_inputs, tmp_path):
    result = _run(report_inputs, tmp_path / "out", "--patients", "pt-high,pt-nobody")
    assert result.exit_code == 1
    assert "pt-nobody" in result.output


@pytest.mark.parametrize("bad", ["../evil", "..", "a/b", "a\\b", ".hidden", "", " ",
                                 "/etc/passwd", "x\x00y", "x" * 121])
def test_unsafe_ids_are_refused(bad):
    with pytest.raises(UnsafePatientId):
        safe_file_name(bad)


def test_odd_but_harmless_ids_are_sanitised():
    assert safe_file_name("pt-abc_01") == "pt-abc_01.html"
    assert safe_file_name("pt 01:x") == "pt_01_x.html"


# "index" is harmless as a name but would overwrite the index page.
@pytest.mark.parametrize("bad", ["../../evil", "index"])
def test_a_traversal_id_in_the_data_stops_the_stage_before_writing(tmp_path, bad):
    paths = write_inputs(tmp_path / "in", [PATIENTS[0], Patient(bad, 0.5, {}, {})])
    result = _run(paths, tmp_path / "deep" / "out")
    assert result.exit_code == 1
    assert not (tmp_path / "deep" / "out").exists()
    assert not (tmp_path / "evil.html").exists()


def test_missing_column_is_a_clear_error(report_inputs, tmp_path):
    path = report_inputs["predictions"]
    rows = list(csv.reader(path.open(encoding="utf-8")))
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([row[:-1] for row in rows])
    result = _run(report_inputs, tmp_path / "out")
    assert result.exit_code == 1
    assert "exactly_additive" in result.output
