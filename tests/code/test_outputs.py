"""`make demo` ends by listing each stage's outputs, resolved from dvc.yaml by DVC."""
from __future__ import annotations

from pipeline.outputs import stage_outputs


def test_outputs_are_resolved_paths(repo):
    listed = stage_outputs(repo)
    assert list(listed)[:2] == ["validate", "features"]
    paths = [p for ps in listed.values() for p in ps]
    assert "data/features" in paths and "reports/validation/report.json" in paths
    assert not any("${" in p for p in paths)
