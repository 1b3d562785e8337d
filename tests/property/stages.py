"""Run the pipeline's stages in-process on one cohort folder, as dvc.yaml would.

Each stage is `pipeline.cli.app` invoked through `typer.testing.CliRunner` with the arguments
dvc.yaml gives it, every path pointed into the cohort's folder, plus `--params`/`--configs`
(and `--dvc-lock`, `--dictionary`) so nothing in the repository is read or written. MLflow goes
wherever MLFLOW_TRACKING_URI points (the test shares one SQLite store across examples).

Each stage ends one of three ways:

- ok: exit code 0;
- refused: the pipeline's own clear error: a non-zero exit through `typer.Exit`/`SystemExit`
  with a message and no traceback;
- crashed: anything else (an exception escaped, a traceback was printed, or a silent non-zero
  exit).

Reproduce one cohort end to end, outside pytest (writes OUT/ and OUT/mlflow.db):

    .venv/bin/python -m tests.property.stages "CohortSpec(n_patients=20, ...)" /tmp/cohort
"""
from __future__ import annotations

import argparse
import os
import shlex
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from tests.property.cohorts import Cohort, CohortFolder, CohortSpec, spec_argument, write_cohort

STAGES = ("validate", "features", "train", "evaluate", "explain", "report")
PROJECT_DIRS = ("pipeline", "features", "models")
ADDITIVITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Layout:
    """Where each stage reads and writes, mirroring dvc.yaml's paths inside `root`."""

    root: Path

    def __getattr__(self, name: str) -> Path:
        paths = {
            "raw": "raw", "configs": "configs", "params": "params.yaml",
            "validated": "data/validated", "validation_report": "reports/validation",
            "features": "data/features", "features_json": "reports/features.json",
            "dictionary_md": "reports/feature_dictionary.md", "model": "artifacts/model",
            "training_json": "reports/training.json", "metrics": "reports/metrics.json",
            "evaluation": "reports/evaluation.json", "plots": "reports/plots",
            "figures": "reports/figures", "test_predictions": "reports/test_predictions.csv",
            "reports": "reports", "predictions": "reports/predictions.csv",
            "explanations": "reports/explanations.csv",
            "meta": "reports/explanations_meta.json", "patients": "reports/patients",
            "dvc_lock": "dvc.lock",  # absent: train records no DVC hashes
        }
        if name not in paths:
            raise AttributeError(name)
        return self.root / paths[name]


def stage_args(stage: str, p: Layout, max_patients: int) -> list[str]:
    """dvc.yaml's command line for `stage` (without `txresponse`), pointed into `p.root`."""
    s = str
    return {
        "validate": ["validate", "--raw", s(p.raw), "--out", s(p.validated),
                     "--report", s(p.validation_report),
                     "--params", s(p.params), "--configs", s(p.configs)],
        "features": ["features", "--validated", s(p.validated), "--out", s(p.features),
                     "--report", s(p.features_json), "--dictionary", s(p.dictionary_md),
                     "--params", s(p.params), "--configs", s(p.configs)],
        "train": ["train", "--features", s(p.features), "--validated", s(p.validated),
                  "--out", s(p.model), "--report", s(p.training_json),
                  "--params", s(p.params), "--dvc-lock", s(p.dvc_lock)],
        "evaluate": ["evaluate", "--features", s(p.features), "--validated", s(p.validated),
                     "--model", s(p.model), "--metrics", s(p.metrics),
                     "--details", s(p.evaluation), "--plots", s(p.plots),
                     "--figures", s(p.figures), "--predictions", s(p.test_predictions),
                     "--params", s(p.params), "--dictionary", s(p.dictionary_md)],
        "explain": ["explain", "--features", s(p.features), "--model", s(p.model),
                    "--out", s(p.reports)],
        "report": ["report", "--predictions", s(p.predictions),
                   "--explanations", s(p.explanations), "--meta", s(p.meta),
                   "--out", s(p.patients),
                   "--max-patients", s(max_patients)],
    }[stage]


