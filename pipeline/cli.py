"""The `txresponse` command. Each sub-command is one stage module's `main`.

Commands are imported when they are called, not all at start-up: importing every stage pulled
in MLflow, LightGBM and scikit-learn (2.5 s) before even `txresponse report` could start, and DVC
starts one command per stage (docs/benchmarks.md, incremental re-runs).
"""
from __future__ import annotations

import errno
import functools
import importlib
import inspect
import os
import re
from pathlib import Path
from urllib.parse import unquote

import click
import typer
from typer.core import TyperGroup

from pipeline.core.errors import (INTERNAL_ERROR, INTERRUPTED, PROJECT_HINT, SYSTEM_ERROR,
                                  USER_ERROR, UserError, missing_path, project_path,
                                  project_root)

# command -> module whose `main` it runs, in the order `txresponse --help` lists them
COMMANDS = {
    "simulate": "pipeline.simulate",
    "validate": "pipeline.validate",
    "features": "pipeline.featurize",
    "train": "pipeline.train",
    "evaluate": "pipeline.evaluate",
    "explain": "pipeline.explain",
    "report": "pipeline.report",
    "score": "pipeline.score",
    "compare": "pipeline.compare",
    "promote": "pipeline.promote",
    "model-card": "pipeline.model_card",
}

OUT_OF_MEMORY = 71  # sysexits.h EX_OSERR
DEBUG_VARIABLE = "TXRESPONSE_DEBUG"

# Inputs with a default path that a command cannot do without, checked before it starts (a
# missing one would otherwise surface half-way, after reading a large folder):
# command -> (parameter, what it is, what writes it, whether this run needs it).
_NEEDED_DEFAULTS = {
    "score": (
        ("params_file", "params file", None, lambda options: True),
        ("config_dir", "configuration folder", None, lambda options: True),
        ("model_dir", "trained model folder", "the train stage writes it (dvc repro)",
         lambda options: not options.get("model_uri")),
    ),
    "promote": (
        ("criteria_file", "promotion criteria file", None, lambda options: True),
    ),
}

# Commands that only read the MLflow tracking store: without one they would create an empty
# store wherever they were started and then report every run as unknown.
_READS_STORE = {
    "compare": lambda options: True,
    "promote": lambda options: True,
    "model-card": lambda options: options.get("log", True),
    "score": lambda options: str(options.get("model_uri") or "").startswith(
        ("models:/", "runs:/")),
}

# Errors about a path the user can fix (a wrong or missing file, folder or permission).
_PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
                errno.EEXIST, errno.ELOOP, errno.ENAMETOOLONG, errno.EROFS}
# Top-level packages of this project (pyproject.toml): where a bug's location is looked for.
_PACKAGES = {"pipeline", "features", "models"}
_ROOT = Path(__file__).resolve().parents[1]
# The stages' own exits (typer.Exit with a code) and typer's usage errors (BadParameter...):
# typer prints and exits as it always has. typer vendors click; plain click's are kept too.
_PASS_THROUGH = (typer.Exit, typer.Abort, typer.TyperException, click.exceptions.Exit,
                 click.exceptions.ClickException, click.exceptions.Abort)


def _debug() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def _option(signature: inspect.Signature, parameter: str) -> str:
    """The command-line spelling of a parameter (`--model-dir` for model_dir)."""
    default = signature.parameters[parameter].default
    declared = [d for d in getattr(default, "param_decls", None) or () if d.startswith("--")]
    return declared[0] if declared else "--" + parameter.replace("_", "-")


def _typed(parameter: str) -> bool | None:
    """Whether the command line set `parameter` (None: not known, outside a click context).
    typer 0.2x vendors click as `typer._click`; older typer used click itself."""
    for module in ("typer._click.globals", "click.globals"):
        try:
            context = importlib.import_module(module).get_current_context(silent=True)
        except ImportError:
            continue
        source = context.get_parameter_source(parameter) if context is not None else None
        if source is not None:
            return source.name not in ("DEFAULT", "DEFAULT_MAP")
    return None


def _defaulted_paths(signature: inspect.Signature, options: dict) -> dict[str, Path]:
    """{parameter: default} of the path options the user left at their default (by click's
    record of where each value came from, or else by value)."""
    found = {}
    for name, parameter in signature.parameters.items():
        default = getattr(parameter.default, "default", None)
        if not isinstance(default, Path) or options.get(name) != default:
            continue
        if not _typed(name):
            found[name] = default
    return found


