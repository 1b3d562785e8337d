"""`txresponse compare` end to end on a real SQLite MLflow store: three logged training runs
(two on the same test patients, one on other patients), a registered model with aliases."""
from __future__ import annotations

import re

import mlflow
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.compare import _shown_store
from tests.comparison.conftest import fresh_store
from tests.comparison.fake_runs import log_training_run, patients, predictions, register

runner = CliRunner()
MODEL = "txresponse-response"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """One store for the module (creating an MLflow database takes seconds)."""
    folder = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as monkeypatch:
        store = fresh_store(folder, monkeypatch)
        cohort, other = patients(260, seed=1), patients(240, seed=2)
        runs = {
            "champion": log_training_run(store / "a", cohort,
                                         predictions(cohort, noise=1.2, seed=10)),
            "candidate": log_training_run(store / "b", cohort,
                                          predictions(cohort, noise=0.9, seed=11),
                                          params={"hp.num_leaves": 16,
                                                  "train.search_budget": 24}),
            "elsewhere": log_training_run(store / "c", other,
                                          predictions(other, noise=1.0, seed=12),
                                          params={"hp.num_leaves": 8},
                                          tags={"data_digest": "9" * 32,
                                                "raw_dir": "data/raw/other"}),
            "hostile": log_training_run(store / "d", cohort,
                                        predictions(cohort, noise=1.0, seed=13),
                                        params={"hp.note": "<script>alert(1)</script> | x"}),
        }
        register(runs["champion"], MODEL, "champion")
        register(runs["candidate"], MODEL, "candidate")
        yield runs | {"store": store,
                      "ids": set(cohort["patient_id"]) | set(other["patient_id"])}
        mlflow.set_tracking_uri(None)


def test_compare_aliases_and_run_ids(logged):
    out = logged["store"] / "cmp"
    result = runner.invoke(app, ["compare", "champion", f"models:/{MODEL}@candidate",
                                 logged["elsewhere"], "--out", str(out),
                                 "--resamples", "200", "--seed", "3"])
    assert result.exit_code == 0, result.output
    html = (out / "comparison.html").read_text(encoding="utf-8")
    md = (out / "comparison.md").read_text(encoding="utf-8")
    for text in (html, md):
        # aliases resolved to their runs, baseline first
        assert text.index(logged["champion"]) < text.index(logged["candidate"]) \
            < text.index(logged["elsewhere"])
        # the plain sentence with its interval and DeLong's p-value
        sentence = re.search(r"Run B(?:&#39;|')s AUROC is (\d\.\d{3}) (higher|lower) than run "
                             r"A(?:&#39;|')s \(95 % CI −?\d\.\d{3} to −?\d\.\d{3}; DeLong "
                             r"p (=|<) [\d.]+\): (a clear improvement|not a clear improvement|"
                             r"clearly worse|not clearly worse)\.", text)
        assert sentence, text
        assert "Brier score is" in text and "lower is better" in text
        # run C: other patients, said plainly
        assert ("Paired comparison of run C with run A is impossible: different test "
                "patients: run A has 260, run C has 240, 0 in common") in text
        # only the params that differ
        assert "hp.num" in text and "train.search" in text
        assert "features.prediction" not in text and "split.test" not in text
        assert "11 other params are the same in every run" in text
        # lineage of each run
        assert "data/raw/other" in text and "9" * 32 in text
        # no patient id anywhere
        assert [pid for pid in logged["ids"] if pid in text] == []
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert html.count('src="data:image/png;base64,') == 3
    assert "Subgroups" in html and "too small" in html
    assert (out / "figures" / "roc.png").is_file() and "](figures/roc.png)" in md
    assert [pid for pid in logged["ids"] if pid in result.output] == []


def test_unknown_alias_or_run_exits_with_a_clear_message(logged):
    store = logged["store"]
    for reference, message in (("nonexistent", "'nonexistent' is not an alias"),
                               ("0" * 32, "no run with id")):
        result = runner.invoke(app, ["compare", "champion", reference, "--out",
                                     str(store / "x")])
        assert result.exit_code == 2
        assert message in result.output and "Traceback" not in result.output
    assert not (store / "x").exists()
    single = runner.invoke(app, ["compare", "champion", "--out", str(store / "x")])
    assert single.exit_code == 2 and "at least two runs" in single.output


