"""Errors the user can fix. The command line prints the message (what was found, what to do)
and exits 2, with no Python traceback. Anything else is a bug: `pipeline/cli.py` prints a short
notice without the exception's message (it may quote patient values) and exits 70.

Exit codes every command shares (docs/validation.md, "Exit codes of every command").
"""
from __future__ import annotations

from pathlib import Path

import yaml

USER_ERROR = 2        # wrong options, a missing or invalid input or configuration file
INTERNAL_ERROR = 70   # a bug (sysexits.h EX_SOFTWARE): the message says how to report it
SYSTEM_ERROR = 74     # the operating system failed an operation (EX_IOERR): disk full, I/O
INTERRUPTED = 130     # Ctrl-C (128 + SIGINT)

PROJECT_HINT = "txresponse runs from the project folder (the one holding configs/)"


class UserError(Exception):
    """A problem with the command's input (files, configuration, model reference) that the
    message explains."""


def missing_path(path, what: str, option: str, folder: bool = False,
                 made_by: str | None = None, default: bool = True) -> str:
    """Why `path` (a `what`, a file or else a `folder`, set by `option`) cannot be used, and
    what to do. A relative `default` is read from the working folder: outside a project folder
    the message says that txresponse runs from one; inside, what writes the file (`made_by`)."""
    path = Path(path)
    if not path.exists():
        problem = f"no {what} at {path}"
    elif folder:
        problem = f"{path} is not a folder ({what})"
    elif path.is_dir():
        problem = f"{path} is a folder, not a file ({what})"
    else:
        problem = f"{path} is not a regular file ({what})"
    if path.is_absolute():
        return f"{problem}: check {option}"
    if not default:
        return f"{problem} (looked in {Path.cwd()}): check {option}"
    if not Path("configs").is_dir():
        return f"{problem} (looked in {Path.cwd()}): {PROJECT_HINT}; from elsewhere, pass {option}"
    return f"{problem} (in {Path.cwd()}): {made_by + ', or ' if made_by else ''}pass {option}"


def validation_problems(error, prefix: str = "") -> str:
    """A pydantic ValidationError as one line: `key: problem; key: problem` (no pydantic
    boilerplate, links or echoed input)."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in (prefix, *problem["loc"]) if p != "")
        message = str(problem["msg"]).removeprefix("Value error, ")
        # A validator of a whole section (or file) names its own keys.
        names_itself = not where or message.startswith((f"{where}.", f"{where} "))
        parts.append(message if names_itself else f"{where}: {message}")
    return "; ".join(parts)


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML syntax error on one line, with its line and column (PyYAML's own text spans
    several lines and quotes the offending lines)."""
    problem = getattr(error, "problem", None) or "cannot be parsed"
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def read_yaml_file(path, what: str, option: str):
    """The parsed YAML of a configuration file, or a `UserError` (one line) saying it is
    missing (and how to point at it: `option`), unreadable, not UTF-8 or not valid YAML."""
    path = Path(path)
    if not path.is_file():
        raise UserError(missing_path(path, what, option))
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
