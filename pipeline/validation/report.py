"""The validation report: `report.json` for scripts and DVC, `report.html` for a person.

Both hold counts, check names, reasons and fixes only: no patient values and no ids.
"""
from __future__ import annotations

from importlib import resources

import jinja2
import pandas as pd

from pipeline.core.contract import POST_DOSE, PRE_DOSE
from pipeline.validation.checks import how_to_fix, label, reason
from pipeline.validation.quarantine import TIMED_TABLES, TableOutcome


def day0_timing(passed: pd.DataFrame) -> dict[str, int]:
    """Passed day-0 rows by `timing`. Unmarked ones are taken as pre-dose (the data contract),
    so each may become a baseline: the count tells a site whether it marks post-dose ratings."""
    day0 = passed[(passed["day"] == 0).fillna(False).astype(bool).to_numpy()]
    timing = day0["timing"] if "timing" in day0 else pd.Series(pd.NA, index=day0.index)
    pre, post = int(timing.eq(PRE_DOSE).sum()), int(timing.eq(POST_DOSE).sum())
    return {"day0": len(day0), "pre_dose": pre, "post_dose": post,
            "unmarked": len(day0) - pre - post}


def build_report(outcomes: dict[str, TableOutcome], max_fraction: float) -> dict:
    """Machine-readable summary: per table rows in, passed, quarantined, failures by check."""
    tables, reasons = {}, {}
    for name, outcome in outcomes.items():
        found = outcome.failures
        counts = (found.groupby(["column", "check"])["row"].nunique()
                  if len(found) else {})
        by_check = {label(c, k): int(n) for (c, k), n in sorted(dict(counts).items())}
        tables[name] = {
            "supplied": outcome.file is not None,
            "file": outcome.file,
            "rows_in": outcome.rows_in,
            "passed": len(outcome.passed),
            "quarantined": len(outcome.quarantined),
            "quarantined_fraction": round(outcome.quarantined_fraction, 6),
            "failures_by_check": by_check,
        }
        if name in TIMED_TABLES:
            tables[name]["day0_timing"] = day0_timing(outcome.passed)
        for (column, check), n in dict(counts).items():
            key = (name, column, check)
            reasons[key] = {"table": name, "check": label(column, check), "rows": int(n),
                            "reason": reason(column, check), "how_to_fix": how_to_fix(check)}
    over = sorted(name for name, o in outcomes.items() if o.quarantined_fraction > max_fraction)
    return {
        "status": "too_much_quarantined" if over else "passed",
        "max_quarantine_fraction": max_fraction,
        "tables_over_limit": over,
        "totals": {key: sum(t[key] for t in tables.values())
                   for key in ("rows_in", "passed", "quarantined")},
        "day0_unmarked": sum(t["day0_timing"]["unmarked"] for t in tables.values()
                             if "day0_timing" in t),
        "tables": tables,
        "top_failures": sorted(reasons.values(), key=lambda r: (-r["rows"], r["table"],
                                                                r["check"]))[:20],
    }


def render_html(report: dict) -> str:
    """A self-contained page (inline styles, no scripts, no network) with the same figures."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("pipeline.validation") / "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2").render(report=report)
