"""Plain-language sentences for the clinician report.

Everything here turns numbers and recorded values into words a psychiatrist reads without a
glossary: "4 failed antidepressant trials — accounts for about 7 points of the difference from a
typical patient". Labels, units and kinds come from the feature dictionary
(`reports/features.json`), never from code.

Contributions are associations the model learned and shares of this patient's difference from
a typical patient, never effects: "lowers the chance by 8 points" reads as advice to stop a
medicine, and the same log-odds shows as different points for different patients. The chance is
a model estimate, never an observation: "would be expected to respond", not "responded".
`tests/report/test_wording.py` scans every rendered page for causal or advice-like wording.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from features.labels import OUTCOME_WORDS

# Codes used in the data contract that read badly as they are; anything not listed is shown with
# underscores turned into spaces. Kept short on purpose: the registries are the place for labels.
CATEGORY_WORDS = {
    "iv": "intravenous", "im": "intramuscular", "mdd": "major depressive disorder",
    "bipolar_i": "bipolar I disorder", "bipolar_ii": "bipolar II disorder",
    "mg_per_kg": "mg/kg",
}
# Verb-first binary labels need a verb negation, not "no ...".
_VERB_NEGATIONS = {"lives": "does not live", "has": "does not have", "is": "is not"}
# "points" next to a score would clash with "points" of probability in the same sentence, and a
# unit with " or " ("mg/kg or mg") is resolved from the patient's own `<name>_unit` value.
_SCALE_RANGE = re.compile(r"points \((\d+)\s*-\s*(\d+)\)")


@dataclass(frozen=True)
class Characteristic:
    """One row of the feature dictionary: what a feature is called in the clinic."""

    name: str
    label: str
    unit: str = ""
    kind: str = "numeric"  # numeric | binary | categorical
    sources: str = ""
    alternatives: str = ""  # a group of features of which a patient has at most one

    @classmethod
    def from_dictionary_row(cls, row: dict) -> "Characteristic":
        return cls(name=row["name"], label=row.get("label") or row["name"].replace("_", " "),
                   unit=row.get("unit") or "", kind=row.get("kind") or "numeric",
                   sources=row.get("sources") or "", alternatives=row.get("alternatives") or "")

    @classmethod
    def unknown(cls, name: str) -> "Characteristic":
        """A feature missing from the dictionary still gets a readable (if plain) name."""
        return cls(name=name, label=name.replace("_", " "))


def is_missing(value: str | None) -> bool:
    return value is None or str(value).strip().lower() in {"", "nan", "<na>", "none", "null"}


def format_number(value: float) -> str:
    """Whole numbers without decimals; otherwise 1 decimal (2 below 10, e.g. CRP 0.89 mg/L)."""
    if float(value).is_integer():
        return f"{int(value):d}"
    digits = 2 if abs(value) < 10 else 1
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def category_words(value: str) -> str:
    text = str(value).strip()
    return CATEGORY_WORDS.get(text.lower(), text.replace("_", " "))


def _is_yes(value: str) -> bool | None:
    text = str(value).strip().lower()
    if text in {"1", "1.0", "true", "yes"}:
        return True
    if text in {"0", "0.0", "false", "no"}:
        return False
    return None


def _negate(label: str) -> str:
    first, _, rest = label.partition(" ")
    if first.endswith("ing"):  # "taking a benzodiazepine" -> "not taking a benzodiazepine"
        return f"not {label}"
    if first in _VERB_NEGATIONS:
        return f"{_VERB_NEGATIONS[first]} {rest}".strip()
    return f"no {label}"


def _numeric_phrase(item: Characteristic, number: float, context: dict[str, str]) -> str:
    shown = format_number(number)
    last_word = item.label.rsplit(" ", 1)[-1]
    if item.unit and item.unit == last_word:  # a count: "4 failed antidepressant trials"
        if number == 0:
            return f"no {item.label}"
        label = item.label[:-1] if number == 1 and item.label.endswith("s") else item.label
        return f"{shown} {label}"
    unit = item.unit
    scale = _SCALE_RANGE.fullmatch(unit)
    if scale:
        unit = f"(scale {scale.group(1)}–{scale.group(2)})"
    elif unit == "points":
        unit = ""
    elif " or " in unit:
        own = context.get(f"{item.name}_unit")
        unit = "" if is_missing(own) else category_words(own)
    if number == 1 and unit.endswith("s") and unit.isalpha():  # "1 month", not "1 months"
        unit = unit[:-1]
    return f"{item.label} {shown} {unit}".strip()


def describe_value(item: Characteristic, value: str | None,
                   context: dict[str, str] | None = None) -> str:
    """This patient's value of one characteristic, e.g. "body-mass index 34.2 kg/m²".

    `context` holds the patient's other recorded values (to find a dose's own unit).
    """
    if is_missing(value):
        verb = "measured" if "biomarkers" in item.sources else "recorded"
        return f"{item.label} not {verb}"
    if item.kind == "binary":
        yes = _is_yes(value)
        if yes is not None:
            return item.label if yes else _negate(item.label)
    if item.kind in {"numeric", "binary"}:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return _numeric_phrase(item, number, context or {})
    return f"{item.label}: {category_words(value)}"


def points_words(points: float) -> str:
    """Size of a change in percentage points, rounded as a clinician would say it."""
    size = abs(points)
    if size < 1:
        return "less than 1 point"
    whole = int(math.floor(size + 0.5))
    return f"about {whole} point" + ("" if whole == 1 else "s")


def contribution_phrase(points: float) -> str:
    """"accounts for about 7 points of the difference from a typical patient".

    Unsigned: the list it appears in ("associated with a higher / lower chance") and the signed
    bar of the chart say which way. Deliberately not "raises / lowers the chance by": that is
    the language of an effect, and the model only learned an association.
    """
    return f"accounts for {points_words(points)} of the difference from a typical patient"


def percent(probability: float) -> str:
    """"62 %"; the extremes say so rather than printing 0 % or 100 %."""
    share = 100 * probability
    if share < 0.5:
        return "less than 1 %"
    if share > 99.5:
        return "more than 99 %"
    return f"{int(math.floor(share + 0.5))} %"


def percent_bound(probability: float) -> str:
    """An interval end, kept within 1–99 %: "between 88 % and more than 99 %" reads badly, and
    an end at 0 % or 100 % would suggest certainty the model does not have."""
    return f"{min(max(int(math.floor(100 * probability + 0.5)), 1), 99)} %"


def expected_out_of(probability: float, out_of: int) -> int:
    """How many of `out_of` patients like this one are expected to respond (half rounds up)."""
    return int(math.floor(probability * out_of + 0.5))


def natural_frequency(probability: float, outcome_infinitive: str = "respond",
                      out_of: int = 10) -> str:
    """"about 6 in 10 patients like this one would be expected to respond": an estimate, so
    never "responded", which reads as something observed in patients like this one."""
    count = expected_out_of(probability, out_of)
    expected = f"patients like this one would be expected to {outcome_infinitive}"
    if count == 0:
        return f"fewer than 1 in {out_of} {expected}"
    if count == out_of:
        return f"more than {out_of - 1} in {out_of} {expected}"
    return f"about {count} in {out_of} {expected}"


def target_sentence(target: dict) -> str:
    """The outcome the model predicts, in words, from the meta's `target` block."""
    instrument = target.get("instrument_label") or str(target.get("instrument", "")).upper()
    low, high = target.get("endpoint_window") or (None, None)
    window = f"the last rating on days {low}–{high}" if low is not None else "the endpoint"
    if target.get("definition") == "remission":
        return (f"remission: {instrument} total of {format_number(target['remission_max'])} or "
                f"less at {window}")
    reduction = format_number(100 * float(target.get("min_reduction", 0.5)))
    return (f"response: at least a {reduction} % reduction in {instrument} between baseline and "
            f"{window}")


def estimand_sentence(target: dict) -> str:
    """Which patients the chance speaks about (target.missing_endpoint), in words; empty for
    models trained before the setting existed."""
    noun = "remission" if target.get("definition") == "remission" else "response"
    rule = target.get("missing_endpoint")
    if rule == "exclude":
        return (f"The model learned only from patients who completed the course and were rated: "
                f"the chance is that of {noun} for a patient who completes it. Patients who stopped "
                "early were left out; if those were mostly patients who were not getting better, "
                "the chance for a patient starting now is somewhat lower.")
    if rule == "non_response":
        return (f"Patients who stopped before the endpoint rating were counted as not reaching "
                f"{noun}: the chance is that of completing the course with {noun}.")
    return ""


def outcome_words(target: dict) -> tuple[str, str, str]:
    """(noun, past tense, infinitive): ("response", "responded", "respond") or the remission
    equivalents."""
    words = OUTCOME_WORDS.get(str(target.get("definition")), OUTCOME_WORDS["response"])
    return words["noun"], words["past"], words["infinitive"]
