"""Outputs that are complete or absent, never a mix: files replaced in one rename, folders
built beside their final place and swapped in when whole, one writer per folder at a time.

Why: a run stopped half-way (Ctrl-C, kill -9, a full disk) must not leave a partial
`predictions.csv` beside an old `score_summary.json` and yesterday's reports, and two runs into
the same folder must not interleave their rows. The guarantees (docs/security.md):

- `write_text`/`write_bytes`: the file is the old one or the new one, never half of either.
- `staged_folder(final)`: yields an empty folder `.<name>.partial-<pid>` beside `final`; when the
  block ends without error, the old `final` is moved aside and the new one renamed into place,
  then the old one deleted. An error or signal deletes the partial folder and leaves `final`
  as it was. After kill -9 the partial folder stays until the next run into `final`, which
  deletes it (and puts back an old result if the kill fell between the two renames).
- `folder_lock(final)`: an exclusive `flock` on `.<name>.lock` beside `final`, holding the
  holder's pid for the message. The kernel releases the lock when the process dies, however
  it dies, so a lock is never left stale.

Everything stays under the output's parent folder, on the same file system (so the renames are
atomic), and never in the shared temporary folder.
"""
from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.errors import UserError

_PARTIAL, _OLD = ".partial-", ".old-"
MARKER = ".txresponse-output"  # in every folder txresponse wrote whole


def _hidden(final: Path, kind: str, pid: int | None = None) -> Path:
    return final.parent / f".{final.name}{kind}{'' if pid is None else pid}"


def write_bytes(path: Path, data: bytes) -> None:
    """Write `path` so that readers see the old content or the new, never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@contextmanager
def folder_lock(final: Path, what: str = "this folder") -> Iterator[None]:
    """Hold the exclusive lock on `final` for the block; refuse at once if another process
    holds it (waiting could hide a mistake: two runs aimed at one folder)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = _hidden(final, ".lock")
    handle = open(lock, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise UserError(
                f"another txresponse run ({holder}) is writing {final}; wait for it to finish "
                f"or choose another folder for {what}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        yield
    finally:
        handle.close()  # releases the flock; the file stays (unlinking it would race)


def _recover(final: Path) -> None:
    """Under the lock: undo what a killed run left. A run killed between moving the old result
    aside and renaming the new one in leaves only `.old-`: put it back. Then delete leftovers."""
    leftovers = sorted(final.parent.glob(f".{final.name}{_OLD}*"))
    if not final.exists() and leftovers:
        os.replace(leftovers.pop(), final)
    for path in leftovers + sorted(final.parent.glob(f".{final.name}{_PARTIAL}*")):
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _signals_end_the_block() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit, so `finally` blocks run and partial outputs are
    removed (the default action would end the process on the spot)."""
    def stop(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    previous = {}
    try:
        for number in (signal.SIGTERM, signal.SIGHUP):
            previous[number] = signal.signal(number, stop)
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _refuse_to_replace(final: Path, what: str) -> None:
    """Never replace a folder txresponse did not write: the working folder, one holding it (the
    project, the home folder), or a non-empty folder without txresponse's mark (input data,
    other reports, a user's files). A probe of `score --out .` deleted a whole project."""
    resolved = final.resolve()
    here = Path.cwd().resolve()
    protected = {here, *here.parents, Path.home().resolve()}
    if resolved in protected:
        raise UserError(f"{final} is the working folder, one that holds it, or the home "
                        f"folder; txresponse replaces {what} whole, so give it a folder of its "
                        "own (for example a new sub-folder)")
    if resolved.is_dir() and not (resolved / MARKER).is_file() and any(resolved.iterdir()):
        raise UserError(f"{final} already holds files txresponse did not write; it replaces "
                        f"{what} whole, so choose a new or empty folder (or move those files)")


@contextmanager
def staged_folder(final: Path, what: str = "this folder") -> Iterator[Path]:
    """An empty folder to write the complete new content of `final` into; swapped in when the
    block ends without error, deleted otherwise. Holds `folder_lock(final)` throughout."""
    final = Path(final).absolute()
    if final.is_symlink():
        raise UserError(f"{final} is a symbolic link; txresponse replaces output folders "
                        "whole, so give it a real folder")
    if final.exists() and not final.is_dir():
        raise UserError(f"{final} exists and is not a folder; choose another path for {what}")
    _refuse_to_replace(final, what)
    with folder_lock(final, what), _signals_end_the_block():
        _recover(final)
        partial = _hidden(final, _PARTIAL, os.getpid())
        partial.mkdir()
        try:
            # The mark that lets a later run replace this folder (and nothing it did not write).
            (partial / MARKER).write_text("written by txresponse; the next run into this "
                                          "folder replaces it whole\n", encoding="utf-8")
            yield partial
            old = _hidden(final, _OLD, os.getpid())
            if final.exists():
                os.replace(final, old)
            os.replace(partial, final)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
