"""docs/data-contract.md and pipeline/core/contract.py describe the same contract."""
from __future__ import annotations

import re

import pytest

from pipeline.core.contract import TABLE_NAMES, contract_tables


def _doc_tables(doc: str) -> dict[str, dict[str, list[str]]]:
    """Table name -> column name -> [kind, required, allowed] as written in the doc."""
    tables: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in doc.splitlines():
        heading = re.match(r"### (\w+) \((required|optional)\)", line)
        if heading:
            current = heading.group(1)
            tables[current] = {"_required": [heading.group(2)]}
            continue
        cell = re.match(r"\| `(\w+)` \| (\w+) \| ([^|]*) \| ([^|]*) \|", line)
        if current and cell:
            tables[current][cell.group(1)] = [cell.group(2), cell.group(3), cell.group(4)]
    return tables


@pytest.fixture(scope="module")
def documented(repo):
    return _doc_tables((repo / "docs" / "data-contract.md").read_text(encoding="utf-8"))


def test_every_table_is_documented_with_its_requirement(documented, registries):
    contract = contract_tables(registries)
    assert sorted(documented) == sorted(TABLE_NAMES)
    for name in TABLE_NAMES:
        expected = "required" if contract[name].required else "optional"
        assert documented[name]["_required"] == [expected], name


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_columns_kinds_and_levels_match(documented, registries, table):
    contract = contract_tables(registries)[table]
    doc = {k: v for k, v in documented[table].items() if k != "_required"}
    declared = set(registries.covariates) if table == "patients" else set()
    in_code = [c for c in contract.columns if c.name not in declared]
    assert list(doc) == [c.name for c in in_code]
    for column in in_code:
        kind, required, allowed = doc[column.name]
        assert kind == column.kind, column.name
        assert required.startswith("yes") == column.required, column.name
        # Instrument and marker levels come from the registries (checked below).
        if column.levels and column.name not in ("instrument", "marker"):
            assert [v.strip() for v in allowed.split(",")] == list(column.levels), column.name
        if column.min is not None and column.max is not None:
            assert f"{column.min:g}–{column.max:g}" in allowed, column.name


def test_registered_instruments_and_markers_are_listed(repo, registries):
    doc = (repo / "docs" / "data-contract.md").read_text(encoding="utf-8")
    for key, instrument in registries.instruments.items():
        assert f"{key} {instrument.min:g}–{instrument.max:g}" in doc, key
    for key in registries.biomarkers:
        assert key in doc, key
