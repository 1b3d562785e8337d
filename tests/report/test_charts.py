"""Icon array and waterfall: counts, arithmetic and escaping of embedded text."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from models.report.charts import icon_array, waterfall_bars, waterfall_svg

SVG = ""  # inlined in HTML: no namespace


@pytest.mark.parametrize("probability, filled", [(0.62, 62), (0.0, 0), (1.0, 100),
                                                 (0.125, 13), (0.004, 0)])
def test_icon_array_fills_one_icon_per_expected_responder(probability, filled):
    svg = ET.fromstring(icon_array(probability, "sentence"))
    icons = svg.findall(f"{SVG}g")
    assert len(icons) == 100
    assert sum(1 for g in icons if g.get("fill") == "#1f5fa8") == filled
    assert svg.get("data-filled") == str(filled)


def test_icon_array_is_accessible_and_escapes_its_sentence():
    sentence = 'about 6 in 10 <b>"patients"</b> & more'
    text = icon_array(0.6, sentence)
    svg = ET.fromstring(text)  # well-formed although the sentence holds markup characters
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == sentence
    assert "<b>" not in text


@pytest.mark.parametrize("base, factors, final", [
    (0.45, [("a", 12.4), ("b", 9.6), ("c", 3.1)], 0.78),
    (0.45, [("a", -11.8), ("b", -7.2)], 0.12),
    (0.30, [], 0.30),
    (0.50, [("a", 5.0)], 0.45),  # the shown factors overshoot; "other" takes it back
])
def test_waterfall_bars_add_up_to_the_patients_probability(base, factors, final):
    bars = waterfall_bars(base, factors, final, "other")
    assert bars[0].kind == "base" and bars[0].end == pytest.approx(100 * base)
    assert bars[-1].kind == "total" and bars[-1].end == pytest.approx(100 * final)
    steps = bars[1:-1]
    assert 100 * base + sum(b.change for b in steps) == pytest.approx(100 * final)
    for before, after in zip(bars[:-2], steps):  # each step starts where the last one ended
        assert after.start == pytest.approx(before.end)
    assert all((b.kind == "raises") == (b.change > 0) for b in steps)


def test_waterfall_escapes_labels():
    bars = waterfall_bars(0.4, [("employment status: <script>alert(1)</script>", 8.0)], 0.5,
                          "other")
    text = waterfall_svg(bars, "From 40 % to 50 %")
    ET.fromstring(text)
    assert "<script" not in text
    assert "&lt;script&gt;" in text
    assert re.search(r'role="img"', text)


def test_waterfall_numbers_match_the_words():
    from models.report.charts import _signed
    assert [_signed(x) for x in (9.4, -6.2, -0.6, 0.3)] == ["+9", "−6", "−0.6", "+0.3"]