def _in_project(signature: inspect.Signature, options: dict) -> tuple[dict, set[str]]:
    """(options, defaulted parameters): each path left at its default (`configs/params.yaml`,
    `configs`, `artifacts/model`, `dvc.lock`...) that is not in the working folder is taken
    from the project folder holding it (`project_path`), so that a command started in a
    sub-folder of the project finds the project's files. A path the user typed is left as it
    is, relative to the working folder."""
    defaulted = _defaulted_paths(signature, options)
    return ({**options, **{name: project_path(default) for name, default in defaulted.items()}},
            set(defaulted))


def _store_path() -> Path | None:
    """The SQLite file of the default tracking store (None when MLFLOW_TRACKING_URI is set)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    from models.tracking import tracking_uri  # imports MLflow: only for commands that use it
    uri = tracking_uri()
    return Path(unquote(uri.removeprefix("sqlite:///"))) if uri.startswith("sqlite:///") \
        else None


def _preflight(name: str, signature: inspect.Signature, options: dict,
               defaulted: set[str] = frozenset()) -> None:
    """Refuse at once, with what to do, when a default input of `name` is missing (`options`
    after `_in_project`; `defaulted`: the parameters left at their default)."""
    for parameter, what, made_by, needed in _NEEDED_DEFAULTS.get(name, ()):
        path = options.get(parameter)
        if path is None or not needed(options):
            continue
        folder = parameter.endswith("_dir")
        if not (path.is_dir() if folder else path.is_file()):
            raise UserError(missing_path(path, what, _option(signature, parameter), folder,
                                         made_by, parameter in defaulted))
    if name in _READS_STORE and _READS_STORE[name](options):
        database = _store_path()
        if database is not None and not database.exists():
            root = project_root()
            if root is None:
                where = f"{PROJECT_HINT}; from elsewhere, set MLFLOW_TRACKING_URI"
            elif root != Path.cwd().resolve():
                # The store is found in the working folder only (models/tracking.py).
                where = (f"the tracking store is read from the working folder: run this from "
                         f"the project folder {root}, or set MLFLOW_TRACKING_URI")
            else:
                where = "train a model first (dvc repro), or set MLFLOW_TRACKING_URI"
            extra = ", or pass --no-log" if name == "model-card" else ""
            raise UserError(f"no MLflow tracking store at {database}: {where}{extra}")


def _project_file(filename: str) -> str | None:
    """`filename` relative to the project (`pipeline/score.py`) if it is one of its files,
    installed or in the working copy (where `tests/` counts too), else None."""
    path = Path(filename)
    parts = path.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            rest = parts[len(parts) - parts[::-1].index(marker):]
            return Path(*rest).as_posix() if rest and rest[0] in _PACKAGES else None
    try:
        rest = path.resolve().relative_to(_ROOT).parts
    except (ValueError, OSError):
        return None
    return Path(*rest).as_posix() if rest and rest[0] in _PACKAGES | {"tests"} else None


def raised_at(error: BaseException) -> str | None:
    """`file:line` of the last traceback frame in this project's code (where it raised, or
    called the library that raised), or None."""
    found, frame = None, error.__traceback__
    while frame is not None:
        file = _project_file(frame.tb_frame.f_code.co_filename)
        if file is not None:
            found = f"{file}:{frame.tb_lineno}"
        frame = frame.tb_next
    return found


def internal_error_message(name: str, error: BaseException) -> str:
    """One paragraph for a bug: the command, the exception's type and where it was raised;
    never the exception's message (pandas and numpy quote cell values in theirs)."""
    kind = type(error)
    kind_name = kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__}.{kind.__qualname__}"
    where = raised_at(error)
    return (f"txresponse {name} stopped on an internal error ({kind_name}"
            f"{' at ' + where if where else ''}): a bug in txresponse, or a problem with the "
            "input that it failed to check and explain. Please report it with the command you "
            "ran and this message. The error's own text is not shown because it can quote "
            f"patient data; run the command again with {DEBUG_VARIABLE}=1 for the full "
            "traceback (check it for patient data before sharing it).")


# The system's words for the path errors, for libraries (pyarrow) that raise them without
# an errno.
_PATH_PROBLEMS = {FileNotFoundError: os.strerror(errno.ENOENT),
                  NotADirectoryError: os.strerror(errno.ENOTDIR),
                  IsADirectoryError: os.strerror(errno.EISDIR),
                  PermissionError: os.strerror(errno.EACCES)}


