"""Stage timings and scaling (issue 8, item 2): wall time and peak memory of every pipeline
stage on simulated cohorts of several sizes, and of `txresponse score` on a large cohort.

Stages. For each cohort size, a simulated cohort (cached under build/bench/cohorts/, keyed by
size and seed) and, per repetition, a fresh scratch copy of this project (tracked and new
unignored files, a fresh git repo) with the DEFAULT params except `data.raw_dir`, which points
at the cohort. Each stage's command is taken from dvc.yaml as DVC resolves it
(`Repo(root).index.stages`, in dependency order) and run on its own, in order, as a measured
subprocess: wall time (perf_counter) and peak memory (peak of the summed RSS of the process and
all its descendants). Reported per stage: median and min-max over repetitions, and the growth
of the median from 10,000 to 100,000 patients against the target (at most 12x). `simulate` is
timed once, when a cohort is first generated (it is not a pipeline stage).

Score. `txresponse score` on a cached simulated cohort of new patients (default 1,000,000, from
the demo's clinics) with a trained model from a project copy (the runner uses the incremental
benchmark's copy: the default params on the demo cohort, i.e. the default model). Reported:
end-to-end rate (patients / wall seconds), prediction-with-explanation rate (patients /
score_summary.json's seconds.predict_explain) and peak memory, against the targets (>= 5,000
patients/s predicting with explanations; peak < 4 GiB).

A benchmark: it records, it never asserts or fails on timings.

    .venv/bin/python -m benchmarks.stages [--sizes 1000,10000,100000] [--repeats 3,3,2]
        [--out docs/benchmarks/stages.json]
    .venv/bin/python -m benchmarks.stages --score-only --score-patients 1000000
        --model-project DIR [--out docs/benchmarks/score.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.measure import (machine, now, load_average, ratio, run_measured, summarise,
                                tail, versions)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BENCH = REPO / "build" / "bench"
COHORTS = BENCH / "cohorts"
SITE_SEED = 20261126          # the demo's clinics
STAGE_SEED = 8001             # patients of the scaling cohorts
SCORE_SEED = 9001             # new patients for `score`
GROWTH_TARGET = 12.0          # 10k -> 100k, every stage
SCORE_RATE_TARGET = 5000      # patients per second, predictions with explanations
SCORE_MEMORY_TARGET_MIB = 4096
STAGE_TIMEOUT = 900           # seconds; a stage still running is stopped and reported as such


def environment() -> dict:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)   # each copy uses its own SQLite store
    return env


def run(args, cwd, env, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            check=False, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


# -- cohorts --------------------------------------------------------------------------------

def cohort(n: int, seed: int, site_seed: int = SITE_SEED, cache: Path = COHORTS,
           log_dir: Path | None = None) -> dict:
    """A simulated cohort, generated once and cached as <cache>/p<n>-s<seed>[-site<s>]/.
    Returns its raw folder, truth file and the measurement of the simulate call that made it."""
    key = f"p{n}-s{seed}" + ("" if site_seed == SITE_SEED else f"-site{site_seed}")
    folder = cache / key
    meta_path = folder / "simulate.json"
    if meta_path.exists() and (folder / "raw").is_dir():
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return meta
    scratch = cache / f".{key}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    cmd = [str(BIN / "txresponse"), "simulate", "--patients", str(n), "--seed", str(seed),
           "--site-seed", str(site_seed), "--out", str(scratch / "raw"),
           "--truth", str(scratch / "truth.csv")]
    print(f"simulating {n:,} patients (seed {seed}) ...", flush=True)
    m = run_measured(cmd, cwd=REPO, env=environment(),
                     log=(log_dir or cache) / f"simulate-{key}.log")
    if not m.ok:
        raise RuntimeError(f"simulate failed: {tail(m.log)}")
    meta = {"patients": n, "seed": seed, "site_seed": site_seed, "date": now(),
            "simulate": m.as_dict(), "raw": str(folder / "raw"),
            "truth": str(folder / "truth.csv")}
    (scratch / "simulate.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    meta["cached"] = False
    return meta


# -- project copies -------------------------------------------------------------------------

def copy_project(root: Path, raw_dir: str | None = None, params: dict | None = None,
                 repo: Path = REPO) -> dict:
    """Copy tracked and new unignored files of `repo` into `root` (a fresh git repo, committed)
    with the default params except `data.raw_dir` (and any `params` section updates).
    Returns the environment to run commands in it with."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = repo / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    params_path = root / "configs" / "params.yaml"
    if raw_dir is not None or params:
        # Edit the one line, keeping the file's comments and layout otherwise.
        values = yaml.safe_load(params_path.read_text())
        if raw_dir is not None:
            values["data"]["raw_dir"] = str(raw_dir)
        for section, changes in (params or {}).items():
            values[section].update(changes)
        params_path.write_text(yaml.safe_dump(values, sort_keys=False))
    env = environment()
    for args in (["git", "init", "-q"],
                 ["git", "config", "user.email", "bench@txresponse.invalid"],
                 ["git", "config", "user.name", "txresponse benchmark"],
                 ["git", "add", "-A"], ["git", "commit", "-qm", "benchmark snapshot"]):
        run(args, root, env)
    return env


