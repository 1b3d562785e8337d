"""Scoring a folder of any size chunk by chunk: validate, build features, predict and explain
each block of patients, and append the results, so memory follows the chunk, not the registry.

Each chunk is scored on its own (all checks and features are per patient), so the output is
the same, byte for byte, whatever the chunk size or the number of worker processes; tests check
it. With `workers > 1` chunks are scored in parallel processes and written in chunk order.
Per-patient reports are rendered only for the patients asked for, from the rows kept in memory
while scoring, never by re-reading the full output.
"""
from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from features.build import compute_features
from features.catalog import build_registry
from features.records import known_on
from features.registry import FeatureRegistry
from models.bundle import ModelBundle
from models.scoring import score
from pipeline.core.contract import Table, contract_tables
from pipeline.core.escaping import csv_text
from pipeline.core.registries import load_registries
from pipeline.core.schemas import contract_schemas
from pipeline.validation.chunks import Partition
from pipeline.validation.quarantine import validate_tables

FORMATS = ("csv", "parquet")
PHASES = ("validate", "features", "predict_explain", "write")


@dataclass(frozen=True)
class ScoringJob:
    """What scoring needs, as paths and settings: small, and picklable for worker processes,
    which each load the model themselves (a forked LightGBM can hang in OpenMP)."""

    partition: Partition
    model_folder: Path               # the model artifact (models/bundle.py)
    config_dir: Path
    parts: Path                      # scratch folder for each chunk's output files
    file_format: str
    report_ids: frozenset[str] | None  # None: keep the first `report_count` patients
    report_count: int

    def load(self, scoring: ModelBundle | None = None) -> LoadedJob:
        """Everything loaded; `scoring` saves loading the model twice in the same process.
        Features are built with the model's own settings, whatever the params file says now."""
        registries = load_registries(self.config_dir)
        scoring = scoring or ModelBundle.load(self.model_folder)
        settings = scoring.feature_settings
        return LoadedJob(
            self, contract_tables(registries), contract_schemas(registries), scoring,
            build_registry(registries, settings["target_instrument"],
                           tuple(settings["baseline_window"]),
                           settings["biomarker_lookback_days"]))


@dataclass(frozen=True)
class LoadedJob:
    spec: ScoringJob
    tables: dict[str, Table]
    schemas: dict
    scoring: ModelBundle
    registry: FeatureRegistry


@dataclass
class ChunkResult:
    chunk: int
    patients: int = 0
    out_of_distribution: int = 0
    base_probability: float | None = None  # the reference patient's, the same in every chunk
    rows_in: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    report_predictions: pd.DataFrame | None = None
    report_explanations: pd.DataFrame | None = None
    recorded: Counter = field(default_factory=Counter)  # model feature -> patients who have it


_LOADED: LoadedJob | None = None  # each worker process's own loaded job


def _start_worker(job: ScoringJob) -> None:
    global _LOADED
    # One thread per worker: the workers are the parallelism. LightGBM would otherwise predict
    # with every core in every worker, and two workers ran no faster than one.
    threadpool_limits(limits=1)
    _LOADED = job.load()


def _write(frame: pd.DataFrame, path: Path, file_format: str) -> None:
    if file_format == "csv":
        path.write_text(csv_text(frame), encoding="utf-8")  # formulas neutralised
    else:
        # Text columns as pandas strings, so that an all-empty column in one chunk keeps the
        # same Parquet type as in the others and the parts append into one file.
        typed = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
        pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), path)


def score_chunk(chunk: int, loaded: LoadedJob | None = None) -> ChunkResult:
    loaded = loaded or _LOADED
    job = loaded.spec
    result = ChunkResult(chunk)
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[phase] += now - clock
        clock = now

    outcomes = validate_tables(job.partition.raw_tables(chunk), loaded.tables, loaded.schemas)
    lap("validate")
    passed = {name: outcome.passed for name, outcome in outcomes.items()}
    features = compute_features(known_on(passed,
                                         loaded.scoring.feature_settings["prediction_day"]),
                                loaded.registry)
    lap("features")
    model_features = loaded.scoring.model.layout.order
    result.recorded.update({name: int(features[name].notna().sum()) for name in model_features
                            if name in features})
    predictions, explanations = score(loaded.scoring, features)
    lap("predict_explain")

    folder = job.parts / f"{chunk:06d}"
    (folder / "quarantine").mkdir(parents=True, exist_ok=True)
    suffix = job.file_format
    _write(predictions, folder / f"predictions.{suffix}", suffix)
    _write(explanations, folder / f"explanations.{suffix}", suffix)
    for name, outcome in outcomes.items():
        result.rows_in[name] = outcome.rows_in
        result.quarantined[name] = len(outcome.quarantined)
        if len(outcome.quarantined):
            (folder / "quarantine" / f"{name}.csv").write_text(
                csv_text(outcome.quarantined), encoding="utf-8")
    lap("write")

    if job.report_ids is None:
        kept = predictions.head(job.report_count)
    else:
        kept = predictions[predictions["patient_id"].isin(job.report_ids)]
    result.report_predictions = kept
    result.report_explanations = explanations[explanations["patient_id"].isin(
        kept["patient_id"])]
    result.patients = len(predictions)
    if len(predictions):
        result.base_probability = float(predictions["base_probability"].iloc[0])
    result.out_of_distribution = int(predictions["out_of_distribution"].sum())
    return result


class _Appender:
    """Appends each chunk's part files to the final outputs, in chunk order."""

    def __init__(self, out: Path, file_format: str):
        self.out, self.format = out, file_format
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.started: set[Path] = set()

    def _append_csv(self, part: Path, target: Path) -> None:
        with part.open("rb") as source:
            header = source.readline()
            if target not in self.started:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(header)
                self.started.add(target)
            with target.open("ab") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)

    def _append_parquet(self, part: Path, target: Path) -> None:
        table = pq.read_table(part)
        writer = self.writers.get(target.name)
        if writer is None:
            writer = self.writers[target.name] = pq.ParquetWriter(target, table.schema)
        writer.write_table(table.cast(writer.schema))

    def add(self, folder: Path) -> None:
        for name in ("predictions", "explanations"):
            part = folder / f"{name}.{self.format}"
            target = self.out / part.name
            if self.format == "csv":
                self._append_csv(part, target)
            else:
                self._append_parquet(part, target)
        for part in sorted((folder / "quarantine").glob("*.csv")):
            self._append_csv(part, self.out / "quarantine" / part.name)
        shutil.rmtree(folder)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def run_chunks(job: ScoringJob, out: Path, workers: int,
               on_chunk: Callable[[ChunkResult], None] | None = None,
               loaded: LoadedJob | None = None) -> list[ChunkResult]:
    """Score every chunk of `job.partition` and append the results to `out`, in order."""
    appender = _Appender(out, job.file_format)
    results: list[ChunkResult] = []

    def collect(result: ChunkResult) -> None:
        started = time.perf_counter()
        appender.add(job.parts / f"{result.chunk:06d}")
        result.seconds["write"] += time.perf_counter() - started
        results.append(result)
        if on_chunk is not None:
            on_chunk(result)

    chunks = range(job.partition.n_chunks)
    workers = min(workers, os.cpu_count() or 1, len(chunks))
    try:
        if workers <= 1:
            loaded = loaded or job.load()
            for chunk in chunks:
                collect(score_chunk(chunk, loaded))
        else:
            # spawn, not fork: each worker starts clean and loads the model once.
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                     initializer=_start_worker, initargs=(job,)) as pool:
                for result in pool.map(score_chunk, chunks):  # map keeps chunk order
                    collect(result)
    finally:
        appender.close()
    return results
