"""Print where the pipeline's outputs are, asking DVC so the list never goes stale.

`make demo` calls this after `dvc repro`. DVC resolves `vars` and `${...}` in dvc.yaml, so the
paths printed are the ones the stages wrote.
"""
from __future__ import annotations

from pathlib import Path

from dvc.repo import Repo


def stage_outputs(root: Path = Path(".")) -> dict[str, list[str]]:
    """Outputs (outs, metrics, plots) declared by each stage, in pipeline order."""
    with Repo(str(root)) as repo:
        return {stage.addressing: [str(out.def_path) for out in stage.outs]
                for stage in repo.index.stages}


def main(root: Path = Path(".")) -> None:
    listed = stage_outputs(root)
    if not listed:
        print("dvc.yaml declares no stages yet: nothing to show.")
        return
    print("Pipeline outputs:")
    for stage, paths in listed.items():
        for path in paths:
            state = "" if (root / path).exists() else "  (missing: did the stage run?)"
            print(f"  {stage:<12} {path}{state}")


if __name__ == "__main__":
    main()
