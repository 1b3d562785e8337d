"""Errors the user can fix. The command line prints the message (what was found, what to do)
and exits 2, with no Python traceback. Anything else is a bug: `pipeline/cli.py` prints a short
notice without the exception's message (it may quote patient values) and exits 70.

Exit codes every command shares (docs/validation.md, "Exit codes of every command").
"""
from __future__ import annotations

import difflib
import typing
from pathlib import Path

import yaml

USER_ERROR = 2        # wrong options, a missing or invalid input or configuration file
INTERNAL_ERROR = 70   # a bug (sysexits.h EX_SOFTWARE): the message says how to report it
SYSTEM_ERROR = 74     # the operating system failed an operation (EX_IOERR): disk full, I/O
INTERRUPTED = 130     # Ctrl-C (128 + SIGINT)

# What makes a folder the project folder: commands started in it or below it find their
# default inputs (configs/params.yaml, configs/, artifacts/model...) there.
PROJECT_MARKERS = ("configs/params.yaml", "dvc.yaml")
PROJECT_HINT = ("txresponse runs inside a project folder (one holding configs/params.yaml and "
                "dvc.yaml) or any folder below it")


class UserError(Exception):
    """A problem with the command's input (files, configuration, model reference) that the
    message explains."""


def project_root(start: Path | str | None = None) -> Path | None:
    """The project folder: `start` (default: the working folder) or the nearest folder above
    it that holds both `configs/params.yaml` and `dvc.yaml`; None outside any project."""
    try:
        here = (Path.cwd() if start is None else Path(start)).resolve()
    except OSError:  # the working folder was deleted
        return None
    for folder in (here, *here.parents):
        if all((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return folder
    return None


def project_path(default: Path | str) -> Path:
    """Where a command finds a default input such as `configs/params.yaml`: relative to the
    working folder when it is there (or outside any project), else in the project folder
    (`project_root`), so that a command started in a sub-folder of the project finds the
    project's files. Only for defaults: a path the user typed is taken as it is."""
    default = Path(default)
    if default.is_absolute() or default.exists():
        return default
    root = project_root()
    if root is None or root == Path.cwd().resolve():
        return default
    return root / default


def missing_path(path, what: str, option: str, folder: bool = False,
                 made_by: str | None = None, default: bool = True) -> str:
    """Why `path` (a `what`, a file or else a `folder`, set by `option`) cannot be used, and
    what to do. A `default` path is looked for in the working folder and then in the project
    folder (`project_path`): outside any project the message says that txresponse runs inside
    one; inside, what writes the file (`made_by`)."""
    path = Path(path)
    if not path.exists():
        problem = f"no {what} at {path}"
    elif folder:
        problem = f"{path} is not a folder ({what})"
    elif path.is_dir():
        problem = f"{path} is a folder, not a file ({what})"
    else:
        problem = f"{path} is not a regular file ({what})"
    root = project_root()
    if path.is_absolute():
        # A default found through the project folder is absolute: say what writes it.
        if default and made_by and root is not None and root in path.parents:
            return f"{problem}: {made_by}, or pass {option}"
        return f"{problem}: check {option}"
    if not default:
        return f"{problem} (looked in {Path.cwd()}): check {option}"
    if root is None:
        return (f"{problem} (looked in {Path.cwd()} and the folders above it): {PROJECT_HINT}; "
                f"from elsewhere, pass {option}")
    return f"{problem} (in {Path.cwd()}): {made_by + ', or ' if made_by else ''}pass {option}"


def _keys_at(model, loc: tuple, hidden: frozenset) -> list[str] | None:
    """The keys a pydantic `model` takes at `loc` (a path of keys into nested models), as
    written in the file (aliases), or None when `loc` does not lead to a model."""
    for part in loc:
        field = next((f for name, f in model.model_fields.items()
                      if (f.alias or name) == part), None)
        if field is None:
            return None
        model = field.annotation
        while typing.get_origin(model) is not None:  # X | None, Annotated[X, ...]
            model = next((a for a in typing.get_args(model)
                          if isinstance(a, type) and hasattr(a, "model_fields")), None)
        if not (isinstance(model, type) and hasattr(model, "model_fields")):
            return None
    return [f.alias or name for name, f in model.model_fields.items()
            if (f.alias or name) not in hidden]


def _closest(key, valid: list[str]) -> str | None:
    close = difflib.get_close_matches(str(key), valid, n=1)
    return close[0] if close else None


def unknown_key(where: str, key, valid: list[str]) -> str:
    """`where.key is not a setting; did you mean where.closest?` or, when no valid key is
    close, the valid keys of `where`."""
    section = f"{where}." if where else ""
    name = str(key)
    close = _closest(name, valid)
    if close:
        return f"{section}{name} is not a setting; did you mean {section}{close}?"
    of = f"of {where}" if where else "at the top level"
    return f"{section}{name} is not a setting; the settings {of} are {', '.join(valid)}"


def validation_problems(error, prefix: str = "", model=None, hidden=()) -> str:
    """A pydantic ValidationError as one line: `key: problem; key: problem` (no pydantic
    boilerplate, links or echoed input). With the `model` validated, an unknown key is named
    with the closest valid one (`unknown_key`); `hidden` keys are never suggested."""
    def dotted(loc) -> str:
        return ".".join(str(p) for p in (prefix, *loc) if p != "")

    parts, unknown, suggested, rest = [], [], set(), []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        valid = None
        if problem["type"] == "extra_forbidden" and model is not None and loc:
            valid = _keys_at(model, loc[:-1], frozenset(hidden))
        if valid is None:
            rest.append(problem)
            continue
        unknown.append(unknown_key(dotted(loc[:-1]), loc[-1], valid))
        if _closest(loc[-1], valid):
            suggested.add(dotted((*loc[:-1], _closest(loc[-1], valid))))
    for problem in rest:
        where = dotted(problem["loc"])
        if problem["type"] == "missing" and where in suggested:
            continue  # "did you mean <it>?" says it already
        if problem["type"] in ("model_type", "dict_type", "model_attributes_type"):
            found = type(problem.get("input")).__name__
            message = ("expected a mapping of settings (key: value), found "
                       f"{'nothing' if found == 'NoneType' else found}")
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
        # A validator of a whole section (or file) names its own keys.
        names_itself = not where or message.startswith((f"{where}.", f"{where} "))
        parts.append(message if names_itself else f"{where}: {message}")
    # A misspelt key first: what it breaks (a missing required key, say) follows.
    return "; ".join(unknown + parts)


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML syntax error on one line, with its line and column (PyYAML's own text spans
    several lines and quotes the offending lines)."""
    problem = getattr(error, "problem", None) or "cannot be parsed"
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def read_yaml_file(path, what: str, option: str, default: bool = True):
    """The parsed YAML of a configuration file, or a `UserError` (one line) saying it is
    missing (and how to point at it: `option`; `default`: the path was not typed by the user,
    see `missing_path`), unreadable, not UTF-8 or not valid YAML."""
    path = Path(path)
    if not path.is_file():
        raise UserError(missing_path(path, what, option, default=default))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text ({what}); save it as UTF-8") from None
    except OSError as error:
        raise UserError(f"cannot read {path} ({what}): {error.strerror or 'unreadable'}") \
            from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{path} is not valid YAML: {yaml_problem(error)}") from None
