"""Files the validate stage cannot or must not read are refused through the real command with a
one-paragraph message (what was found, what to do), the documented exit code, no traceback,
and nothing written. The chunked reader used by `txresponse score` refuses them the same way."""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.contract import contract_tables
from pipeline.core.registries import load_registries
from pipeline.validation.chunks import partition
from pipeline.validation.errors import ExitCode, StructuralError
from tests.validation.conftest import GOOD, REPO, permissive_params, write_raw

TXRESPONSE = Path(sys.executable).parent / "txresponse"
TABLES = contract_tables(load_registries(REPO / "configs"))


def _validate(tmp_path: Path, raw: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TXRESPONSE), "validate", "--raw", str(raw), "--out", str(tmp_path / "out"),
         "--report", str(tmp_path / "report"), "--params", str(permissive_params(tmp_path)),
         "--configs", str(REPO / "configs")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COLUMNS": "200"})


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def binary_column(raw: Path) -> None:
    sessions = pd.DataFrame({"patient_id": ["pt-a", "pt-a", "pt-b"], "day": [0, 3, 0],
                             "route": [b"iv", b"\xff\xfe", b"intranasal"],
                             "dose": [0.5, 0.5, 56.0], "dose_unit": ["mg_per_kg"] * 2 + ["mg"]})
    (raw / "sessions.csv").unlink()
    (raw / "sessions.parquet").write_bytes(_parquet(sessions))


def folder_named_like_a_table(raw: Path) -> None:
    (raw / "patients.csv").unlink()
    (raw / "patients.csv").mkdir()


def gzip_named_csv(raw: Path) -> None:
    (raw / "patients.csv").write_bytes(gzip.compress(GOOD["patients"].encode()))


def xlsx_named_csv(raw: Path) -> None:
    (raw / "patients.csv").write_bytes(b"PK\x03\x04" + b"\x00" * 40)


def empty_file(raw: Path) -> None:
    (raw / "sessions.csv").write_bytes(b"")


def link_out_of_the_folder(raw: Path) -> None:
    outside = raw.parent / "elsewhere" / "patients.csv"
    outside.parent.mkdir()
    (raw / "patients.csv").replace(outside)
    (raw / "patients.csv").symlink_to(outside)


def link_to_a_folder_outside(raw: Path) -> None:
    outside = raw.parent / "elsewhere"
    outside.mkdir()
    (raw / "patients.csv").replace(outside / "patients.csv")
    (raw / "patients.csv").symlink_to(outside)  # `patients.csv` -> a folder outside


def link_to_nothing(raw: Path) -> None:
    (raw / "patients.csv").unlink()
    (raw / "patients.csv").symlink_to(raw / "gone.csv")


# case -> (how to break the folder, exit code, file named, phrases of the problem and the fix)
CASES = {
    "binary_parquet_column": (binary_column, ExitCode.UNREADABLE_FILE, "sessions.parquet",
                              ("raw bytes", "column 'route'", "Store the column as text")),
    "folder_named_patients_csv": (folder_named_like_a_table, ExitCode.UNREADABLE_FILE,
                                  "patients.csv", ("a folder, not a file", "move or rename")),
    "gzip_named_csv": (gzip_named_csv, ExitCode.UNREADABLE_FILE, "patients.csv",
                       ("gzip-compressed", "Decompress it")),
    "xlsx_named_csv": (xlsx_named_csv, ExitCode.UNREADABLE_FILE, "patients.csv",
                       ("ZIP archive", "CSV UTF-8")),
    "empty_file": (empty_file, ExitCode.UNREADABLE_FILE, "sessions.csv",
                   ("empty (0 bytes)", "Export the table again")),
    "symlink_out_of_the_folder": (link_out_of_the_folder, ExitCode.MISSING_INPUT,
                                  "patients.csv", ("outside the raw data folder",
                                                   "Copy the file into the raw folder")),
    "symlink_to_a_folder_outside": (link_to_a_folder_outside, ExitCode.MISSING_INPUT,
                                    "patients.csv", ("outside the raw data folder",)),
    "symlink_to_nothing": (link_to_nothing, ExitCode.MISSING_INPUT, "patients.csv",
                           ("does not exist", "Replace the link")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_a_message_and_no_traceback(tmp_path, case):
    breaks, code, file, phrases = CASES[case]
    raw = write_raw(tmp_path / "raw")
    breaks(raw)
    done = _validate(tmp_path, raw)
    message = done.stdout + done.stderr
    assert done.returncode == code, message
    assert "Traceback" not in done.stderr, done.stderr
    assert f"validate stopped (exit {int(code)})" in message
    assert file in message and "what to do:" in message
    for phrase in phrases:
        assert phrase in message, message
    assert not (tmp_path / "out").exists() and not (tmp_path / "report").exists()


@pytest.mark.parametrize("case", list(CASES))
def test_the_chunked_reader_refuses_the_same_files(tmp_path, case):
    breaks, code, _, _ = CASES[case]
    raw = write_raw(tmp_path / "raw")
    breaks(raw)
    with pytest.raises(StructuralError) as stopped:
        partition(raw, TABLES, tmp_path / "scratch", chunk_patients=1)
    assert stopped.value.code == code


def test_links_inside_the_folder_are_followed(tmp_path):
    raw = write_raw(tmp_path / "raw")
    (raw / "exports").mkdir()
    (raw / "patients.csv").replace(raw / "exports" / "patients-2024.csv")
    (raw / "patients.csv").symlink_to(Path("exports") / "patients-2024.csv")  # relative link
    done = _validate(tmp_path, raw)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_linked_raw_folder_is_fine(tmp_path):
    raw = write_raw(tmp_path / "real")
    (tmp_path / "raw").symlink_to(raw)
    done = _validate(tmp_path, tmp_path / "raw")
    assert done.returncode == 0, done.stdout + done.stderr


def test_text_parquet_columns_are_still_read(tmp_path):
    raw = write_raw(tmp_path / "raw")
    (raw / "sessions.csv").unlink()
    (raw / "sessions.parquet").write_bytes(
        _parquet(pd.read_csv(io.StringIO(GOOD["sessions"]))))
    done = _validate(tmp_path, raw)
    assert done.returncode == 0, done.stdout + done.stderr
