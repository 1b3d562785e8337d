"""Print where the pipeline's outputs are, read from dvc.yaml so the list never goes stale.

`make demo` calls this after `dvc repro`.
"""
from __future__ import annotations

from pathlib import Path

import yaml


def stage_outputs(dvc_yaml: Path) -> dict[str, list[str]]:
    """Outputs (outs, metrics, plots) declared by each stage, in pipeline order."""
    stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}
    listed: dict[str, list[str]] = {}
    for name, stage in stages.items():
        paths = []
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key) or []:
                paths.append(next(iter(entry)) if isinstance(entry, dict) else str(entry))
        listed[name] = paths
    return listed


def main(dvc_yaml: Path = Path("dvc.yaml")) -> None:
    listed = stage_outputs(dvc_yaml)
    if not listed:
        print("dvc.yaml declares no stages yet: nothing to show.")
        return
    print("Pipeline outputs:")
    for stage, paths in listed.items():
        for path in paths:
            state = "" if Path(path).exists() else "  (missing: did the stage run?)"
            print(f"  {stage:<12} {path}{state}")


if __name__ == "__main__":
    main()
