"""Errors the user can fix. The command line prints the message (what was found, what to do)
and exits 2, with no Python traceback; anything else is a bug and keeps its traceback."""
from __future__ import annotations

from pathlib import Path

import yaml


class UserError(Exception):
    """A problem with the command's input (files, configuration, model reference) that the
    message explains."""


def validation_problems(error, prefix: str = "") -> str:
    """A pydantic ValidationError as one line: `key: problem; key: problem` (no pydantic
    boilerplate, links or echoed input)."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in (prefix, *problem["loc"]) if p != "") or "the file"
        message = str(problem["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def read_yaml_file(path, what: str, option: str):
    """The parsed YAML of a configuration file, or a `UserError` saying it is missing (and how
    to point at it: `option`) or not valid YAML."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no {what} at {path} (from {Path.cwd()}): run txresponse from the "
                        f"project folder (the one holding configs/), or pass {option}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise UserError(f"{path} is not valid YAML: {error}") from None