@dataclass
class StageResult:
    stage: str
    args: list[str]
    exit_code: int
    output: str
    exception: BaseException | None
    seconds: float

    @property
    def kind(self) -> str:
        traced = "Traceback (most recent call last)" in self.output
        if self.exit_code == 0 and self.exception is None and not traced:
            return "ok"
        if (isinstance(self.exception, SystemExit) and self.exit_code != 0 and not traced
                and self.output.strip()):
            return "refused"
        return "crashed"

    @property
    def message(self) -> str:
        """The first lines the stage printed (for a refusal: its message)."""
        lines = [line.strip() for line in self.output.strip().splitlines() if line.strip()]
        return " | ".join(lines[:3])[:400]

    def frames(self) -> tuple[str, str]:
        """(innermost frame, innermost frame in pipeline/ features/ models/), as file:line."""
        if self.exception is None or isinstance(self.exception, SystemExit):
            return "", ""
        stack = traceback.extract_tb(self.exception.__traceback__)
        root = Path(__file__).resolve().parents[2]

        def where(frame) -> str:
            path = Path(frame.filename)
            try:
                path = path.resolve().relative_to(root)
            except ValueError:
                parts = path.parts
                path = Path(*parts[parts.index("site-packages") + 1:]) \
                    if "site-packages" in parts else path
            return f"{path}:{frame.lineno}"

        ours = [f for f in stack if Path(f.filename).resolve().is_relative_to(root)
                and Path(f.filename).resolve().relative_to(root).parts[0] in PROJECT_DIRS]
        return where(stack[-1]) if stack else "", where(ours[-1]) if ours else ""

    def signature(self) -> str:
        """What identifies a crash: stage, exception type, where it came from."""
        if self.kind != "crashed":
            return ""
        innermost, ours = self.frames()
        if self.exception is None or isinstance(self.exception, SystemExit):
            why = "traceback printed" if "Traceback" in self.output else "silent exit"
            return f"{self.stage} | exit {self.exit_code} ({why})"
        return f"{self.stage} | {type(self.exception).__name__} | {ours} | {innermost}"

    def describe(self) -> str:
        head = f"{self.stage}: {self.kind} (exit {self.exit_code}, {self.seconds:.1f} s)"
        if self.kind == "crashed" and self.exception is not None \
                and not isinstance(self.exception, SystemExit):
            innermost, ours = self.frames()
            first = (str(self.exception).strip().splitlines() or [""])[0][:300]
            return (f"{head}: {type(self.exception).__name__}: {first}\n"
                    f"    at {ours or '?'} (innermost {innermost})")
        return f"{head}: {self.message}"


