"""Shared measurement helpers for the benchmarks: machine and library versions, wall time and
peak memory of a subprocess (with all its descendants), and median / spread of repetitions.

Peak memory is the peak of the SUM of resident set sizes over the measured process and every
descendant alive at the time, sampled every ~50 ms in a thread, so a command that forks workers
cannot hide memory in its children. Between samples a single process can peak unseen, so the
kernel's own high-water mark of the measured process (``wait4``'s ``ru_maxrss``) is taken too and
the larger of the two is reported; the sampled sum is kept separately.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Sequence

import psutil

MIB = 1024 * 1024
LIBRARIES = ("lightgbm", "scikit-learn", "shap", "numpy", "pandas", "pandera", "mlflow", "dvc",
             "psutil")
SAMPLE_SECONDS = 0.05


# -- the machine ----------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Cores, memory, CPU model and platform of this machine."""
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 1024 ** 3, 1),
            "machine": platform.machine(), "platform": platform.platform(),
            "python": platform.python_version()}


def versions(names: Sequence[str] = LIBRARIES) -> dict:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# -- statistics -----------------------------------------------------------------------------

def summarise(values: Sequence[float], digits: int = 3) -> dict:
    """Median, min and max of repeated measurements (all values kept)."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits),
            "n": len(values), "values": [round(v, digits) for v in values]}


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, digits)


# -- one measured command -------------------------------------------------------------------

@dataclass
class Measurement:
    cmd: list[str] | str
    returncode: int
    seconds: float
    peak_mib: float                  # max(sampled tree sum, kernel high-water mark of the root)
    peak_tree_sampled_mib: float     # peak of the sum of RSS over the process tree
    peak_root_maxrss_mib: float      # ru_maxrss of the measured process (wait4)
    max_processes: int               # most processes alive in the tree at one sample
    samples: int
    log: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["seconds"] = round(d["seconds"], 3)
        for k in ("peak_mib", "peak_tree_sampled_mib", "peak_root_maxrss_mib"):
            d[k] = round(d[k], 1)
        return d


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_bytes = 0
        self.max_processes = 0
        self.samples = 0
        self._halt = threading.Event()
        self._known: dict[int, psutil.Process] = {}

    def _process(self, pid: int) -> psutil.Process:
        # Keep Process objects so psutil can tell a reused pid from the same process.
        if pid not in self._known:
            self._known[pid] = psutil.Process(pid)
        return self._known[pid]

    def sample(self) -> None:
        try:
            root = self._process(self.pid)
            tree = [root] + root.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return
        total, alive = 0, 0
        for p in tree:
            try:
                total += p.memory_info().rss
                alive += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, total)
        self.max_processes = max(self.max_processes, alive)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_measured(cmd: list[str] | str, cwd: Path | str | None = None,
                 env: dict | None = None, log: Path | None = None,
                 timeout: float | None = None, shell: bool = False) -> Measurement:
    """Run `cmd` to completion; return its wall time and peak memory. Never raises on a failing
    command (the return code is recorded); output goes to `log` (or is discarded)."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "w", encoding="utf-8")
    else:
        out = open(os.devnull, "w")
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                shell=shell, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        deadline = None if timeout is None else started + timeout
        status, usage = None, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        out.close()
    # Linux reports ru_maxrss in KiB.
    root_peak = usage.ru_maxrss * 1024 / MIB if usage is not None else 0.0
    sampled = sampler.peak_bytes / MIB
    return Measurement(cmd=cmd, returncode=proc.returncode, seconds=seconds,
                       peak_mib=max(sampled, root_peak), peak_tree_sampled_mib=sampled,
                       peak_root_maxrss_mib=root_peak, max_processes=sampler.max_processes,
                       samples=sampler.samples, log=str(log) if log else None)


def tail(path: str | Path | None, chars: int = 2000) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""