def stage_commands(root: Path) -> list[tuple[str, str]]:
    """(name, command) of every stage of dvc.yaml in `root`, as DVC resolves them, in an order
    where each stage comes after the stages it depends on (ties: dvc.yaml order)."""
    code = ("import json, sys\n"
            "import networkx as nx\n"
            "from dvc.repo import Repo\n"
            "repo = Repo(sys.argv[1])\n"
            "stages = list(repo.index.stages)\n"
            "order = {s: i for i, s in enumerate(stages)}\n"
            "graph = repo.index.graph  # edges: stage -> the stages it depends on\n"
            "ordered = nx.lexicographical_topological_sort(graph.reverse(copy=True),"
            " key=lambda s: order.get(s, 0))\n"
            "print(json.dumps([[s.addressing, s.cmd] for s in ordered"
            " if getattr(s, 'cmd', None)]))\n")
    out = run([sys.executable, "-c", code, str(root)], root, environment()).stdout
    return [tuple(x) for x in json.loads(out.strip().splitlines()[-1])]


# -- stages ---------------------------------------------------------------------------------

def stages_once(raw_dir: str, work: Path, log_dir: Path,
                timeout: float = STAGE_TIMEOUT) -> dict:
    """One repetition: a fresh project copy, every stage in order, each measured. A stage that
    runs longer than `timeout` is stopped and recorded as timed out (its time a lower bound)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = copy_project(work, raw_dir=raw_dir)
    out = {"stages": {}, "load_average_before": load_average()}
    for name, cmd in stage_commands(work):
        m = run_measured(cmd, cwd=work, env=env, shell=True, log=log_dir / f"{name}.log",
                         timeout=timeout)
        timed_out = not m.ok and m.seconds >= timeout
        out["stages"][name] = m.as_dict() | {"timed_out": timed_out}
        print(f"    {name:<11} {m.seconds:8.1f} s  peak {m.peak_mib:8.0f} MiB"
              + ("" if m.ok else f"  TIMED OUT after {timeout:.0f} s" if timed_out
                 else f"  FAILED ({m.returncode})"), flush=True)
        if not m.ok:
            out["failed"] = {"stage": name, "returncode": m.returncode, "timed_out": timed_out,
                             "log_tail": tail(m.log)}
            break
    return out


def stages_benchmark(sizes: dict[int, int], work_root: Path, seed: int = STAGE_SEED,
                     keep_last: bool = False, timeout: float = STAGE_TIMEOUT) -> dict:
    """`sizes`: patients -> repetitions."""
    result = {"date": now(), "machine": machine(), "versions": versions(),
              "params": "configs/params.yaml defaults; only data.raw_dir changed",
              "seed": seed, "site_seed": SITE_SEED, "stage_timeout_seconds": timeout,
              "sizes": {}}
    for n, repeats in sizes.items():
        meta = cohort(n, seed, log_dir=work_root / "logs")
        print(f"stages on {n:,} patients, {repeats} repetition(s)", flush=True)
        runs = []
        for r in range(repeats):
            work = work_root / f"stages-p{n}-r{r}"
            runs.append(stages_once(meta["raw"], work, work_root / "logs" / f"p{n}-r{r}",
                                    timeout))
            last = r == repeats - 1
            if not (keep_last and last):
                shutil.rmtree(work, ignore_errors=True)
            if runs[-1].get("failed", {}).get("timed_out"):
                print(f"    a stage timed out: no further repetitions at {n:,}", flush=True)
                break
        names = list(dict.fromkeys(s for run_ in runs for s in run_["stages"]))
        per_stage = {}
        for name in names:
            ok = [run_["stages"][name] for run_ in runs
                  if name in run_["stages"] and run_["stages"][name]["returncode"] == 0]
            tried = [run_["stages"][name] for run_ in runs if name in run_["stages"]]
            late = [m for m in tried if m.get("timed_out")]
            per_stage[name] = {"seconds": summarise([m["seconds"] for m in ok]),
                               "peak_mib": summarise([m["peak_mib"] for m in ok], 1),
                               "timed_out_runs": len(late),
                               # Stopped runs: their time is a lower bound, their peak so far.
                               "at_least_seconds": (round(min(m["seconds"] for m in late), 1)
                                                    if late else None),
                               "peak_mib_so_far": (round(max(m["peak_mib"] for m in late), 1)
                                                   if late else None),
                               "failed_runs": sum(1 for m in tried if m["returncode"] != 0
                                                  and not m.get("timed_out"))}
        complete = [run_ for run_ in runs if "failed" not in run_]
        result["sizes"][str(n)] = {
            "repeats": repeats, "repetitions_run": len(runs), "cohort": meta, "stages": per_stage,
            "pipeline_seconds": summarise([sum(m["seconds"] for m in run_["stages"].values())
                                           for run_ in complete]),
            "failures": [run_["failed"] for run_ in runs if "failed" in run_],
            "runs": runs,
            "project": str(work_root / f"stages-p{n}-r{repeats - 1}") if keep_last else None,
        }
    result["growth"] = growth(result)
    return result


def growth(result: dict, small: str = "10000", large: str = "100000") -> dict:
    """Median time at `large` over median time at `small`, per stage, against the target."""
    sizes = result["sizes"]
    if small not in sizes or large not in sizes:
        return {}
    out = {}
    for name, s in sizes[large]["stages"].items():
        a = s["seconds"]["median"]
        b = sizes[small]["stages"].get(name, {}).get("seconds", {}).get("median")
        r = ratio(a, b, 2)
        at_least = None
        if r is None and s.get("at_least_seconds"):
            # Timed out at the large size: the ratio is at least timeout / small time; above
            # the target that is a miss, below it unknown.
            at_least = ratio(s["at_least_seconds"], b, 2)
        met_ = (r <= GROWTH_TARGET if r is not None else
                False if at_least is not None and at_least > GROWTH_TARGET else None)
        out[name] = {"from": small, "to": large, "time_ratio": r, "target": GROWTH_TARGET,
                     "time_ratio_at_least": at_least, "met": met_,
                     "memory_ratio": ratio(s["peak_mib"]["median"],
                                           sizes[small]["stages"].get(name, {})
                                           .get("peak_mib", {}).get("median"), 2)}
    return out


# -- score ----------------------------------------------------------------------------------

def score_benchmark(model_project: Path, n: int, work_root: Path, repeats: int = 1,
                    seed: int = SCORE_SEED, chunk_patients: int = 50_000, workers: int = 1,
                    max_reports: int = 1000, keep_outputs: bool = False) -> dict:
    """`txresponse score` on `n` new patients with the model trained in `model_project`."""
    meta = cohort(n, seed, log_dir=work_root / "logs")
    env = environment()
    runs = []
    for r in range(repeats):
        out_dir = work_root / f"score-p{n}-r{r}"
        shutil.rmtree(out_dir, ignore_errors=True)
        cmd = [str(BIN / "txresponse"), "score", "--data", meta["raw"], "--out", str(out_dir),
               "--model-dir", "artifacts/model",
               "--params", "configs/params.yaml", "--configs", "configs",
               "--chunk-patients", str(chunk_patients), "--workers", str(workers),
               # Parquet: a million patients' long-format explanations are 35 million rows,
               # 2.2 GB and about 100 s to write as CSV.
               "--format", "parquet", "--max-reports", str(max_reports)]
        print(f"score on {n:,} patients (repetition {r + 1}/{repeats}) ...", flush=True)
        m = run_measured(cmd, cwd=model_project, env=env,
                         log=work_root / "logs" / f"score-p{n}-r{r}.log")
        row = m.as_dict()
        summary_path = out_dir / "score_summary.json"
        row["summary"] = (json.loads(summary_path.read_text())
                          if summary_path.exists() else None)
        reports = out_dir / "patients"
        row["reports_written"] = (sum(1 for p in reports.glob("*.html")
                                      if p.name != "index.html") if reports.is_dir() else 0)
        if not m.ok:
            row["log_tail"] = tail(m.log)
        print(f"    {m.seconds:8.1f} s  peak {m.peak_mib:8.0f} MiB"
              + ("" if m.ok else f"  FAILED ({m.returncode})"), flush=True)
        runs.append(row)
        if not keep_outputs:
            shutil.rmtree(out_dir, ignore_errors=True)
    ok = [x for x in runs if x["returncode"] == 0]
    wall = summarise([x["seconds"] for x in ok])
    peak = summarise([x["peak_mib"] for x in ok], 1)
    pe = [x["summary"]["seconds"].get("predict_explain") for x in ok
          if x.get("summary") and isinstance(x["summary"].get("seconds"), dict)]
    pe_s = summarise([v for v in pe if v])
    rate_end_to_end = summarise([n / x["seconds"] for x in ok], 0)
    rate_pe = summarise([n / v for v in pe if v], 0)
    return {
        "date": now(), "machine": machine(), "versions": versions(), "patients": n,
        "cohort": meta, "model_project": str(model_project), "format": "parquet",
        "chunk_patients": chunk_patients, "workers": workers, "max_reports": max_reports,
        "repeats": repeats, "wall_seconds": wall, "peak_mib": peak,
        "predict_explain_seconds": pe_s,
        "rate_end_to_end": rate_end_to_end, "rate_predict_explain": rate_pe,
        "targets": {
            "rate_predict_explain": {"target": f">= {SCORE_RATE_TARGET} patients/s",
                                     "met": None if rate_pe["median"] is None
                                     else rate_pe["median"] >= SCORE_RATE_TARGET},
            "peak_memory": {"target": f"< {SCORE_MEMORY_TARGET_MIB} MiB",
                            "met": None if peak["median"] is None
                            else peak["max"] < SCORE_MEMORY_TARGET_MIB},
        },
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", default="3,3,2", help="one per size, or one for all")
    parser.add_argument("--seed", type=int, default=STAGE_SEED)
    parser.add_argument("--stage-timeout", type=float, default=STAGE_TIMEOUT,
                        help="seconds after which a stage is stopped and reported as such")
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder for project copies (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/stages.json"))
    parser.add_argument("--score-only", action="store_true")
    parser.add_argument("--score-patients", type=int, default=1_000_000)
    parser.add_argument("--score-repeats", type=int, default=1)
    parser.add_argument("--model-project", type=Path,
                        help="a project copy with a trained model (artifacts/model, "
                             "reports/features.json)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="txresponse-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.score_only:
        if args.model_project is None:
            parser.error("--score-only needs --model-project")
        result = score_benchmark(args.model_project.resolve(), args.score_patients, work,
                                 repeats=args.score_repeats)
    else:
        sizes = [int(x) for x in args.sizes.split(",")]
        reps = [int(x) for x in args.repeats.split(",")]
        reps = reps * len(sizes) if len(reps) == 1 else reps
        result = stages_benchmark(dict(zip(sizes, reps)), work, seed=args.seed,
                                  timeout=args.stage_timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
