"""Jinja2 rendering of the patient report and the index page.

Autoescaping is on for every template and undefined names fail loudly. The only markup passed
through unescaped is the SVG that `models.report.charts` builds itself, and that module escapes
every piece of text it embeds; recorded values are never marked safe.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import jinja2
from markupsafe import Markup

from models.report.view import model_caution


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One environment per process: templates compile once, which is most of the render cost."""
    folder = resources.files("models.report") / "templates"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2", "j2"),
                                            default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
    )


def render_patient(view: dict) -> str:
    """The self-contained HTML report of one patient (see `models.report.view.patient_view`)."""
    return environment().get_template("patient.html.j2").render(
        v=view,
        # Built by charts.py with XML-escaped text; the only markup allowed through unescaped.
        icon_array=Markup(view["icon_array"]), waterfall=Markup(view["waterfall"]),
    )


def render_index(rows: list[dict], meta: dict, outcome: str, model_name: str) -> str:
    """The index page: every rendered patient with chance, interval and flags."""
    flagged = [r for r in rows if r["out_of_distribution"] or r["n_warnings"] or r["many_missing"]]
    return environment().get_template("index.html.j2").render(
        rows=rows, flagged=flagged, outcome=outcome, model_name=model_name,
        generated=meta.get("generated", ""), model_caution=model_caution(meta),
    )