def test_recorded_values_are_escaped(logged):
    a, b = logged["champion"], logged["hostile"]
    out = logged["store"] / "escaped"
    result = runner.invoke(app, ["compare", a, b, "--out", str(out), "--resamples", "100"])
    assert result.exit_code == 0, result.output
    html = (out / "comparison.html").read_text(encoding="utf-8")
    md = (out / "comparison.md").read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<script" not in md and r"&lt;script&gt;alert(1)&lt;/script&gt; \| x" in md


def test_store_shown_without_credentials():
    assert _shown_store("https://reviewer:secret@mlflow.example.org:5000/") == \
        "https://mlflow.example.org:5000/"
    assert _shown_store("sqlite:////work/main/mlflow.db") == "sqlite:////work/main/mlflow.db"


def test_subgroup_margins_come_from_the_criteria_file(logged, tmp_path):
    """compare reads subgroup_auroc_margin and subgroup_ici_margin from the reviewers' file
    (configs/promotion.yaml, as promote does); changing them changes what is marked worse."""
    a, b = logged["champion"], logged["elsewhere"]
    pages = {}
    for name, margins in (("tight", "0.0"), ("loose", "1.0")):
        criteria = tmp_path / f"{name}.yaml"
        criteria.write_text(f"subgroup_auroc_margin: {margins}\nsubgroup_ici_margin: {margins}\n",
                            encoding="utf-8")
        out = logged["store"] / f"margins-{name}"
        result = runner.invoke(app, ["compare", a, b, "--out", str(out), "--resamples", "100",
                                     "--criteria", str(criteria)])
        assert result.exit_code == 0, result.output
        pages[name] = (out / "comparison.md").read_text(encoding="utf-8")
        assert f"by more than {float(margins)} or its ICI higher by more than " \
               f"{float(margins)} (margins: " in pages[name] and f"{name}.yaml)" in pages[name]
    assert "**Run B is worse in" in pages["tight"]
    assert "**Run B is worse in" not in pages["loose"]
    assert "No subgroup where a later run is worse by these margins." in pages["loose"]
    typo = tmp_path / "typo.yaml"
    typo.write_text("subgroup_auroc_margn: 0.1\n", encoding="utf-8")
    result = runner.invoke(app, ["compare", a, b, "--out", str(tmp_path / "x"),
                                 "--criteria", str(typo)])
    assert result.exit_code == 2 and "subgroup_auroc_margn" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_runs_validated_differently_are_flagged_in_the_comparison(logged):
    """A cross-validated run beside a held-out one: each row names its validation, and the
    comparison warns that the figures were estimated differently."""
    cohort = patients(260, seed=1)
    resampled = log_training_run(logged["store"] / "cv", cohort,
                                 predictions(cohort, noise=1.0, seed=14),
                                 params={"split.strategy": "cross_validation",
                                         "split.folds": 5})
    out = logged["store"] / "cmp-validation"
    result = runner.invoke(app, ["compare", logged["champion"], resampled, "--out", str(out),
                                 "--resamples", "200", "--seed", "3"])
    assert result.exit_code == 0, result.output
    md = (out / "comparison.md").read_text(encoding="utf-8")
    assert "(held-out test set)" in md and "(5-fold cross-validation)" in md
    assert ("Run A's figures come from held-out test set, run B's from 5-fold "
            "cross-validation: figures estimated differently are not directly comparable") in md
    same = runner.invoke(app, ["compare", logged["champion"], logged["candidate"], "--out",
                               str(logged["store"] / "cmp-same"), "--resamples", "200"])
    assert same.exit_code == 0, same.output
    assert "estimated differently" not in \
        (logged["store"] / "cmp-same" / "comparison.md").read_text(encoding="utf-8")
