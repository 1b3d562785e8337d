"""The benchmarks' measurement helpers: fast, no timing assertions beyond sanity."""
from __future__ import annotations

import sys

import pytest

from benchmarks.incremental import set_max_patients, stages_run
from benchmarks.measure import machine, ratio, run_measured, summarise, versions
from benchmarks.run import BEGIN, END, write_block

HOLD_200_MIB = ("import time\n"
                "block = bytearray(200 * 1024 * 1024)\n"
                "for i in range(0, len(block), 4096):\n"   # touch every page: resident
                "    block[i] = 1\n"
                "time.sleep(0.6)\n")
# A small parent that starts the allocating child and waits for it.
ALLOCATING_CHILD = ("import subprocess, sys\n"
                    f"subprocess.run([sys.executable, '-c', {HOLD_200_MIB!r}], check=True)\n")


def test_peak_memory_includes_children():
    m = run_measured([sys.executable, "-c", ALLOCATING_CHILD])
    assert m.ok
    # The parent itself stays small; the 200 MiB live in the child and must be counted.
    assert m.peak_tree_sampled_mib >= 200
    assert m.peak_mib >= m.peak_tree_sampled_mib
    assert m.max_processes >= 2
    assert m.seconds >= 0.6


def test_failing_command_is_recorded_not_raised(tmp_path):
    log = tmp_path / "out.log"
    m = run_measured([sys.executable, "-c", "print('hello'); raise SystemExit(3)"], log=log)
    assert m.returncode == 3 and not m.ok
    assert "hello" in log.read_text()


def test_timeout_kills_the_process_group():
    m = run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert not m.ok
    assert m.seconds < 10


def test_summarise_median_and_spread():
    s = summarise([3.0, 1.0, 2.0, 10.0])
    assert s["median"] == 2.5 and s["min"] == 1.0 and s["max"] == 10.0 and s["n"] == 4
    assert summarise([5.0])["median"] == 5.0
    assert summarise([])["median"] is None and summarise([])["n"] == 0
    assert summarise([1.23456], digits=2)["median"] == 1.23


def test_ratio():
    assert ratio(6.0, 3.0) == 2.0
    assert ratio(1.0, 0) is None and ratio(None, 1.0) is None


def test_machine_and_versions():
    info = machine()
    assert info["cores"] >= 1 and info["memory_gib"] > 0 and info["cpu_model"]
    v = versions(("numpy", "surely-not-a-package-xyz"))
    assert v["numpy"][0].isdigit() and v["surely-not-a-package-xyz"] == "not installed"


def test_write_block_inserts_after_first_heading_then_replaces_only_the_block(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written intro.\n\n## Section\n\nkept\n")
    write_block(doc, "table one")
    text = doc.read_text()
    assert text.startswith(f"# Benchmarks\n\n{BEGIN}\ntable one\n{END}\n")
    assert text.endswith("Hand-written intro.\n\n## Section\n\nkept\n")
    write_block(doc, "table two")
    again = doc.read_text()
    assert "table one" not in again and "table two" in again
    assert again.replace("table two", "table one") == text
    fresh = tmp_path / "new.md"
    write_block(fresh, "t", title="# Quick")
    assert fresh.read_text().startswith("# Quick\n\n" + BEGIN)


def test_set_max_patients_changes_only_that_value(tmp_path, repo):
    configs = tmp_path / "configs"
    configs.mkdir()
    original = (repo / "configs" / "params.yaml").read_text()
    (configs / "params.yaml").write_text(original)
    set_max_patients(tmp_path, 7)
    changed = (configs / "params.yaml").read_text()
    diff = [(a, b) for a, b in zip(original.splitlines(), changed.splitlines()) if a != b]
    assert len(diff) == 1 and "max_patients: 7" in diff[0][1]
    import yaml
    assert yaml.safe_load(changed)["report"]["max_patients"] == 7


@pytest.mark.parametrize("text, expected", [
    ("Running stage 'report':\n> txresponse report\nUpdating lock file 'dvc.lock'\n",
     ["report"]),
    ("Stage 'validate' didn't change, skipping\nRunning stage 'dvc.yaml:train':\n", ["train"]),
    ("Data and pipelines are up to date.\n", []),
])
def test_stages_run_parses_dvc_output(tmp_path, text, expected):
    log = tmp_path / "repro.log"
    log.write_text(text)
    assert stages_run(log) == expected
