"""Jinja2 rendering of comparison.html and comparison.md.

HTML: autoescaping on, undefined names fail, no value is ever marked safe; charts are base64
data URIs (no script, no network). Markdown: every value goes through `markdown_text`, so a
recorded param or tag cannot break a table or inject HTML into a Markdown viewer.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import jinja2

from models.comparison.phrasing import interval, number, p_value, signed, verdict

_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|"}
                                  | {"<": "&lt;", ">": "&gt;", "\n": " ", "\r": " "})


def markdown_text(value: object) -> object:
    """Escape a value for Markdown (tables included); numbers and None pass through."""
    return value.translate(_MARKDOWN_SPECIAL) if isinstance(value, str) else value


def _environment(autoescape: bool, finalize=None) -> jinja2.Environment:
    folder = resources.files("models.comparison") / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), autoescape=autoescape,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
        lstrip_blocks=True, finalize=finalize,
    )
    env.filters |= {"number": number, "signed": signed, "interval": interval,
                    "p_value": p_value, "verdict": verdict}
    return env


@lru_cache(maxsize=1)
def html_environment() -> jinja2.Environment:
    return _environment(autoescape=True)


@lru_cache(maxsize=1)
def markdown_environment() -> jinja2.Environment:
    return _environment(autoescape=False, finalize=markdown_text)


def render_html(view: dict) -> str:
    return html_environment().get_template("comparison.html.j2").render(v=view)


def render_markdown(view: dict) -> str:
    return markdown_environment().get_template("comparison.md.j2").render(v=view)
