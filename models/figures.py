"""Evaluation figures: reliability diagram, ROC curves, decision curves, several models overlaid.

Each function takes ``curves``, a mapping from a model's display name to its ``(y_true, p)`` on
the test set, and a ``path`` ending in .png (150 dpi) or .svg. Figures are built on a bare
matplotlib ``Figure`` with the Agg canvas, never through pyplot, so no global backend is set,
nothing is left open, and the functions are safe in a headless stage. Metadata that would carry
a date or version is dropped, so the same inputs give byte-identical files.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from models.calibration_metrics import LOWESS_FRAC, calibration_bins
from models.plot_data import calibration_points, decision_points, roc_points
from models.scores import as_arrays, auroc

DPI = 150
Curves = Mapping[str, tuple[np.ndarray, np.ndarray]]


def _new_figure(nrows: int = 1, height_ratios=None, size=(6.0, 5.0)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, 1, sharex=True, squeeze=False,
                           gridspec_kw={"height_ratios": height_ratios})[:, 0]
    return figure, axes


def save_figure(figure, path: str | Path) -> Path:
    """Write PNG (150 dpi) or SVG without date/software metadata, for reproducible bytes."""
    import matplotlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".png":
        metadata = {"Software": None}
    elif suffix == ".svg":
        metadata = {"Date": None, "Creator": None}
    else:
        raise ValueError(f"figure path must end in .png or .svg, not {path.name!r}")
    # A fixed salt keeps SVG element ids (and so the bytes) the same from run to run.
    with matplotlib.rc_context({"svg.hashsalt": "txresponse", "svg.fonttype": "path"}):
        figure.savefig(path, dpi=DPI, format=suffix[1:], metadata=metadata)
    figure.clear()
    return path


def reliability_diagram(curves: Curves, path: str | Path, n_bins: int = 10,
                        frac: float = LOWESS_FRAC, outcome: str = "response") -> Path:
    """Observed response rate against predicted probability, with the distribution of predictions.

    Top: the diagonal (perfect calibration), each model's lowess curve and its binned observed
    rates (equal-width bins, marker area ∝ patients). Bottom: histogram of predictions per model.
    """
    figure, (top, bottom) = _new_figure(2, height_ratios=[3, 1], size=(6.0, 6.5))
    top.plot([0, 1], [0, 1], linestyle=":", color="grey", label="Perfect calibration")
    edges = np.linspace(0, 1, 41)
    for index, (name, (y, p)) in enumerate(curves.items()):
        y, p = as_arrays(y, p)
        color = f"C{index}"
        smooth = calibration_points(y, p, frac=frac)
        top.plot(smooth["predicted"], smooth["observed"], color=color, label=f"{name} (lowess)")
        bins = calibration_bins(y, p, n_bins=n_bins)
        top.scatter(bins["mean_predicted"], bins["observed_rate"], color=color, alpha=0.7,
                    s=15 + 120 * bins["n"] / bins["n"].max(), edgecolors="none")
        bottom.hist(p, bins=edges, color=color, alpha=0.5, label=name)
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel=f"Observed {outcome} rate",
            title="Calibration on the test set")
    top.set_aspect("equal", adjustable="box")
    top.legend(loc="upper left", fontsize="small")
    bottom.set(xlabel=f"Predicted probability of {outcome}", ylabel="Patients")
    return save_figure(figure, path)


def roc_curves(curves: Curves, path: str | Path) -> Path:
    """ROC curve of each model with its AUROC in the legend, against the chance line."""
    figure, (axes,) = _new_figure(size=(5.5, 5.0))
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="Chance")
    for index, (name, (y, p)) in enumerate(curves.items()):
        points = roc_points(y, p)
        axes.plot(points["fpr"], points["tpr"], color=f"C{index}",
                  label=f"{name} (AUROC {float(auroc(y, p)):.3f})")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 − specificity (false positive rate)",
             ylabel="Sensitivity (true positive rate)", title="ROC on the test set")
    axes.set_aspect("equal", adjustable="box")
    axes.legend(loc="lower right", fontsize="small")
    return save_figure(figure, path)


def decision_curves(curves: Curves, path: str | Path, thresholds=None,
                    outcome: str = "response") -> Path:
    """Net benefit of each model against treating all and treating none, across thresholds.

    Treat-all uses the first model's outcomes (the models share a test set). The y-axis runs from
    a little below 0 to a little above the prevalence (the most any strategy can achieve), so the
    steep fall of treat-all at high thresholds does not flatten the curves that matter.
    """
    figure, (axes,) = _new_figure(size=(6.5, 4.5))
    prevalence = None
    for index, (name, (y, p)) in enumerate(curves.items()):
        points = decision_points(y, p, thresholds)
        if prevalence is None:
            prevalence = float(np.mean(y))
            axes.plot(points["threshold"], points["treat_all"], color="grey", label="Treat all")
            axes.plot(points["threshold"], points["treat_none"], color="black", linestyle="--",
                      label="Treat none")
        axes.plot(points["threshold"], points["model"], color=f"C{index}", label=name)
    upper = max(prevalence or 0.0, 0.01) * 1.1
    axes.set(ylim=(-0.1 * upper - 0.01, upper), xlabel=f"Threshold probability of {outcome}",
             ylabel="Net benefit", title="Decision curve on the test set")
    axes.legend(loc="upper right", fontsize="small")
    return save_figure(figure, path)