def _failed_path(error: OSError, given: list[Path]) -> tuple[Path, str] | None:
    """(path, reason) of an error about a file or folder the user can fix: from the error's
    errno and filename, or else a path in its message (whole, or quoted) that is (under) a path
    option of the command; only such a path is ever shown."""
    if error.errno in _PATH_ERRNOS and error.filename is not None and error.strerror:
        return Path(os.fsdecode(error.filename)), error.strerror
    reason = next((text for kind, text in _PATH_PROBLEMS.items() if isinstance(error, kind)),
                  None)
    if reason is None or error.errno is not None:
        return None
    # A folder option of "." or "/" would vouch for any text: not evidence of a path.
    given = [path for path in given if path.absolute() not in (Path.cwd(), Path("/"))]
    said = [os.fspath(a) for a in error.args if isinstance(a, str | os.PathLike)]
    for text in [*said, *re.findall(r"'([^'\n]{1,4096})'", " ".join(said))]:
        candidate = Path(text)
        if any(candidate == path or path in candidate.parents for path in given):
            return candidate, reason
    return None


def _explained(name: str, error: Exception, signature: inspect.Signature,
               options: dict, defaulted: set[str] = frozenset()) -> tuple[int, str]:
    """(exit code, message) for an exception no stage turned into a message (`defaulted`: the
    path parameters left at their default)."""
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY, (f"txresponse {name}: ran out of memory. Close other programs, "
                               "use a machine with more memory"
                               + (", or lower --chunk-patients." if name == "score" else "."))
    if not isinstance(error, OSError):
        return INTERNAL_ERROR, internal_error_message(name, error)
    failed = _failed_path(error, [v for v in options.values() if isinstance(v, Path)])
    if failed is not None:
        path, reason = failed
        message = f"txresponse {name}: {path}: {reason}"
        under = [_option(signature, parameter) for parameter in sorted(defaulted)
                 if path == options[parameter] or options[parameter] in path.parents]
        where = "" if path.is_absolute() else f" (in {Path.cwd()})"
        if not under:
            message += where
        elif project_root() is None:
            message += (f" (looked in {Path.cwd()} and the folders above it): {PROJECT_HINT}; "
                        f"from elsewhere, pass {under[0]}")
        else:
            message += f"{where}: run the stage that writes it, or pass {under[0]}"
        return USER_ERROR, message
    if error.errno is not None and error.strerror:
        where = f" ({os.fsdecode(error.filename)})" if error.filename is not None else ""
        return SYSTEM_ERROR, (f"txresponse {name}: the operating system refused an operation: "
                              f"{error.strerror}{where}. Fix that (free disk space, check the "
                              "file system) and run it again.")
    return INTERNAL_ERROR, internal_error_message(name, error)


def _stop(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _user_errors_as_messages(name: str, main):
    """The stage's `main`, run so that nothing reaches the terminal as a traceback (typer
    reads the signature through `functools.wraps`):

    - a path option left at its default is looked for in the working folder, then in the
      project folder (`_in_project`); a missing default input is refused before the stage
      starts (`_preflight`);
    - `UserError`: its message, exit 2;
    - a file or folder the system cannot use: the path and the system's reason, exit 2; disk
      full and other system failures, exit 74; out of memory, exit 71;
    - Ctrl-C: one line, exit 130;
    - anything else is a bug: a short notice without the exception's message, exit 70
      (`TXRESPONSE_DEBUG=1` re-raises it for the full traceback).

    typer's own usage errors and the stages' own exits (`typer.Exit`) pass through unchanged.
    """
    signature = inspect.signature(main)

    @functools.wraps(main)
    def guarded(*args, **kwargs):
        defaulted: set[str] = set()
        try:
            kwargs, defaulted = _in_project(signature, kwargs)
            _preflight(name, signature, kwargs, defaulted)
            return main(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except UserError as error:
            raise _stop(f"txresponse {name}: {error}", USER_ERROR) from None
        except KeyboardInterrupt:
            raise _stop(f"txresponse {name}: interrupted.", INTERRUPTED) from None
        except BrokenPipeError:
            raise  # the reader went away: typer exits quietly
        except Exception as error:
            if _debug():
                raise
            code, message = _explained(name, error, signature, kwargs, defaulted)
            # Chained, not printed: an in-process caller (CliRunner) can still reach the error.
            raise _stop(message, code) from error
    return guarded


class _LazyCommands(TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        try:
            main = importlib.import_module(COMMANDS[name]).main
        except KeyboardInterrupt:
            raise _stop(f"txresponse {name}: interrupted.", INTERRUPTED) from None
        except Exception as error:  # a broken installation: the same notice as any bug
            if _debug():
                raise
            raise _stop(internal_error_message(name, error), INTERNAL_ERROR) from None
        single.command(name)(_user_errors_as_messages(name, main))
        return typer.main.get_command(single)


app = typer.Typer(
    name="txresponse",
    cls=_LazyCommands,
    help="Predict and explain response to ketamine or esketamine in treatment-resistant "
         "depression.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Predict and explain response to ketamine or esketamine in treatment-resistant
    depression. Run `txresponse COMMAND --help` for any command."""


if __name__ == "__main__":  # pragma: no cover
    app()
