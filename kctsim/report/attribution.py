"""The ablation figure: which lever groups carry each verdict (Shapley values
computed by :func:`kctsim.analysis.ablation.ablation_table`).

One panel per step (a cause or rival regime to the mode), one bar per lever
group: the quarters of the step's RMST difference the group carries, with its
95% bootstrap interval; the dark bar is the whole effect, which the group bars
add up to.
"""

from __future__ import annotations

import os

import matplotlib

# As in kctsim.report.figures: files only, but a notebook keeps its inline backend.
if "inline" not in os.environ.get("MPLBACKEND", ""):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from kctsim import names  # noqa: E402

EFFECT = "All groups (the effect)"
EFFECT_COLOUR = "#444444"


def group_colours(groups: list[str]) -> dict[str, tuple]:
    """A fixed colour per lever group, in the lever table's order."""
    cmap = plt.get_cmap("Set2")
    return {g: cmap(i % 8) for i, g in enumerate(groups)}


def step_title(row: pd.Series, several: bool) -> str:
    """'P4: Jungle Competition → Spiral Progressive (binding)'."""
    title = (
        f"{row['proposition']}: {names.name('regimes', row['start'])} → "
        f"{names.name('regimes', row['mode'])}"
    )
    return title + (" (binding)" if several and row["binding"] else "")


def plot_ablation(table: pd.DataFrame) -> Figure:
    """One panel per step (rows: technology types; columns: their steps).

    Args:
        table: the ablation table (one row per step and group).
    """
    groups = list(dict.fromkeys(table["group"]))
    colours = group_colours(groups)
    techs = list(dict.fromkeys(table["technology"]))
    step_keys = ["proposition", "start", "mode"]
    by_tech = {
        t: list(table[table["technology"] == t].groupby(step_keys, sort=False).groups)
        for t in techs
    }
    cols = max(len(s) for s in by_tech.values())
    fig, axes = plt.subplots(
        len(techs), cols, figsize=(4.2 * cols, 2.6 * len(techs) + 0.8), squeeze=False, sharey=True
    )
    labels = [EFFECT, *groups][::-1]
    y = np.arange(len(labels))
    steps_of = table.groupby("proposition")["start"].nunique()
    for row_axes, tech in zip(axes, techs, strict=True):
        for ax in row_axes[len(by_tech[tech]) :]:
            ax.axis("off")
        for ax, key in zip(row_axes, by_tech[tech], strict=False):
            mine = table.set_index(step_keys).loc[key].set_index("group").loc[groups]
            first = mine.iloc[0]
            values = np.array([first["effect"], *mine["shapley"]])[::-1]
            lows = np.array([first["effect_low"], *mine["ci_low"]])[::-1]
            highs = np.array([first["effect_high"], *mine["ci_high"]])[::-1]
            ax.barh(
                y, values, color=[EFFECT_COLOUR, *(colours[g] for g in groups)][::-1], height=0.7
            )
            ax.errorbar(
                values,
                y,
                xerr=[values - lows, highs - values],
                fmt="none",
                ecolor="black",
                elinewidth=0.9,
                capsize=2,
            )
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(y, labels, fontsize=7)
            head = pd.Series(
                {
                    "proposition": key[0],
                    "start": key[1],
                    "mode": key[2],
                    "binding": first["binding"],
                }
            )
            ax.set_title(step_title(head, steps_of[key[0]] > 1), fontsize=8)
            ax.set_xlabel(f"quarters sooner (RMST difference at {int(first['tau'])})", fontsize=7)
            ax.tick_params(axis="x", labelsize=7)
        row_axes[0].set_ylabel(names.name("technologies", tech), fontsize=8)
    handles = [Patch(color=colours[g], label=g) for g in groups]
    handles += [
        Patch(color=EFFECT_COLOUR, label=f"{EFFECT}: the sum of the group bars"),
        Line2D([], [], color="black", lw=0.9, label="95% bootstrap interval over replicates"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle(
        "Which lever groups carry each verdict: Shapley values of the step from the worse "
        "regime to the mode",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
