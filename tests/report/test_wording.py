"""No causal or advice-like wording in anything a clinician reads (issue 13, item 8).

A contribution is an association the model learned, and a share of this patient's difference
from a typical patient: "taking a benzodiazepine lowers the chance by 8 points" reads as advice to
stop it. The chance is a model estimate: "8 in 10 patients like this one responded" states it as
an observed fact. Every rendered page (patient reports and the index, response and remission,
with every caution box) is scanned as the reader sees and hears it, technical appendix included.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models.report.writer import write_reports
from tests.report.conftest import PATIENTS, write_inputs
from tests.report.test_render import visible_text

# Verbs of doing and changing, said of a characteristic or of the chance; and the estimate
# said as an observation. Adjectives stay allowed ("a lower chance", "a 50 % reduction").
FORBIDDEN = {
    "raises/raised": r"\brais(?:e|es|ed|ing)\b",
    "lowers/lowered": r"\blower(?:s|ed|ing)\b",
    "increases/decreases": r"\b(?:in|de)creas(?:e|es|ed|ing)\b",
    "reduces": r"\breduc(?:e|es|ed|ing)\b",
    "improves/worsens": r"\b(?:improv(?:e|es|ed|ing)|worsen(?:s|ed|ing)?)\b",
    "moves/moved": r"\bmov(?:e|es|ed|ing)\b",
    "effect(s)": r"\beffects?\b",
    "by changing": r"\bchanging\b",
    "causes/leads to/drives": r"\b(?:caus(?:e|es|ed)|leads? to|driv(?:e|es|en)|boosts?)\b",
    "because/due to": r"\b(?:because|due to|thanks to)\b",
    "advice to act": r"\b(?:should|must|consider) (?:stop|start|avoid|switch|reduce|taper)",
    "estimate as fact": r"patients like this one (?:responded|reached remission)",
}


def _render(folder: Path, **meta_changes) -> Path:
    paths = write_inputs(folder / "inputs")
    meta = json.loads(paths["meta"].read_text(encoding="utf-8"))
    for key, value in meta_changes.items():
        meta[key] = {**meta.get(key, {}), **value}
    paths["meta"].write_text(json.dumps(meta), encoding="utf-8")
    out = folder / "patients"
    write_reports(paths["predictions"], paths["explanations"], paths["meta"], out)
    return out


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    """Visible text of every page, for a response and a remission model, the latter also
    trained on too few patients (so the sample-size caution shows too)."""
    root = tmp_path_factory.mktemp("wording")
    folders = {
        "response": _render(root / "response"),
        "remission": _render(root / "remission", target={"definition": "remission"},
                             sample_size={"adequate": False, "actual_n": 300,
                                          "required_n": 1200}),
    }
    return {f"{kind}/{page.name}": visible_text(page.read_text(encoding="utf-8"))
            for kind, folder in folders.items() for page in sorted(folder.glob("*.html"))}


def test_every_page_is_scanned(pages):
    assert len(pages) == 2 * (len(PATIENTS) + 1)
    assert any("the model learned from few patients" in text for text in pages.values())
    assert any("Use with caution: this patient differs" in text for text in pages.values())


@pytest.mark.parametrize("kind", sorted(FORBIDDEN))
def test_no_causal_or_advice_wording_on_any_page(pages, kind):
    pattern = re.compile(FORBIDDEN[kind], re.IGNORECASE)
    found = {name: sorted({m.group(0) for m in pattern.finditer(text)})
             for name, text in pages.items()}
    assert not {name: hits for name, hits in found.items() if hits}


def test_the_scan_would_catch_the_old_wording():
    old = ("What moved the chance for this patient. Raised the chance. body-mass index "
           "34.2 kg/m² — raises the chance by about 12 points. taking a benzodiazepine — "
           "lowers the chance by about 12 points. The largest effects. about 8 in 10 patients "
           "like this one responded. not proof that changing a characteristic would help")
    caught = {kind for kind, pattern in FORBIDDEN.items()
              if re.search(pattern, old, re.IGNORECASE)}
    assert {"raises/raised", "lowers/lowered", "moves/moved", "effect(s)", "by changing",
            "estimate as fact"} <= caught


def test_contributions_are_said_to_be_associations_for_this_patient(pages):
    for kind in ("response", "remission"):
        text = pages[f"{kind}/pt-low.html"]
        assert "associations" in text
        assert "not what would happen if" in text
        assert "in another patient" in text  # the points are this patient's
        infinitive = "respond" if kind == "response" else "reach remission"
        assert f"patients like this one would be expected to {infinitive}" in text
