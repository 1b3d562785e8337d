"""Render the model card as Markdown and as self-contained HTML (Jinja2).

HTML autoescapes every value; the only markup let through is what `_links` builds from the
checklist's own constant text (escaped first). Markdown is not escaped (it is not HTML), but
table cells have their pipes and line breaks neutralised.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import jinja2
from markupsafe import Markup, escape

_LINK = re.compile(r"\[([^\]]+)\]\(#([a-z-]+)\)")
_CODE = re.compile(r"`([^`]+)`")


def _cell(value) -> str:
    """A Markdown table cell: no pipe or newline may break the row."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _links(text: str) -> Markup:
    """Escape, then turn the checklist's `[Section](#anchor)` and `code` into HTML."""
    html = str(escape(text))
    html = _LINK.sub(r'<a href="#\2">\1</a>', html)
    return Markup(_CODE.sub(r"<code>\1</code>", html))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    folder = resources.files("models.governance") / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                            default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    env.filters["links"] = _links
    return env


def render_markdown(context: dict) -> str:
    return environment().get_template("model_card.md.j2").render(c=context)


def render_html(context: dict) -> str:
    return environment().get_template("model_card.html.j2").render(c=context)
