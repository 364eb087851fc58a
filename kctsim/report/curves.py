"""The difference curves of the propositions: P_better(t) - P_worse(t) with
simultaneous 95% bands (computed by :func:`kctsim.analysis.suite.difference_curves`).

Above 0 the better regime has broken through more often by tick t; the area
under the curve up to tau is the RMST difference at tau, the effect the
verdicts read. The band covers the whole curve at once, so a reader may look
at any tick, or at where the curve crosses 0, without a multiple-testing
penalty of their own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

# As in kctsim.report.figures: files only, but a notebook keeps its inline backend.
if "inline" not in os.environ.get("MPLBACKEND", ""):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from kctsim.report.figures import regime_colours  # noqa: E402


def plot_difference_curves(
    differences: pd.DataFrame, taus: Sequence[int], names: dict[str, str] | None = None
) -> Figure:
    """One panel per proposition, one line (and band) per worse regime.

    Args:
        differences: long table: proposition, technology, better, worse, tick,
            difference, low, high.
        taus: the estimands' taus, marked as dotted vertical lines.
        names: display names of regimes (default: the regime keys).
    """
    names = names or {}
    colours = regime_colours()
    keys = list(dict.fromkeys(differences["proposition"]))
    cols = min(3, len(keys))
    rows = int(np.ceil(len(keys) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.3 * cols, 3.3 * rows), squeeze=False, sharey=True
    )
    for ax in axes.flat[len(keys) :]:
        ax.axis("off")
    for ax, key in zip(axes.flat, keys, strict=False):
        mine = differences[differences["proposition"] == key]
        better = mine["better"].iloc[0]
        for worse, curve in mine.groupby("worse", sort=False):
            colour = colours.get(worse)
            ax.fill_between(curve["tick"], curve["low"], curve["high"], color=colour, alpha=0.2)
            ax.plot(
                curve["tick"],
                curve["difference"],
                color=colour,
                label=f"vs {names.get(worse, worse)}",
            )
        ax.axhline(0, color="black", lw=0.8)
        for tau in taus:
            if tau <= mine["tick"].max():
                ax.axvline(tau, color="grey", ls=":", lw=0.8)
        ax.set_title(f"{key}: {names.get(better, better)}", fontsize=9)
        ax.set_xlabel("quarter")
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[:, 0]:
        ax.set_ylabel("P(better) - P(worse) by quarter t")
    fig.suptitle(
        "Difference in cumulative breakthrough probability (shaded: 95% simultaneous band; "
        "dotted: the taus of the estimands)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
