"""Outputs people open cannot run what the data or configuration put in them (issue 14, items
7 and 9): CSV cells a spreadsheet would run as formulas get a leading quote, Markdown shows
HTML from labels, site and category names as text."""
from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from features.catalog import build_registry
from features.dictionary import dictionary_markdown, dictionary_rows
from models.governance.card import CardInputs, card_context
from models.governance.render import render_html, render_markdown
from pipeline.core.escaping import (csv_text, escape_markdown_text, neutralise_formula,
                                    neutralise_formulas, write_csv)
from pipeline.core.registries import load_registries
from tests.conftest import REPO
from tests.validation.conftest import GOOD, validate, write_raw

FORMULAS = ["=1+1", "=cmd|' /C calc'!A0", "+cmd", "-2+3", "-A1", "@SUM(A1:A9)", "\t=1",
            "\r=1", "=HYPERLINK(\"http://x\")"]
NOT_FORMULAS = ["-0.5", "+3", "-1.5e+3", "1e-4", ".5", "abc", "", "'=already", "a=b", " =x"]
HOSTILE = "<img src=x onerror=alert(1)>|<script>alert(2)</script>\nnext"


# --- the helpers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_a_quote_once(cell):
    assert neutralise_formula(cell) == "'" + cell
    assert neutralise_formula(neutralise_formula(cell)) == "'" + cell


@pytest.mark.parametrize("cell", NOT_FORMULAS)
def test_numbers_and_plain_text_are_left_alone(cell):
    assert neutralise_formula(cell) == cell


def test_only_text_cells_change_and_the_csv_reads_back_the_same_numbers():
    frame = pd.DataFrame({
        "patient_id": ["p1", "p2", "p3", "p4"],
        "probability": [0.25, -0.5, np.nan, 1e-7],
        "count": [1, -2, 3, 4],
        "raw": ["-0.5", "=1+1", None, "@x"],
        "site": pd.Categorical(["a", "-b", "a", "a"]),
        "flag": [True, False, True, False],
    })
    before = frame.copy()
    safe = neutralise_formulas(frame)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not changed
    assert safe["raw"].fillna("(missing)").tolist() == ["-0.5", "'=1+1", "(missing)", "'@x"]
    assert safe["site"].tolist() == ["a", "'-b", "a", "a"]
    back = pd.read_csv(io.StringIO(csv_text(frame)))
    for column in ("probability", "count", "flag"):
        pd.testing.assert_series_equal(back[column], frame[column])
    assert "'-0.5" not in csv_text(frame) and ",-0.5," in csv_text(frame)


def test_a_carriage_return_inside_a_cell_cannot_start_a_new_row():
    frame = pd.DataFrame({"note": ["ok", "a\r=cmd|' /C calc'!A0", "\r=1"], "x": [1.5, -2.0, 3.0]})
    text = csv_text(frame)
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert len(back) == 3
    assert back["note"].tolist() == ["ok", "a\r=cmd|' /C calc'!A0", "'\r=1"]
    assert back["x"].tolist() == [1.5, -2.0, 3.0]


