"""The rendered reports: content, safety (escaping, no network) and the index."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from models.report.writer import write_reports
from tests.report.conftest import INJECTION, PATIENTS

JARGON = ("shap", "log-odds", "log odds", "logodds", "logit", "calibrat", "feature",
          "out-of-distribution")


class _VisibleText(HTMLParser):
    """Text a reader sees or hears (screen readers read aria-label), without CSS."""

    def __init__(self):
        super().__init__()
        self.parts, self._in_style = [], False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        self.parts.extend(value for name, value in attrs if name == "aria-label" and value)

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if not self._in_style:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


@pytest.fixture
def rendered(report_inputs, tmp_path) -> Path:
    out = tmp_path / "patients"
    write_reports(report_inputs["predictions"], report_inputs["explanations"],
                  report_inputs["meta"], out)
    return out


def _page(folder: Path, patient_id: str) -> str:
    return (folder / f"{patient_id}.html").read_text(encoding="utf-8")


def test_one_report_per_patient_and_an_index(rendered):
    assert sorted(p.name for p in rendered.iterdir()) == sorted(
        [f"{p.patient_id}.html" for p in PATIENTS] + ["index.html"])


def test_high_and_low_chances_in_percent_with_interval_and_frequency(rendered):
    high = visible_text(_page(rendered, "pt-high"))
    assert "78 % (likely between 67 % and 88 %)" in high
    assert "about 8 in 10 patients like this one would be expected to respond" in high
    assert "47 % of the 1,500 patients" in high  # observed in the cohort: a fact, said as one
    low = visible_text(_page(rendered, "pt-low"))
    assert "12 %" in low
    assert "about 1 in 10 patients like this one would be expected to respond" in low
    assert '<svg class="icon-array"' in _page(rendered, "pt-low")
    assert 'data-filled="12"' in _page(rendered, "pt-low")


SHARE = "of the difference from a typical patient"


def _lists(page: str) -> tuple[str, str]:
    """(text of the higher-chance list, text of the lower-chance list)."""
    higher = re.search(r'<ul class="factors higher">(.*?)</ul>', page, re.S).group(1)
    lower = re.search(r'<ul class="factors lower">(.*?)</ul>', page, re.S).group(1)
    return visible_text(higher), visible_text(lower)


def test_top_factors_in_plain_language(rendered):
    high = _page(rendered, "pt-high")
    higher, lower = _lists(high)
    assert f"body-mass index 34.2 kg/m² — accounts for about 12 points {SHARE}" in higher
    assert f"3 failed antidepressant trials — accounts for about 3 points {SHARE}" in higher
    assert "baseline MADRS 34 (scale 0–60) —" not in visible_text(high)  # 0.2 points: too small
    assert "No single characteristic" in lower
    text = visible_text(high)
    assert "Associated with a higher chance" in text and "Associated with a lower chance" in text
    higher, lower = _lists(_page(rendered, "pt-low"))
    assert f"taking a benzodiazepine — accounts for about 12 points {SHARE}" in lower
    assert f"4 failed antidepressant trials — accounts for about 7 points {SHARE}" in lower
    assert f"C-reactive protein not measured — accounts for about 4 points {SHARE}" in lower
    assert "benzodiazepine" not in higher


def test_warnings_are_prominent(rendered):
    unusual = visible_text(_page(rendered, "pt-unusual"))
    assert "Use with caution" in unusual
    assert "route 'im' was never seen in training" in unusual
    assert "body-mass index 61.0 kg/m² is above anything seen in training" in unusual
    sparse = visible_text(_page(rendered, "pt-sparse"))
    assert "Use with caution: much information is missing" in sparse
    assert "9 of 12 characteristics were not recorded" in sparse
    assert "1 of 12 characteristics was not recorded" in visible_text(_page(rendered, "pt-low"))
    calm = visible_text(_page(rendered, "pt-high"))
    assert "Use with caution" not in calm


def test_inexact_additivity_is_said_and_the_gap_shown(rendered):
    low = visible_text(_page(rendered, "pt-low"))
    main_text, appendix = low.split("Technical appendix")
    assert "do not add up exactly" in main_text
    assert "less than 1 point left unexplained" in main_text
    assert "additivity gap 0.0123 log-odds" in appendix
    assert "do not add up exactly" not in visible_text(_page(rendered, "pt-high"))


def test_target_model_date_and_intended_use(rendered):
    text = visible_text(_page(rendered, "pt-high"))
    assert ("response: at least a 50 % reduction in MADRS between baseline and the last rating "
            "on days 10–28") in text
    assert "txresponse-response version 3" in text
    assert "0123456789abcdef0123456789abcdef" in text
    assert "2026-05-04" in text
    assert "not a diagnosis" in text and "not a substitute for clinical judgement" in text


def test_injected_value_is_escaped_text_and_no_script_exists(rendered):
    page = _page(rendered, "pt-inject")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert INJECTION in visible_text(page)  # shown to the reader as the text it is
    for path in rendered.iterdir():
        assert "<script" not in path.read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("patient", [p.patient_id for p in PATIENTS])
def test_no_jargon_before_the_technical_appendix(rendered, patient):
    main_text, appendix = visible_text(_page(rendered, patient)).split("Technical appendix")
    for word in JARGON:
        assert word not in main_text.lower(), word
    assert "SHAP" in appendix and "log-odds" in appendix


def test_reports_are_self_contained(rendered):
    for path in rendered.iterdir():
        page = path.read_text(encoding="utf-8").lower()
        assert "http://" not in page and "https://" not in page
        assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|@import|url\(", page)
        assert "@page" in page and "size: a4" in page


def test_index_lists_every_rendered_patient_with_flags(rendered):
    index = (rendered / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"#]+)"', index))
    assert links == {f"{p.patient_id}.html" for p in PATIENTS}
    assert all((rendered / link).exists() for link in links)
    text = visible_text(index)
    assert "78 %" in text and "67 % – 88 %" in text
    assert "unlike training patients" in text and "2 warnings" in text
    assert 'href="#by-chance"' in index and "<script" not in index.lower()
