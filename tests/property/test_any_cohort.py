"""Whole-pipeline property: for any contract-valid cohort, validate -> features -> train ->
evaluate -> explain -> report either completes, with exactly additive explanations and a report
per reported patient, or stops with the pipeline's own clear error (a non-zero exit with a
message and no traceback). No other exception may escape.

Two profiles:

- `test_any_cohort` (runs in `make test`): the edge cohorts below plus a few derandomized
  Hypothesis examples (deterministic in CI, no shrinking): nine examples, about 30 s; one
  example takes 0.5-3 s when training refuses and 3-10 s when all six stages run.
- `test_any_cohort_long` (marked `slow`, and skipped unless TXRESPONSE_PROPERTY_LONG=1): 200
  random examples (TXRESPONSE_PROPERTY_EXAMPLES to change), with shrinking and the example
  database, e.g.

      TXRESPONSE_PROPERTY_LONG=1 .venv/bin/python -m pytest tests/property -m slow \
          --hypothesis-show-statistics -p no:cacheprovider

  TXRESPONSE_PROPERTY_IGNORE="sig one;sig two" treats crashes whose signature contains one of
  the substrings as known (recorded as an event, not a failure), so a run can get past a bug
  that is already reported (Hypothesis stops looking for more bugs ten seconds after the
  first, so without it one run reports one or two); TXRESPONSE_PROPERTY_LOG=/path.jsonl
  appends one line per example (spec, stage outcomes, crash signature, seconds).

A failure prints the cohort as `CohortSpec(...)`; reproduce it outside pytest with
`.venv/bin/python -m tests.property.stages "CohortSpec(...)" /tmp/cohort`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import mlflow
import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings

from tests.property.cohorts import (
    OPTIONAL_TABLES, TABLE_OPTIONAL_COLUMNS, CohortSpec, build_tables, cohort_specs,
    expected_labels,
)
from tests.property.stages import PipelineRun, completed_problems, run_pipeline

ALL_TABLE_COLUMNS = tuple(sorted(f"{t}.{c}" for t in OPTIONAL_TABLES
                                 for c in TABLE_OPTIONAL_COLUMNS[t]))
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.differing_executors]

DEFAULT = settings(max_examples=4, deadline=None, derandomize=True, database=None,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=_HEALTH,
                   print_blob=False)
# No explain phase: at seconds per example it used up the shrinker's five minutes.
LONG = settings(max_examples=int(os.environ.get("TXRESPONSE_PROPERTY_EXAMPLES", "200")),
                deadline=None, suppress_health_check=_HEALTH, print_blob=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                        Phase.shrink])

# The edges every `make test` run covers, whatever Hypothesis draws.
EDGES = [
    # 20 patients, one numeric patient column, one scale, no optional tables, one site.
    CohortSpec(n_patients=20, seed=1, prevalence=0.5, patient_columns=("age_years",)),
    # Nobody responds; all optional tables.
    CohortSpec(n_patients=60, seed=2, prevalence=0.0, patient_columns=("age_years", "sex"),
               n_sites=2, tables=OPTIONAL_TABLES, table_columns=ALL_TABLE_COLUMNS),
    # Everybody responds; no `site` column (the contract lets it be absent).
    CohortSpec(n_patients=60, seed=3, prevalence=1.0, patient_columns=("bmi", "diagnosis"),
               n_sites=0),
    # Only categorical patient columns, a diagnosis level only one or two patients have, a
    # PHQ-9 target with two other scales, three unequal sites, trimmed registries, some
    # missing cells and unlabelled patients.
    CohortSpec(n_patients=120, seed=4, prevalence=0.3, scales=("phq9", "hamd17", "cadss"),
               target="phq9", patient_columns=("sex", "diagnosis", "employment"), n_sites=3,
               site_skew=True, tables=OPTIONAL_TABLES, table_columns=ALL_TABLE_COLUMNS,
               missing_fraction=0.1, rare_diagnosis=True, unlabelled_fraction=0.1,
               trim_registries=True, train_model="logistic"),
    # Constant patient columns, remission on QIDS-SR16, a whole site held out, LightGBM.
    CohortSpec(n_patients=150, seed=5, prevalence=0.4, scales=("qids_sr16", "madrs"),
               target="qids_sr16", definition="remission",
               patient_columns=("age_years", "sex", "comorbid_ptsd", "years_education"),
               n_sites=2, tables=("treatments",),
               table_columns=tuple(c for c in ALL_TABLE_COLUMNS if c.startswith("treatments")),
               constant_columns=True, holdout_site=True, search_budget=2,
               train_model="lightgbm"),
]


@pytest.fixture(scope="module")
def property_store(tmp_path_factory):
    """One MLflow SQLite store shared by every example (creating one takes seconds), and a
    folder for the cohorts; the project's mlflow.db is never touched. Module-scoped so the
    environment is restored before other test modules run."""
    folder = tmp_path_factory.mktemp("property")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID and keeps a module global: setenv
        # then delenv records the original state, so teardown restores both.
        patch.setenv("MLFLOW_EXPERIMENT_ID", "")
        patch.delenv("MLFLOW_EXPERIMENT_ID")
        patch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
        yield folder
        mlflow.set_tracking_uri(None)


def _edges(spec: CohortSpec) -> list[str]:
    found = []
    if spec.prevalence in (0.0, 1.0):
        found.append(f"prevalence {spec.prevalence:g}")
    if spec.n_patients == 20:
        found.append("20 patients")
    if spec.n_sites <= 1:
        found.append("no site column" if spec.n_sites == 0 else "one site")
    numeric = {"age_years", "bmi", "episode_months", "years_education"}
    if len(spec.patient_columns) == 1 and spec.patient_columns[0] in numeric:
        found.append("one numeric patient column")
    if spec.patient_columns and set(spec.patient_columns) <= {"sex", "diagnosis", "employment"}:
        found.append("only categorical patient columns")
    if not spec.tables:
        found.append("no optional tables")
    if spec.target != "madrs":
        found.append("target other than MADRS")
    for flag in ("constant_columns", "rare_diagnosis", "trim_registries", "holdout_site"):
        if getattr(spec, flag):
            found.append(flag.replace("_", " "))
    return found


def _normalised(text: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "#", text)[:110]


def _log(run: PipelineRun, problems: list[str], root: Path) -> None:
    path = os.environ.get("TXRESPONSE_PROPERTY_LOG")
    if not path:
        return
    line = {"spec": json.loads(run.spec.to_json()), "short": run.spec.short(),
            "folder": str(root), "completed": run.completed, "problems": problems,
            "seconds": round(run.seconds, 2),
            "stages": [{"stage": r.stage, "kind": r.kind, "seconds": round(r.seconds, 2),
                        "exit_code": r.exit_code, "message": r.message,
                        "signature": r.signature(),
                        "exception": None if r.exception is None else
                        f"{type(r.exception).__name__}: {str(r.exception)[:500]}",
                        "frames": list(r.frames())} for r in run.results]}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def check_cohort(spec: CohortSpec, base: Path, ignore: tuple[str, ...] = ()) -> None:
    """The property for one cohort (raises on a violation)."""
    for edge in _edges(spec):
        event(f"cohort: {edge}")
    root = Path(tempfile.mkdtemp(prefix="cohort-", dir=base))
    run = run_pipeline(spec, root)
    last = run.last
    problems = completed_problems(run) if run.completed else []
    _log(run, problems, root)
    reproduce = (f"cohort: {spec.short()}\nfolder: {root}\nreproduce: .venv/bin/python -m "
                 f"tests.property.stages '{spec.to_json()}' /tmp/cohort\n{run.summary()}")
    if last.kind == "crashed":
        signature = last.signature()
        if any(pattern and pattern in signature for pattern in ignore):
            event(f"outcome: known crash at {last.stage}")
            shutil.rmtree(root, ignore_errors=True)
            return
        event(f"outcome: CRASH at {last.stage}")
        exception = last.exception
        if exception is not None and not isinstance(exception, SystemExit):
            # Re-raised as it came out of the pipeline, so its own traceback shows and
            # Hypothesis tells different bugs apart by where they were raised.
            exception.add_note(f"\n[property] {last.stage} crashed on this cohort\n{reproduce}")
            raise exception
        raise AssertionError(f"{last.stage} did not stop cleanly (exit {last.exit_code}, "
                             f"{'a traceback' if 'Traceback' in last.output else 'no message'})"
                             f"\n{last.output[-3000:]}\n{reproduce}")
    if last.kind == "refused":
        event(f"outcome: refused at {last.stage}: {_normalised(last.message)}")
    else:
        event("outcome: completed")
        training = json.loads(run.layout.training_json.read_text(encoding="utf-8"))
        event(f"candidate: {training.get('candidate')}")
        assert not problems, "\n".join(problems) + "\n" + reproduce
    shutil.rmtree(root, ignore_errors=True)


def test_the_strategy_draws_what_it_describes():
    """The labels the cohort promises are the ones the contract's definition gives on the
    written assessments, and the edge cohorts hit their prevalence."""
    for spec in EDGES:
        cohort = build_tables(spec)
        assert expected_labels(cohort.tables["assessments"], spec) == cohort.expected_labels
        if spec.prevalence in (0.0, 1.0):
            assert cohort.expected_prevalence == spec.prevalence


@DEFAULT
@given(cohort=cohort_specs())
@example(cohort=EDGES[0])
@example(cohort=EDGES[1])
@example(cohort=EDGES[2])
@example(cohort=EDGES[3])
@example(cohort=EDGES[4])
def test_any_cohort(property_store, cohort):
    check_cohort(cohort, property_store)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("TXRESPONSE_PROPERTY_LONG") != "1",
                    reason="long profile: set TXRESPONSE_PROPERTY_LONG=1")
@LONG
@given(cohort=cohort_specs())
def test_any_cohort_long(property_store, cohort):
    ignore = tuple(p.strip() for p in os.environ.get("TXRESPONSE_PROPERTY_IGNORE", "").split(";"))
    check_cohort(cohort, property_store, ignore)