def test_write_csv_and_the_test_predictions_writer_neutralise(tmp_path):
    import pipeline.evaluate

    assert pipeline.evaluate.write_csv is write_csv  # writes reports/test_predictions.csv
    write_csv(pd.DataFrame({"patient_id": ["@evil"], "p": [-0.25]}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text(encoding="utf-8") == "patient_id,p\n'@evil,-0.25\n"


def test_markdown_text_is_escaped_once():
    escaped = escape_markdown_text(HOSTILE)
    assert escaped == ("&lt;img src=x onerror=alert(1)&gt;&#124;&lt;script&gt;alert(2)"
                       "&lt;/script&gt; next")
    assert escape_markdown_text(escaped) == escaped
    assert escape_markdown_text("A & B &amp; &lt;b&gt; &#60;") == "A &amp; B &amp; &lt;b&gt; &#60;"
    assert escape_markdown_text("a\nb", table_cell=False) == "a\nb"
    assert escape_markdown_text(3) == 3 and escape_markdown_text(None) is None


def test_ordinary_labels_are_unchanged(registries):
    texts = [spec.label for group in (registries.instruments, registries.biomarkers,
                                      registries.covariates) for spec in group.values()]
    texts += [b.unit for b in registries.biomarkers.values()]
    assert [escape_markdown_text(t) for t in texts] == texts


# --- in the files ---------------------------------------------------------------------------------
@pytest.fixture
def hostile_configs(tmp_path):
    """configs/ with a biomarker label and unit and a covariate label an attacker chose."""
    folder = tmp_path / "configs"
    shutil.copytree(REPO / "configs", folder)
    biomarkers = yaml.safe_load((folder / "biomarkers.yaml").read_text(encoding="utf-8"))
    biomarkers["crp_mg_l"]["label"] = HOSTILE
    biomarkers["crp_mg_l"]["unit"] = "mg/L | <b>"
    (folder / "biomarkers.yaml").write_text(yaml.safe_dump(biomarkers), encoding="utf-8")
    covariates = yaml.safe_load((folder / "covariates.yaml").read_text(encoding="utf-8"))
    covariates["employment"]["label"] = "employment <svg onload=alert(3)>"
    (folder / "covariates.yaml").write_text(yaml.safe_dump(covariates), encoding="utf-8")
    return folder


def _table_rows(markdown: str, header: str) -> list[str]:
    """The rows of the table under `header` (after its |---| line), up to the first other line."""
    rows = []
    for line in markdown.split(header + "\n")[1].splitlines()[1:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_feature_dictionary_escapes_hostile_labels_and_keeps_the_committed_one(hostile_configs):
    registry = build_registry(load_registries(hostile_configs), "madrs", (-14, 0), 90)
    table = pd.DataFrame({spec.name: [np.nan, 1.0] for spec in registry})
    rows = dictionary_rows(registry, table, left_out={"employment": "no <i>levels</i>"})
    markdown = dictionary_markdown(rows, 0, 2)
    assert "<img" not in markdown and "<script" not in markdown and "<svg" not in markdown
    assert "<b>" not in markdown and "<i>" not in markdown
    assert "&lt;img src=x onerror=alert(1)&gt;&#124;&lt;script&gt;" in markdown
    assert "employment &lt;svg onload=alert(3)&gt;" in markdown
    for header in ("| feature | label | meaning | unit | kind | known | sources | missing |",
                   "| feature | label | left out because |"):
        widths = {line.count("|") for line in _table_rows(markdown, header)}
        assert widths == {header.count("|")}, "a value broke its table row"
    # Ordinary labels: the committed demo dictionary regenerates byte for byte.
    facts = json.loads((REPO / "reports" / "features.json").read_text(encoding="utf-8"))
    assert dictionary_markdown(facts["dictionary"], facts["prediction_day"],
                               facts["patients"]) == \
        (REPO / "reports" / "feature_dictionary.md").read_text(encoding="utf-8")


def _reports(name: str) -> dict:
    return json.loads((REPO / "reports" / name).read_text(encoding="utf-8"))


def test_model_card_escapes_hostile_sites_levels_and_labels_once():
    features, evaluation = _reports("features.json"), _reports("evaluation.json")
    for row in features["dictionary"]:
        if row["name"] == "crp_mg_l":
            row["label"] = HOSTILE
    evaluation["subgroups"].append(dict(evaluation["subgroups"][0], group="site",
                                        level="<img src=x onerror=alert(1)>", status="too small"))
    training = _reports("training.json")
    training["features_left_out"] = {"crp_mg_l": "not recorded <b>here</b>"}
    inputs = CardInputs(run={"run_id": "r", "registered_model": "m<script>", "version": "1"},
                        metrics=_reports("metrics.json"), evaluation=evaluation,
                        features=features, training=training,
                        validation=_reports("validation/report.json"),
                        run_tags={"raw_dir": "data/<script>alert(4)</script>",
                                  "git_commit": "abc|def\n## injected"},
                        sites={"site_01": 10, "<script>alert(5)</script>|x": 3})
    context = card_context(inputs)
    markdown, html = render_markdown(context), render_html(context)
    for text in (markdown, html):
        assert "<script" not in text and "<img" not in text and "<b>here" not in text
    assert "| &lt;script&gt;alert(5)&lt;/script&gt;&#124;x | 3 |" in markdown
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown
    assert "\n## injected" not in markdown
    # The HTML autoescapes everything else: escaped values must not be escaped twice.
    assert "&lt;script&gt;alert(5)&lt;/script&gt;&#124;x" in html
    assert "&amp;lt;" not in html
    sites = _table_rows(markdown, "| site | patients |")
    assert [line.count("|") for line in sites][:2] == [3, 3]
    provenance = _table_rows(markdown, "## Provenance\n\n| item | value |")
    assert all(line.count("|") == 3 for line in provenance)


def test_quarantine_csv_neutralises_formulas_from_the_data(tmp_path):
    assessments = (GOOD["assessments"] + "pt-a,21,madrs,=1+1\n"
                   "pt-a,28,@SUM(A1:A9),12\n" "pt-b,21,madrs,-0.5\n"
                   "pt-b,28,madrs,\"=cmd|' /C calc'!A0\"\n")
    run = validate(tmp_path, write_raw(tmp_path / "raw", assessments=assessments))
    assert run.code == 0, run.text
    written = (run.out / "quarantine" / "assessments.csv").read_text(encoding="utf-8")
    bad = pd.read_csv(io.StringIO(written), dtype=str, keep_default_na=False)
    assert sorted(bad["score"]) == sorted(["'=1+1", "12", "-0.5", "'=cmd|' /C calc'!A0"])
    assert "'@SUM(A1:A9)" in bad["instrument"].tolist()
    assert all(neutralise_formula(cell) == cell for cell in bad.to_numpy().ravel()), \
        "a cell a spreadsheet would run"