@dataclass
class PipelineRun:
    spec: CohortSpec
    folder: CohortFolder
    cohort: Cohort
    results: list[StageResult] = field(default_factory=list)

    @property
    def layout(self) -> Layout:
        return Layout(self.folder.root)

    @property
    def last(self) -> StageResult:
        return self.results[-1]

    @property
    def completed(self) -> bool:
        return len(self.results) == len(STAGES) and all(r.kind == "ok" for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    def summary(self) -> str:
        return "\n".join(r.describe() for r in self.results)

    def commands(self) -> str:
        """The stages as shell commands, to re-run one under a debugger."""
        return "\n".join("txresponse " + shlex.join(r.args) for r in self.results)


@contextmanager
def _working_directory(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_stage(stage: str, layout: Layout, max_patients: int) -> StageResult:
    from pipeline.cli import app

    args = stage_args(stage, layout, max_patients)
    started = time.perf_counter()
    # TXRESPONSE_DEBUG: a crash stays an exception here, not the exit 70 message users see.
    result = CliRunner().invoke(app, args, catch_exceptions=True, color=False,
                                env={"TXRESPONSE_DEBUG": "1"})
    return StageResult(stage, args, result.exit_code, result.output, result.exception,
                       time.perf_counter() - started)


def run_pipeline(spec: CohortSpec, root: Path, stages: tuple[str, ...] = STAGES) -> PipelineRun:
    """Write the cohort into `root` and run `stages` in order, stopping at the first stage that
    does not end ok. Runs with `root` as the working directory."""
    from tests.property.cohorts import FAST

    root.mkdir(parents=True, exist_ok=True)
    folder, cohort = write_cohort(spec, root)
    run = PipelineRun(spec, folder, cohort)
    with _working_directory(root):
        for stage in stages:
            run.results.append(run_stage(stage, run.layout, FAST["max_patients"]))
            if run.last.kind != "ok":
                break
    return run


# --- checks on a completed run -----------------------------------------------------------------

def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def completed_problems(run: PipelineRun) -> list[str]:
    """What is wrong with a run whose six stages all ended ok (empty: nothing)."""
    import json

    from tests.property.cohorts import FAST

    p = run.layout
    problems = []
    # The labels are the contract's outcome (recomputed from the raw assessments here).
    facts = json.loads(p.features_json.read_text(encoding="utf-8"))
    expected = run.cohort.expected_labels
    if facts["labelled"] != len(expected):
        problems.append(f"features.json: {facts['labelled']} labelled, the cohort has "
                        f"{len(expected)}")
    labels = pd.read_parquet(p.features / "labels.parquet").set_index("patient_id")["label"]
    got = {str(k): int(v) for k, v in labels.dropna().items()}
    if got != expected:
        wrong = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
        problems.append(f"labels differ from the contract's outcome for {len(wrong)} patients, "
                        f"e.g. {wrong[:3]}")

    # Exactly additive explanations: base + sum of contributions = calibrated log-odds.
    # pandas >= 3 parses floats round-trip exactly by default (the CSVs hold repr()s).
    # Ids stay text ("0001" is not 1).
    predictions = pd.read_csv(p.predictions, dtype={"patient_id": str})
    explanations = pd.read_csv(p.explanations, dtype={"patient_id": str})
    sums = explanations.groupby("patient_id")["contribution_logodds"].sum()
    indexed = predictions.set_index("patient_id")
    missing = sorted(set(indexed.index) - set(sums.index))
    if missing:
        problems.append(f"{len(missing)} predicted patients have no explanation rows, "
                        f"e.g. {missing[:3]}")
    prob = indexed["calibrated_probability"].to_numpy(dtype=float)
    total = (indexed["base_logodds"] + sums.reindex(indexed.index).fillna(0.0)).to_numpy(float)
    if not np.isfinite(prob).all() or not np.isfinite(total).all():
        problems.append("non-finite calibrated probability, base or contribution")
    else:
        # On the probability scale for every patient (well conditioned everywhere) and on the
        # log-odds scale where the probability is not too close to 0 or 1 to invert.
        gap_p = np.abs(1 / (1 + np.exp(-total)) - prob)
        inner = (prob > 1e-6) & (prob < 1 - 1e-6)
        gap_l = np.abs(total[inner] - _logit(prob[inner]))
        worst_p = float(gap_p.max()) if len(gap_p) else 0.0
        worst_l = float(gap_l.max()) if len(gap_l) else 0.0
        if worst_p > ADDITIVITY_TOLERANCE or worst_l > ADDITIVITY_TOLERANCE:
            problems.append(f"explanations not exactly additive: largest gap {worst_l:.3g} "
                            f"(log-odds), {worst_p:.3g} (probability)")

    # A report for each reported patient (the first max_patients, in predictions order).
    wanted = list(predictions["patient_id"].astype(str))[:FAST["max_patients"]]
    absent = [i for i in wanted if not (p.patients / f"{i}.html").is_file()]
    if absent:
        problems.append(f"no report HTML for {absent}")
    if not (p.patients / "index.html").is_file():
        problems.append("no reports/patients/index.html")
    return problems


# --- reproducing one cohort by hand ------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a described cohort and run the stages.")
    parser.add_argument("spec", help="CohortSpec(...) as Hypothesis printed it, its JSON, or a "
                                     "path to a cohort.json")
    parser.add_argument("out", type=Path, help="a fresh folder for everything the run writes")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="comma-separated stages to run (default: all six)")
    args = parser.parse_args(argv)
    spec = spec_argument(args.spec)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{out / 'mlflow.db'}")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    run = run_pipeline(spec, out, tuple(args.stages.split(",")))
    print(spec.short())
    print(run.summary())
    crashed = [r for r in run.results if r.kind == "crashed"]
    for r in crashed:
        print(f"\n--- {r.stage} output ---\n{r.output[-3000:]}")
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            traceback.print_exception(r.exception)
    if run.completed:
        problems = completed_problems(run)
        print("completed; " + ("; ".join(problems) if problems else "all checks pass"))
    print(f"\nRe-run a stage by hand (cd {out}; MLFLOW_TRACKING_URI="
          f"{os.environ['MLFLOW_TRACKING_URI']}):\n{run.commands()}")


if __name__ == "__main__":
    main()
