"""The layers of docs/architecture.md, checked on every import (function-level ones too), so the
document cannot drift from the code."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

# layer -> the layers it may import (besides itself)
ALLOWED = {
    "pipeline.core": set(),
    "pipeline.validation": {"pipeline.core"},
    "pipeline.simulation": {"pipeline.core", "pipeline.validation"},
    "features": {"pipeline.core"},
    "models": {"pipeline.core", "features"},
    "pipeline": {"pipeline.core", "pipeline.validation", "pipeline.simulation", "features",
                 "models"},
}
PACKAGES = ("features", "models", "pipeline")


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "pipeline" and len(parts) > 1 and parts[1] in ("core", "validation",
                                                                  "simulation"):
        return f"pipeline.{parts[1]}"
    return parts[0]


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def test_every_import_follows_the_layers():
    broken = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts)
            source = layer(module)
            for imported in imports(path):
                target = layer(imported)
                if target != source and target not in ALLOWED[source]:
                    broken.append(f"{path.relative_to(REPO)} ({source}) imports {imported}")
    assert broken == [], "\n".join(broken)


def test_the_layer_rule_catches_a_wrong_import(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def f():\n    from pipeline.score import main\n", encoding="utf-8")
    assert layer(next(iter(imports(wrong)))) == "pipeline"
    assert "pipeline" not in ALLOWED["models"]
