"""Run every benchmark and write one table (issue 8, item 1).

    .venv/bin/python -m benchmarks.run [--quick] [--doc PATH] [--results DIR] [--work DIR]

Full mode (`make bench`): model quality, explanation speed, interval coverage, training cost
(the existing benchmarks, each run as `python -m benchmarks.X --out ...`), incremental re-runs
on the demo cohort, stage timings on 1,000 / 10,000 / 100,000 simulated patients, and `txresponse
score` on 1,000,000 patients with the default model (the one the incremental benchmark's project
copy trains: default params, demo cohort). Raw JSON goes to docs/benchmarks/, the table to
docs/benchmarks.md between the markers `<!-- bench:begin -->` and `<!-- bench:end -->` (only
that block is replaced).

Quick mode (`make bench-quick`, under 2 minutes): reduced sizes, results and table under
build/bench/ (never docs/). Quality on 1,500 patients once, explanation speed --quick on a
1,200-patient development cohort, training cost --quick, stages on 1,000 patients once, the
incremental check on that 1,000-patient copy (outputs recorded with `dvc commit` instead of a
full `dvc repro`), and score on 20,000 patients with the 1,000-patient model; no interval
coverage. The module benchmarks run alongside the pipeline ones (--jobs 2), so quick timings
are contended: it checks that everything runs, not the figures.

Every figure is a median over repetitions with its min-max; targets are checked and reported
(met / not met), never asserted: a benchmark never fails on timings. A benchmark that crashes
is recorded as failed (with its log) and the others still run.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import incremental as incremental_mod
from benchmarks import stages as stages_mod
from benchmarks.measure import (load_average, machine, now, run_measured, summarise, tail,
                                versions)

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
NA = "not available"

FULL = {
    "quality": ["--patients", "5000", "--repeats", "3"],
    "explain": [],
    "uncertainty": [],
    "training_cost": [],
    "stages": {1000: 3, 10000: 3, 100000: 2},   # a stage over 900 s is stopped (stages.py)
    "incremental": {"full_repeats": 2, "repeats": 3},
    # One worker, then two: LightGBM already predicts on both cores in one process, but
    # validation and features are single-threaded, so a second process still pays at 1M.
    "score": {"patients": 1_000_000, "repeats": 1, "workers": [1, 2]},
}
QUICK = {
    "quality": ["--patients", "1500", "--repeats", "1"],
    "explain": ["--quick", "--development", "1200"],
    "uncertainty": None,
    "training_cost": ["--quick"],
    "stages": {1000: 1},
    "incremental": {"full_repeats": 0, "repeats": 1},
    "score": {"patients": 20_000, "repeats": 1, "workers": [1]},
}


# -- running --------------------------------------------------------------------------------

def module_available(name: str) -> bool:
    return importlib.util.find_spec(f"benchmarks.{name}") is not None


def run_module(name: str, args: list[str], out: Path, logs: Path) -> dict:
    """`python -m benchmarks.<name> ARGS --out OUT`, measured; its JSON, or why there is none."""
    if not module_available(name):
        return {"status": NA, "reason": f"benchmarks/{name}.py does not exist (yet)"}
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    cmd = [sys.executable, "-m", f"benchmarks.{name}", *args, "--out", str(out)]
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    m = run_measured(cmd, cwd=REPO, env=stages_mod.environment(), log=logs / f"{name}.log")
    print(f"   {m.seconds:.1f} s, peak {m.peak_mib:.0f} MiB"
          + ("" if m.ok else f", FAILED ({m.returncode})"), flush=True)
    record = {"command": " ".join(cmd[1:]), "measurement": m.as_dict()}
    if not m.ok or not out.exists():
        return record | {"status": "failed", "log_tail": tail(m.log)}
    return record | {"status": "ok", "result": json.loads(out.read_text(encoding="utf-8"))}


def run_training_cost(args: list[str], out: Path, logs: Path) -> dict:
    """training_cost writes before/after when given a baseline. A fresh run has no "before";
    if the recorded file has one (measured on an earlier commit), keep it and recompute the
    speedups against the new figures rather than losing it."""
    previous = None
    if out.exists():
        try:
            previous = json.loads(out.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            previous = None
    scratch = out.with_name(out.stem + ".run.json")
    record = run_module("training_cost", args, scratch, logs)
    if record["status"] != "ok":
        return record
    fresh = record["result"]
    if previous and "before" in previous and "after" not in fresh:
        before = previous["before"]
        speedup = {}
        for name, c in fresh.get("cohorts", {}).items():
            b = before.get("cohorts", {}).get(name)
            if b:
                speedup[name] = {k: round(b[k]["median"] / max(c[k]["median"], 1e-9), 2)
                                 for k in c if isinstance(c.get(k), dict) and "median" in c[k]
                                 and isinstance(b.get(k), dict) and "median" in b[k]}
        fresh = {"before": before, "after": fresh, "speedup": speedup}
        record["result"] = fresh
    out.write_text(json.dumps(fresh, indent=2) + "\n", encoding="utf-8")
    scratch.unlink(missing_ok=True)
    return record


def guarded(name: str, function, *args, **kwargs) -> dict:
    print(f"== {name}", flush=True)
    started = time.perf_counter()
    try:
        result = function(*args, **kwargs)
        return {"status": "ok", "result": result,
                "seconds": round(time.perf_counter() - started, 1)}
    except Exception as error:  # a benchmark that breaks must not stop the others
        traceback.print_exc()
        return {"status": "failed", "log_tail": f"{type(error).__name__}: {error}"[-2000:],
                "seconds": round(time.perf_counter() - started, 1)}


def run_modules(plan: dict, results: Path, logs: Path) -> dict:
    """The benchmarks that are modules of their own, one after the other."""
    out = {}
    for name in ("quality", "explain", "uncertainty"):
        if plan[name] is None:
            out[name] = {"status": "skipped", "reason": "not in quick mode"}
        else:
            out[name] = run_module(name, plan[name], results / f"{name}.json", logs)
    out["training_cost"] = run_training_cost(plan["training_cost"],
                                             results / "training_cost.json", logs)
    return out


def run_pipeline_benchmarks(plan: dict, quick: bool, work: Path) -> dict:
    """Stages, incremental re-runs and score (which needs a trained project copy)."""
    b = {}
    project = None
    if quick:
        # Stages first: the 1,000-patient copy then serves the incremental check and score.
        b["stages"] = guarded("stages", stages_mod.stages_benchmark, plan["stages"],
                              work, keep_last=True)
        full_seconds = None
        if b["stages"]["status"] == "ok":
            size = b["stages"]["result"]["sizes"][str(max(plan["stages"]))]
            project = Path(size["project"]) if size["project"] else None
            full_seconds = size["pipeline_seconds"]["median"]
        if project is not None and full_seconds is not None:
            b["incremental"] = guarded("incremental", incremental_mod.incremental_benchmark,
                                       work / "incremental-logs", 0,
                                       plan["incremental"]["repeats"], from_project=project,
                                       full_seconds=full_seconds)
        else:
            b["incremental"] = {"status": NA, "reason": "the 1,000-patient stages run failed"}
    else:
        # The incremental benchmark's copy trains the default model (demo cohort, default
        # params): score uses it.
        b["incremental"] = guarded("incremental", incremental_mod.incremental_benchmark,
                                   work, plan["incremental"]["full_repeats"],
                                   plan["incremental"]["repeats"])
        if b["incremental"]["status"] == "ok":
            project = Path(b["incremental"]["result"]["project"])
    if project is not None and (project / "artifacts" / "model").is_dir():
        for workers in plan["score"]["workers"]:
            b[score_key(workers)] = guarded(
                "score", stages_mod.score_benchmark, project, plan["score"]["patients"], work,
                repeats=plan["score"]["repeats"], workers=workers)
    else:
        b["score"] = {"status": NA, "reason": "no trained model project"}
    if not quick:
        b["stages"] = guarded("stages", stages_mod.stages_benchmark, plan["stages"], work)
    return b


def score_key(workers: int) -> str:
    return "score" if workers == 1 else f"score_workers{workers}"


def run_all(quick: bool, results: Path, work: Path, jobs: int = 1) -> dict:
    """Every benchmark. With jobs=2 the module benchmarks run alongside the pipeline ones
    (quick mode: faster, contended timings); with jobs=1 one thing at a time."""
    plan = QUICK if quick else FULL
    logs = results / "logs"
    started = time.perf_counter()
    out = {"date": now(), "mode": "quick" if quick else "full", "machine": machine(),
           "versions": versions(), "load_average_at_start": load_average(), "jobs": jobs,
           "benchmarks": {}}
    if jobs > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:
            modules = pool.submit(run_modules, plan, results, logs)
            pipeline = run_pipeline_benchmarks(plan, quick, work)
            modules = modules.result()
    else:
        pipeline = run_pipeline_benchmarks(plan, quick, work)
        modules = run_modules(plan, results, logs)
    out["benchmarks"] = {**modules, **pipeline}
    for name in ("stages", "incremental", *(k for k in out["benchmarks"]
                                           if k.startswith("score"))):
        if out["benchmarks"].get(name, {}).get("status") == "ok":
            (results / f"{name}.json").write_text(
                json.dumps(out["benchmarks"][name]["result"], indent=2) + "\n",
                encoding="utf-8")
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    out["load_average_at_end"] = load_average()
    return out


def load_results(results: Path) -> dict:
    """Rebuild a run from the raw JSON in `results` (for --render-only)."""
    summary = json.loads((results / "run.json").read_text(encoding="utf-8"))
    out = {k: v for k, v in summary.items() if k != "status"}
    out["benchmarks"] = {}
    for name, status in summary.get("status", {}).items():
        path = results / f"{name}.json"
        if status == "ok" and path.exists():
            out["benchmarks"][name] = {"status": "ok",
                                       "result": json.loads(path.read_text(encoding="utf-8"))}
        else:
            out["benchmarks"][name] = {"status": status or NA}
    return out


# -- the table ------------------------------------------------------------------------------

def fmt(x, digits=1, unit="") -> str:
    if x is None:
        return "—"
    if isinstance(x, (int, float)) and abs(x) >= 1000 and digits <= 1:
        return f"{x:,.0f}{unit}"
    return f"{x:.{digits}f}{unit}"


def spread(s: dict, digits=1, unit="") -> str:
    if not s or s.get("min") is None:
        return "—"
    if s.get("n", 0) <= 1:
        return "—"
    return f"{fmt(s['min'], digits)}–{fmt(s['max'], digits)}{unit}"


def met(value) -> str:
    return {True: "met", False: "**not met**", None: "—"}.get(value, str(value))


class Table:
    HEADER = ("measurement", "size", "median", "spread (min–max)", "repetitions", "target",
              "met")

    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, *cells) -> None:
        self.rows.append(tuple(str(c) for c in cells))

    def unavailable(self, what: str, record: dict) -> None:
        reason = record.get("reason") or (record.get("log_tail") or "").strip().splitlines()
        if isinstance(reason, list):
            reason = reason[-1] if reason else ""
        reason = str(reason).replace("|", "/")[:120]
        self.add(what, "—", record.get("status", NA), reason or "—", "—", "—", "—")

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.HEADER) + " |",
                 "|" + "---|" * len(self.HEADER)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def quality_rows(t: Table, record: dict) -> None:
    if record.get("status") != "ok":
        return t.unavailable("quality (benchmarks.quality)", record)
    r = record["result"]
    runs = r["runs"]
    n, size = len(runs), f"{r['runs'][0]['n_development']:,} dev / {runs[0]['n_test']:,} test"

    def candidate(run):
        return next(v for k, v in run["figures"].items() if "candidate" in k)

    rows = [("quality: AUROC / truth's AUROC", [x["ratios"]["auroc"] for x in runs], 3,
             "≥ 0.97", "auroc >= 0.97 x truth"),
            ("quality: Brier / truth's Brier", [x["ratios"]["brier"] for x in runs], 3,
             "≤ 1.04", "brier <= 1.04 x truth"),
            ("quality: calibration slope", [candidate(x)["calibration_slope"] for x in runs],
             3, "0.9–1.1", "calibration slope 0.9-1.1"),
            ("quality: ICI", [candidate(x)["ici"] for x in runs], 4, "≤ 0.02", "ici <= 0.02")]
    for label, values, digits, target, key in rows:
        s = summarise(values, digits)
        k = r["targets_met_in_runs"].get(key, 0)
        t.add(label, size, fmt(s["median"], digits), spread(s, digits), n, target,
              f"met in {k} of {n}" if k == n else f"**met in {k} of {n}**")
    s = summarise([x["train_seconds"] for x in runs])
    t.add("quality: training time (default search)", size, fmt(s["median"], 1, " s"),
          spread(s, 1, " s"), n, "—", "—")


def explain_rows(t: Table, record: dict) -> None:
    if record.get("status") != "ok":
        return t.unavailable("explanation speed (benchmarks.explain)", record)
    r = record["result"]
    for n, timing in r["timings"].items():
        reps = r["repeats"].get(n, len(timing["ours_lightgbm"].get("runs_s", [])))
        size = f"{int(n):,} patients"

        def row(label, key, target="—"):
            x = timing[key]
            s = {"median": x["median_s"], "min": x["min_s"], "max": x["max_s"], "n": reps}
            t.add(label, size, fmt(s["median"], 3, " s"), spread(s, 3, " s"), reps, target,
                  "—")
        row("explain: ours, LightGBM (exact, calibrated)", "ours_lightgbm")
        row("explain: `shap.TreeExplainer` (same model, same run)", "shap_tree_explainer")
        ratio_ = timing["ratios"]["ours_over_shap_tree_explainer"]
        ratio_min = timing["ratios_of_minimums"]["ours_over_shap_tree_explainer"]
        t.add("explain: ratio ours / shap (medians; of minimums)", size, fmt(ratio_, 3),
              f"min ratio {fmt(ratio_min, 3)}", reps, "≤ 1", met(ratio_ <= 1))
        t.add("explain: rate, ours LightGBM", size,
              f"{timing['ours_lightgbm']['patients_per_second']:,} patients/s", "—", reps,
              "—", "—")
        row("explain: `score()` end to end (interval, OOD flags)", "score_end_to_end")


def uncertainty_rows(t: Table, record: dict) -> None:
    if record.get("status") == "skipped":
        return t.add("interval coverage (benchmarks.uncertainty)", "—", "skipped (quick mode)",
                     "—", "—", "—", "—")
    if record.get("status") != "ok":
        return t.unavailable("interval coverage (benchmarks.uncertainty)", record)
    r = record["result"]
    runs = r["runs"]
    size = f"{r['setup']['n_development']:,} dev / {r['setup']['n_test']:,} test"
    pct = lambda s: {k: (v * 100 if isinstance(v, float) and k != "n" else v)  # noqa: E731
                     for k, v in s.items()}
    for label, values in (
            ("coverage: model B inside A's interval × √2",
             [x["replication_b_default_pipeline"]["coverage_sqrt2_widened"] for x in runs]),
            ("coverage: model B inside A's interval",
             [x["replication_b_default_pipeline"]["coverage"] for x in runs]),
            ("coverage: true probability inside",
             [x["coverage_true_probability"] for x in runs])):
        s = pct(summarise(values, 4))
        target = "≈ 95 % (issue 6)" if "√2" in label else "—"
        t.add(label, size, fmt(s["median"], 1, " %"), spread(s, 1, " %"), len(runs), target,
              "see section below" if "√2" in label else "—")


def training_cost_rows(t: Table, record: dict) -> None:
    if record.get("status") != "ok":
        return t.unavailable("training cost (benchmarks.training_cost)", record)
    r = record["result"]
    after = r.get("after", r)
    speedup = r.get("speedup", {})
    reps = after.get("repeats", "—")
    for name, c in after.get("cohorts", {}).items():
        size = f"{name} ({c.get('n_development', '?'):,} dev)" if isinstance(
            c.get("n_development"), int) else name
        for key in ("search_seconds", "bootstrap_seconds", "train_seconds"):
            s = c.get(key)
            if not isinstance(s, dict):
                continue
            s = {**s, "n": reps if isinstance(reps, int) else 1}
            gain = speedup.get(name, {}).get(key)
            target = f"before / after: {gain}×" if gain is not None else "—"
            t.add(f"training cost: {key.replace('_seconds', '')}", size,
                  fmt(s["median"], 1, " s"), spread(s, 1, " s"), reps, target, "—")


def stage_rows(t: Table, record: dict) -> None:
    if record.get("status") != "ok":
        return t.unavailable("stage timings (benchmarks.stages)", record)
    r = record["result"]
    growth = r.get("growth", {})
    for n, size in r["sizes"].items():
        label_n = f"{int(n):,} patients"
        sim = size["cohort"]["simulate"]
        cached = size["cohort"].get("cached")
        t.add("simulate (not a pipeline stage)" + (", when first cached" if cached else ""),
              label_n, f"{fmt(sim['seconds'])} s · {fmt(sim['peak_mib'], 0)} MiB", "—", 1, "—",
              "—")
        for name, s in size["stages"].items():
            sec, mem = s["seconds"], s["peak_mib"]
            target, ok = "—", None
            g = growth.get(name)
            if g and n == g["to"]:
                target = f"≤ {g['target']:g}× the 10,000 time (here {fmt(g['time_ratio'], 1)}×)"
                ok = g["met"]
            if g and n == g["to"] and g.get("time_ratio_at_least") is not None:
                target = (f"≤ {g['target']:g}× the 10,000 time (here ≥ "
                          f"{fmt(g['time_ratio_at_least'], 1)}×)")
                ok = g["met"]
            median = f"{fmt(sec['median'])} s · {fmt(mem['median'], 0)} MiB"
            if sec["median"] is None and s.get("at_least_seconds") is not None:
                median = (f"> {fmt(s['at_least_seconds'], 0)} s (stopped) · "
                          f"≥ {fmt(s['peak_mib_so_far'], 0)} MiB so far")
            sp = ("—" if sec["n"] <= 1 else
                  f"{fmt(sec['min'])}–{fmt(sec['max'])} s · "
                  f"{fmt(mem['min'], 0)}–{fmt(mem['max'], 0)} MiB")
            failed = (f" ({s['failed_runs']} failed)" if s.get("failed_runs") else
                      f" ({s['timed_out_runs']} timed out)" if s.get("timed_out_runs") else "")
            t.add(f"stage `{name}`: time · peak memory", label_n, median, sp,
                  f"{sec['n']}{failed}", target, met(ok))
        failures = [f for f in size.get("failures", []) if not f.get("timed_out")]
        if failures:
            f = failures[0]
            t.add(f"stage `{f['stage']}` failed", label_n, "—",
                  (f["log_tail"].strip().splitlines() or ["—"])[-1].replace("|", "/")[:120],
                  "—", "—", "—")
        p = size["pipeline_seconds"]
        t.add("all stages, summed", label_n, fmt(p["median"], 1, " s"), spread(p, 1, " s"),
              p["n"], "—", "—")


def incremental_rows(t: Table, record: dict) -> None:
    if record.get("status") != "ok":
        return t.unavailable("incremental re-runs (benchmarks.incremental)", record)
    r = record["result"]
    size = "demo, 2,000 patients" if not r["quick"] else "1,000 patients (quick)"
    f, i = r["full"], r["incremental"]
    t.add("`dvc repro`, full pipeline" if not r["quick"]
          else "full pipeline (stage commands summed; quick)", size,
          fmt(f["median"], 1, " s"), spread(f, 1, " s"), f["n"], "—", "—")
    ran = sorted({s for x in r["incremental_runs"] for s in x["stages_run"]})
    t.add(f"`dvc repro` after changing only `{r['changed_parameter']}`", size,
          fmt(i["median"], 1, " s"), spread(i, 1, " s"), i["n"],
          f"only `report` re-runs (ran: {', '.join(ran) or 'none'})",
          met(r["targets"]["only_report_reruns"]["met"]))
    frac = r["fraction_of_full"]
    t.add("incremental / full", size, "—" if frac is None else f"{frac * 100:.1f} %", "—",
          i["n"], "< 10 %", met(r["targets"]["fraction"]["met"]))


def score_rows(t: Table, record: dict) -> None:
    if record.get("status") != "ok":
        return t.unavailable("`txresponse score` (benchmarks.stages)", record)
    r = record["result"]
    size = f"{r['patients']:,} patients"
    how = "chunks of {:,}, {} worker(s), {}".format(r["chunk_patients"], r["workers"],
                                                   r.get("format", "csv"))
    w, reps = r["wall_seconds"], r["repeats"]
    t.add(f"score: wall time ({how}, {r['max_reports']:,} reports)", size,
          fmt(w["median"], 1, " s"), spread(w, 1, " s"), w["n"], "—", "—")
    e = r["rate_end_to_end"]
    t.add("score: rate end to end (patients / wall s)", size, fmt(e["median"], 0, "/s"),
          spread(e, 0), e["n"], "—", "—")
    p = r["rate_predict_explain"]
    if r.get("workers", 1) > 1:
        # Phases are summed over workers that run at the same time: a per-process rate only.
        t.add("score: rate predicting with explanations, per worker process", size,
              fmt(p["median"], 0, "/s"), spread(p, 0), p["n"], "—", "—")
    elif p["median"] is None:
        t.add("score: rate predicting with explanations", size, "—",
              "score_summary.json absent", reps, "≥ 5,000/s", "—")
    else:
        t.add("score: rate predicting with explanations (patients / predict_explain s)", size,
              fmt(p["median"], 0, "/s"), spread(p, 0), p["n"], "≥ 5,000/s",
              met(r["targets"]["rate_predict_explain"]["met"]))
    m = r["peak_mib"]
    t.add("score: peak memory (process tree)", size, fmt(m["median"], 0, " MiB"),
          spread(m, 0, " MiB"), m["n"], "< 4,096 MiB", met(r["targets"]["peak_memory"]["met"]))
    if any(x["returncode"] != 0 for x in r["runs"]):
        bad = next(x for x in r["runs"] if x["returncode"] != 0)
        t.add("score failed", size, "—",
              (bad.get("log_tail", "").strip().splitlines() or ["—"])[-1].replace("|", "/")
              [:120], "—", "—", "—")


def render(out: dict) -> str:
    m, v = out["machine"], out["versions"]
    b = out["benchmarks"]
    t = Table()
    quality_rows(t, b.get("quality", {"status": NA}))
    explain_rows(t, b.get("explain", {"status": NA}))
    uncertainty_rows(t, b.get("uncertainty", {"status": NA}))
    training_cost_rows(t, b.get("training_cost", {"status": NA}))
    stage_rows(t, b.get("stages", {"status": NA}))
    incremental_rows(t, b.get("incremental", {"status": NA}))
    score_rows(t, b.get("score", {"status": NA}))
    for key in sorted(k for k in b if k.startswith("score_workers")):
        score_rows(t, b[key])
    libs = ", ".join(f"{k} {v[k]}" for k in ("lightgbm", "scikit-learn", "shap", "numpy",
                                              "pandas", "pandera", "mlflow", "dvc") if k in v)
    mode = {"full": "full run (`make bench`)",
            "quick": "quick run (`make bench-quick`): reduced sizes, not the recorded figures",
            }.get(out["mode"], f"{out['mode']} (see the note)")
    lines = [
        f"**All benchmarks, one table** — generated by `python -m benchmarks.run`; "
        f"{mode}. Do not edit between the markers: the runner rewrites this block.",
        "",
        f"- Date: {out['date']}; runner wall time {fmt(out.get('total_seconds'), 0)} s"
        + ("; two benchmarks at a time (contended timings)." if out.get("jobs", 1) > 1
           else "; one benchmark at a time."),
        f"- Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB memory "
        f"({m['machine']}); load average at start {out['load_average_at_start']}, at end "
        f"{out.get('load_average_at_end')}.",
        f"- Python {m['python']}; {libs}.",
        "- Each figure: median over the repetitions, spread = min–max. Time is wall time "
        "(`perf_counter`); peak memory is the peak of the summed RSS of the measured process "
        "and all its descendants (sampled every 50 ms, at least the process's own high-water "
        "mark). Ratios against another tool come from the same run. Targets are reported, "
        f"never asserted. Raw results: `{out.get('results_dir', 'docs/benchmarks')}/*.json`.",
    ]
    if out.get("note"):
        lines.append(f"- Note: {out['note']}")
    lines += ["", t.markdown()]
    return "\n".join(lines) + "\n"


def write_block(doc: Path, block: str, title: str = "# Benchmarks") -> None:
    """Replace what is between the markers; insert the markers after the first heading if the
    file has none; create the file if it does not exist."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else f"{title}\n"
    generated = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail_ = rest.split(END, 1)
        text = head + generated + tail_
    else:
        lines = text.splitlines(keepends=True)
        at = next((i for i, line in enumerate(lines) if line.startswith("#")), None)
        if at is None:
            text = generated + "\n\n" + text
        else:
            text = ("".join(lines[:at + 1]) + "\n" + generated + "\n"
                    + ("\n" if lines[at + 1:] and lines[at + 1].strip() else "")
                    + "".join(lines[at + 1:]))
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="reduced sizes, under 2 minutes; writes under build/bench/")
    parser.add_argument("--doc", type=Path, default=None,
                        help="markdown file for the table (default: docs/benchmarks.md, or "
                             "build/bench/benchmarks.md with --quick)")
    parser.add_argument("--results", type=Path, default=None,
                        help="folder for raw JSON (default: docs/benchmarks, or "
                             "build/bench/quick with --quick)")
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder for project copies (default: temporary)")
    parser.add_argument("--keep-work", action="store_true")
    parser.add_argument("--jobs", type=int, default=None, choices=(1, 2),
                        help="2: module benchmarks alongside the pipeline ones (default in "
                             "quick mode); 1: one at a time (default in full mode)")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the table from the raw JSON in --results; run nothing")
    args = parser.parse_args()
    quick = args.quick
    doc = args.doc or (REPO / ("build/bench/benchmarks.md" if quick else "docs/benchmarks.md"))
    results = args.results or (REPO / ("build/bench/quick" if quick else "docs/benchmarks"))
    results.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        out = load_results(results)
    else:
        work = args.work or Path(tempfile.mkdtemp(prefix="txresponse-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        jobs = args.jobs or (2 if quick else 1)
        try:
            out = run_all(quick, results, work, jobs)
        finally:
            if not args.keep_work and args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        summary = {k: v for k, v in out.items() if k != "benchmarks"}
        summary["status"] = {k: v.get("status") for k, v in out["benchmarks"].items()}
        (results / "run.json").write_text(json.dumps(summary, indent=2) + "\n",
                                          encoding="utf-8")
    try:
        out["results_dir"] = str(results.resolve().relative_to(REPO))
    except ValueError:
        out["results_dir"] = str(results)
    if quick and doc.exists() and BEGIN not in doc.read_text(encoding="utf-8"):
        doc.unlink()
    write_block(doc, render(out),
                title="# Benchmarks (quick run)" if quick else "# Benchmarks")
    print(f"table written to {doc}; raw results in {results}; "
          f"total {out.get('total_seconds') or 0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
