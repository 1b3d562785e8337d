"""Incremental re-runs (issue 8, item 3): after changing only a report parameter, `dvc repro`
re-runs only the `report` stage, in less than 10 % of the full pipeline's time.

In a scratch copy of this project (a fresh git repo) on the demo cohort with the default
params: a full `dvc repro` (measured; further full runs with `dvc repro --force`), then, several
times, `report.max_patients` in configs/params.yaml is set to a new value (1000 -> 500 -> 490
...; a value seen before would be restored from DVC's run cache, not re-run), `dvc status` must
list only `report` as changed, and `dvc repro` is measured again; which stages ran
is read from DVC's own output ("Running stage '...'"). Reported: full and incremental wall times
(median, min-max), their ratio against the 10 % target, and whether only `report` ran.

The copy is kept (its artifacts/model and reports/features.json are "the default model", which
the runner's score benchmark uses).

Quick variant (`--from-project DIR`): instead of a full `dvc repro`, the outputs already made
in DIR by running each stage's command (benchmarks.stages) are recorded with `dvc commit`, and
the "full" time is the sum of those stage times. It checks the mechanism, not the demo figure.

A benchmark: it records, it never asserts or fails on timings.

    .venv/bin/python -m benchmarks.incremental [--full-repeats 2] [--repeats 3]
        [--work DIR] [--out docs/benchmarks/incremental.json]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.measure import machine, now, ratio, run_measured, summarise, tail, versions
from benchmarks.stages import BIN, copy_project, environment

TARGET_FRACTION = 0.10
PARAM = "report.max_patients"
RUNNING = re.compile(r"Running stage '([^']+)'")
RESTORED = re.compile(r"Stage '([^']+)' is cached - skipping run")


def new_value(repetition: int) -> int:
    """A value not used before in this copy (500, 490, 480, ...): a value seen before would be
    restored from DVC's run cache instead of re-running the stage."""
    return 500 - 10 * repetition


def stages_run(log: str | None, pattern: re.Pattern = RUNNING) -> list[str]:
    """Stage names DVC says it ran (or, with RESTORED, restored from its run cache)."""
    text = Path(log).read_text(encoding="utf-8", errors="replace") if log else ""
    return [name.split(":")[-1] for name in pattern.findall(text)]


def set_max_patients(root: Path, value: int) -> None:
    """Change only `max_patients:` under `report:` in configs/params.yaml, keeping the rest of
    the file byte for byte."""
    path = root / "configs" / "params.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    section = None
    for i, line in enumerate(lines):
        if line.strip() and not line[0].isspace() and not line.startswith("#"):
            section = line.split(":")[0].strip()
        elif section == "report" and line.lstrip().startswith("max_patients:"):
            match = re.match(r"(\s*max_patients:\s*)(\d+)(\s*)(.*)", line, re.S)
            old, gap, rest = match.group(2), match.group(3), match.group(4)
            if rest.strip():     # keep a trailing comment in its column
                width = len(old) + len(gap)
                lines[i] = (match.group(1) + str(value)
                            + " " * max(1, width - len(str(value))) + rest)
            else:
                lines[i] = match.group(1) + str(value) + gap + rest
            path.write_text("".join(lines), encoding="utf-8")
            return
    raise ValueError(f"no report.max_patients in {path}")


def changed_stages(root: Path, env: dict) -> list[str] | None:
    """Stages `dvc status` reports as changed (None if it could not be read)."""
    result = subprocess.run([str(BIN / "dvc"), "status", "--json"], cwd=root, env=env,
                            capture_output=True, text=True, check=False)
    try:
        status = json.loads(result.stdout.strip().splitlines()[-1] if result.stdout.strip()
                            else "{}")
    except (json.JSONDecodeError, IndexError):
        return None
    return sorted(name.split(":")[-1] for name in status)


def incremental_benchmark(work: Path, full_repeats: int = 2, repeats: int = 3,
                          from_project: Path | None = None,
                          full_seconds: float | None = None) -> dict:
    env = environment()
    logs = work / "logs"
    full_runs = []
    if from_project is None:
        root = work / "incremental"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        copy_project(root)              # demo cohort, default params
        for r in range(full_repeats):
            cmd = [str(BIN / "dvc"), "repro"] + (["--force"] if r else [])
            print(f"full dvc repro {r + 1}/{full_repeats} ...", flush=True)
            m = run_measured(cmd, cwd=root, env=env, log=logs / f"full-{r}.log")
            row = m.as_dict() | {"stages_run": stages_run(m.log)}
            if not m.ok:
                row["log_tail"] = tail(m.log)
            full_runs.append(row)
            print(f"    {m.seconds:8.1f} s  peak {m.peak_mib:8.0f} MiB, ran "
                  f"{len(row['stages_run'])} stages" + ("" if m.ok else "  FAILED"), flush=True)
            if not m.ok:
                break
        full = summarise([x["seconds"] for x in full_runs if x["returncode"] == 0])
        how_full = "dvc repro from scratch (then dvc repro --force), demo cohort, default params"
    else:
        root = from_project
        m = run_measured([str(BIN / "dvc"), "commit", "--force"], cwd=root, env=env,
                         log=logs / "commit.log")
        full_runs.append(m.as_dict() | {"what": "dvc commit of outputs made stage by stage"})
        full = summarise([full_seconds] if full_seconds is not None else [])
        how_full = ("sum of the stage commands' times in this project (benchmarks.stages), "
                    "outputs recorded with dvc commit (quick mode)")

    runs = []
    if all(x["returncode"] == 0 for x in full_runs):
        for r in range(repeats):
            value = new_value(r)
            set_max_patients(root, value)
            changed = changed_stages(root, env)
            print(f"incremental dvc repro {r + 1}/{repeats} ({PARAM} = {value}) ...",
                  flush=True)
            m = run_measured([str(BIN / "dvc"), "repro"], cwd=root, env=env,
                             log=logs / f"incremental-{r}.log")
            ran, restored = stages_run(m.log), stages_run(m.log, RESTORED)
            row = m.as_dict() | {"value": value, "status_before": changed, "stages_run": ran,
                                 "restored_from_run_cache": restored,
                                 "only_report": ran == ["report"] and not restored}
            if not m.ok:
                row["log_tail"] = tail(m.log)
            runs.append(row)
            print(f"    {m.seconds:8.1f} s, changed {changed}, ran {ran}"
                  + ("" if m.ok else "  FAILED"), flush=True)
    ok = [x for x in runs if x["returncode"] == 0]
    incremental = summarise([x["seconds"] for x in ok])
    fraction = ratio(incremental["median"], full["median"], 4)
    only_report = bool(ok) and all(x["only_report"] and x["status_before"] == ["report"]
                                   for x in ok)
    return {
        "date": now(), "machine": machine(), "versions": versions(),
        "project": str(root), "changed_parameter": PARAM,
        "full": full, "full_how": how_full, "full_runs": full_runs,
        "incremental": incremental, "incremental_runs": runs,
        "fraction_of_full": fraction,
        "targets": {"only_report_reruns": {"target": "only the report stage re-runs",
                                           "met": only_report},
                    "fraction": {"target": f"< {TARGET_FRACTION:.0%} of the full pipeline",
                                 "met": None if fraction is None
                                 else fraction < TARGET_FRACTION}},
        "quick": from_project is not None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full-repeats", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--from-project", type=Path, default=None)
    parser.add_argument("--full-seconds", type=float, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/incremental.json"))
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="txresponse-bench-"))
    result = incremental_benchmark(work, args.full_repeats, args.repeats, args.from_project,
                                   args.full_seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("full", "incremental", "fraction_of_full",
                                             "targets")}, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
