"""The report's figures (matplotlib), each a function of stored tables.

Every function takes pandas DataFrames as the analysis computes them and
returns a ``Figure``; :func:`save_figure` writes it as PNG and SVG. The
notebooks call the same functions, so the report and the notebooks agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; set before pyplot is imported anywhere

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

from kctsim.analysis import stats as st  # noqa: E402
from kctsim.config import regime_names  # noqa: E402

FORMATS = ("png", "svg")
DPI = 120


def regime_colours() -> dict[str, Any]:
    """A fixed colour per regime preset, the same in every figure."""
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i) for i, name in enumerate(regime_names())}


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` and close it."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    # Text stays text in the SVG: smaller, editable and several times faster to write.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for fmt in FORMATS:
            path = stem.with_suffix(f".{fmt}")
            fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata=_metadata(fmt))
            paths.append(path)
    plt.close(fig)
    return paths


def _metadata(fmt: str) -> dict[str, Any]:
    # No creation date or software stamp: the same results give the same bytes.
    if fmt == "svg":
        return {"Date": None, "Creator": None}
    return {"Software": None}


def _panels(n: int, width: float = 4.2, height: float = 3.2) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, sharey=True)
    return fig, axes[0]


# ------------------------------------------------------------ breakthrough


def plot_breakthrough_curves(runs: pd.DataFrame, horizon: int) -> Figure:
    """Cumulative breakthrough probability over time with 95% bands, one panel per
    technology type, one line per regime."""
    colours = regime_colours()
    techs = list(dict.fromkeys(runs["technology"]))
    fig, axes = _panels(len(techs))
    ok = runs[runs["status"] == "ok"]
    for ax, tech in zip(axes, techs, strict=True):
        for regime, group in ok[ok["technology"] == tech].groupby("regime", sort=False):
            curve = st.breakthrough_curve(group["breakthrough_tick"].to_numpy(float), horizon)
            colour = colours.get(regime)
            ax.step(curve["tick"], curve["p"], where="post", color=colour, label=regime, lw=1.5)
            ax.fill_between(
                curve["tick"], curve["low"], curve["high"], step="post", color=colour, alpha=0.15
            )
        ax.set_title(tech)
        ax.set_xlabel("tick (quarter)")
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("P(breakthrough by t)")
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.suptitle("Breakthrough probability over time (95% pointwise bands)", y=1.03)
    return fig


def plot_fit_matrix(fit: pd.DataFrame) -> Figure:
    """Heatmap of breakthrough share at the horizon, technology type x mode,
    annotated with the restricted mean time to breakthrough; matched cells framed."""
    share = fit.pivot(index="technology", columns="regime", values="p_breakthrough")
    rmst = fit.pivot(index="technology", columns="regime", values="rmst")
    matched = fit.pivot(index="technology", columns="regime", values="matched")
    order_rows = list(dict.fromkeys(fit["technology"]))
    order_cols = [r for r in regime_names() if r in share.columns]
    share, rmst = share.loc[order_rows, order_cols], rmst.loc[order_rows, order_cols]
    matched = matched.loc[order_rows, order_cols].fillna(False).astype(bool)
    fig, ax = plt.subplots(figsize=(1.9 * len(order_cols) + 2, 1.0 * len(order_rows) + 1.5))
    image = ax.imshow(share.to_numpy(float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(len(order_rows)):
        for j in range(len(order_cols)):
            value = share.iat[i, j]
            ax.text(
                j,
                i,
                f"{value:.2f}\nRMST {rmst.iat[i, j]:.1f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < 0.6 else "black",
            )
            if matched.iat[i, j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
    ax.set_xticks(range(len(order_cols)), order_cols)
    ax.set_yticks(range(len(order_rows)), order_rows)
    fig.colorbar(image, ax=ax, label="P(breakthrough by the horizon)")
    ax.set_title("Fit matrix (red frame: the mode the paper matches to the type)")
    return fig


# ----------------------------------------------------------- over time


def metric_means(metrics: pd.DataFrame, runs: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Mean of per-tick metrics over the runs of each (technology, regime):
    columns technology, regime, metric, tick, value."""
    labels = runs[runs["status"] == "ok"][["run_id", "technology", "regime"]]
    chosen = metrics[metrics["metric"].isin(list(names))].merge(labels, on="run_id")
    return (
        chosen.groupby(["technology", "regime", "metric", "tick"], observed=True)["value"]
        .mean()
        .reset_index()
    )


def plot_metrics_over_time(
    means: pd.DataFrame,
    names: Sequence[str],
    title: str,
    technologies: Sequence[str] | None = None,
    regimes: Sequence[str] | None = None,
    labels: dict[str, str] | None = None,
) -> Figure:
    """Rows: metrics; columns: technology types; one line per regime (mean over runs)."""
    colours = regime_colours()
    techs = list(technologies or dict.fromkeys(means["technology"]))
    fig, axes = plt.subplots(
        len(names), len(techs), figsize=(4.2 * len(techs), 2.6 * len(names)), squeeze=False
    )
    for i, name in enumerate(names):
        for j, tech in enumerate(techs):
            ax = axes[i, j]
            chosen = means[(means["metric"] == name) & (means["technology"] == tech)]
            for regime, group in chosen.groupby("regime", sort=False):
                if regimes is not None and regime not in regimes:
                    continue
                ax.plot(group["tick"], group["value"], color=colours.get(regime), label=regime)
            if i == 0:
                ax.set_title(tech)
            if j == 0:
                ax.set_ylabel((labels or {}).get(name, name))
            if i == len(names) - 1:
                ax.set_xlabel("tick (quarter)")
    handles, legend_labels = axes[0, -1].get_legend_handles_labels()
    if handles:
        axes[0, -1].legend(handles, legend_labels, fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_stages(means: pd.DataFrame, technology: str, n_stages: int) -> Figure:
    """Stage funding share, stage progress and chain blockage over time for a chain
    technology, one column per stage (blockage: share of runs blocked)."""
    colours = regime_colours()
    mine = means[means["technology"] == technology]
    fig, axes = plt.subplots(3, n_stages, figsize=(4.0 * n_stages, 7.5), squeeze=False)
    rows = [("stage_funding", "funding share"), ("stage_progress", "progress to gate")]
    for i, (prefix, label) in enumerate(rows):
        for s in range(n_stages):
            ax = axes[i, s]
            chosen = mine[mine["metric"] == f"{prefix}_{s + 1}"]
            for regime, group in chosen.groupby("regime", sort=False):
                ax.plot(group["tick"], group["value"], color=colours.get(regime), label=regime)
            ax.set_title(f"stage {s + 1}: {label}", fontsize=9)
    blocked = mine[mine["metric"] == "chain_blocked"]
    for regime, group in blocked.groupby("regime", sort=False):
        axes[2, 0].plot(group["tick"], group["value"], color=colours.get(regime), label=regime)
    axes[2, 0].set_title("chain blocked (share of runs)", fontsize=9)
    misallocation = mine[mine["metric"] == "misallocation_index"]
    if n_stages > 1:
        for regime, group in misallocation.groupby("regime", sort=False):
            axes[2, 1].plot(group["tick"], group["value"], color=colours.get(regime))
        axes[2, 1].set_title("misallocation index", fontsize=9)
    for ax in axes[2, 2:]:
        ax.axis("off")
    for ax in axes[2, :2]:
        ax.set_xlabel("tick (quarter)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(f"{technology}: funding, progress and blockage along the chain")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ resource flows


def flow_matrix(flows: pd.DataFrame, technology: str, regime: str) -> pd.DataFrame:
    """Money per run from each agent type (rows) to each (columns)."""
    chosen = flows[(flows["technology"] == technology) & (flows["regime"] == regime)]
    return chosen.pivot_table(
        index="from_type", columns="to_type", values="amount", aggfunc="sum", fill_value=0.0
    )


def _pairs_panels(pairs: Sequence[tuple[str, str]], width: float, height: float):
    """Panels for (technology, regime) pairs: pairs 2i and 2i+1 stacked in column i."""
    rows = 2 if len(pairs) > 1 else 1
    cols = -(-len(pairs) // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for extra in axes.T.ravel()[len(pairs) :]:
        extra.axis("off")
    return fig, axes.T.ravel()[: len(pairs)]


def plot_flow_heatmaps(flows: pd.DataFrame, pairs: Sequence[tuple[str, str]]) -> Figure:
    """Type x type heatmaps of money moved per run (log colour), one per (technology, regime)."""
    fig, axes = _pairs_panels(pairs, 4.6, 4.2)
    types = sorted(set(flows["from_type"]) | set(flows["to_type"]))
    vmax = max(float(flows["amount"].max()), 1.0)
    for ax, (tech, regime) in zip(axes, pairs, strict=True):
        matrix = flow_matrix(flows, tech, regime).reindex(index=types, columns=types, fill_value=0)
        values = np.log10(1 + matrix.to_numpy(float))
        ax.imshow(values, cmap="magma_r", vmin=0, vmax=np.log10(1 + vmax))
        ax.set_xticks(range(len(types)), types, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(types)), types, fontsize=7)
        ax.set_title(f"{tech}\n{regime}", fontsize=9)
        ax.set_xlabel("to")
    axes[0].set_ylabel("from")
    fig.suptitle("Money moved between agent types per run (colour: log10(1 + amount))")
    fig.tight_layout()
    return fig


def _band(ax, x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float], colour):
    """A Sankey band from the interval y0 at x0 to y1 at x1 (cubic Bezier edges)."""
    mid = (x0 + x1) / 2
    verts = [
        (x0, y0[0]),
        (mid, y0[0]),
        (mid, y1[0]),
        (x1, y1[0]),
        (x1, y1[1]),
        (mid, y1[1]),
        (mid, y0[1]),
        (x0, y0[1]),
        (x0, y0[0]),
    ]
    codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3]
    codes.append(MplPath.CLOSEPOLY)
    ax.add_patch(PathPatch(MplPath(verts, codes), fc=colour, ec="none", alpha=0.45))


def sankey(ax, matrix: pd.DataFrame, min_share: float = 0.005) -> None:
    """Draw a two-column Sankey (alluvial) diagram of a from x to money matrix."""
    total = float(matrix.to_numpy().sum())
    if total <= 0:
        ax.axis("off")
        return
    flows = matrix.stack()
    flows = flows[flows > min_share * total]
    sources = list(dict.fromkeys(flows.index.get_level_values(0)))
    sinks = list(dict.fromkeys(flows.index.get_level_values(1)))
    gap = 0.02
    cmap = plt.get_cmap("tab20")
    colour = {t: cmap(i % 20) for i, t in enumerate(sorted(set(sources) | set(sinks)))}

    def stack(names: list[str], sizes: pd.Series) -> dict[str, list[float]]:
        tops, y = {}, 1.0
        scale = (1.0 - gap * (len(names) - 1)) / sizes.sum()
        for name in names:
            tops[name] = [y, scale]  # running top and scale
            y -= sizes[name] * scale + gap
        return tops

    out_sizes = flows.groupby(level=0).sum()
    in_sizes = flows.groupby(level=1).sum()
    left, right = stack(sources, out_sizes), stack(sinks, in_sizes)
    for (src, dst), amount in flows.items():
        h0, h1 = amount * left[src][1], amount * right[dst][1]
        y0 = (left[src][0] - h0, left[src][0])
        y1 = (right[dst][0] - h1, right[dst][0])
        _band(ax, 0.1, 0.9, y0, y1, colour[src])
        left[src][0] -= h0
        right[dst][0] -= h1
    for names, sizes, tops, x, ha in (
        (sources, out_sizes, stack(sources, out_sizes), 0.1, "right"),
        (sinks, in_sizes, stack(sinks, in_sizes), 0.9, "left"),
    ):
        for name in names:
            top, scale = tops[name]
            height = sizes[name] * scale
            ax.add_patch(plt.Rectangle((x - 0.01, top - height), 0.02, height, color=colour[name]))
            ax.text(
                x + (-0.02 if ha == "right" else 0.02),
                top - height / 2,
                f"{name} {sizes[name]:.0f}",
                ha=ha,
                va="center",
                fontsize=6.5,
            )
    ax.set_xlim(-0.35, 1.35)
    ax.set_ylim(-0.02, 1.02)
    ax.axis("off")


def plot_flow_sankeys(flows: pd.DataFrame, pairs: Sequence[tuple[str, str]]) -> Figure:
    """Sankey diagrams of money per run between agent types, one per (technology, regime)."""
    fig, axes = _pairs_panels(pairs, 4.6, 4.6)
    for ax, (tech, regime) in zip(axes, pairs, strict=True):
        sankey(ax, flow_matrix(flows, tech, regime))
        ax.set_title(f"{tech}\n{regime}", fontsize=9)
    fig.suptitle("Resource flows between agent types (money per run; left: payer, right: payee)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- robustness


def plot_robustness(verdicts: pd.DataFrame, drivers: pd.DataFrame, top: int = 3) -> Figure:
    """Bars: share of worlds in which each verdict holds; beside them, the
    parameters whose rank correlation with the effect is strongest."""
    fig, (bars, corr) = plt.subplots(1, 2, figsize=(11, 3.6), width_ratios=[1, 1.4])
    shares = verdicts.set_index("proposition")["robustness_share"]
    colours = {"supported": "tab:green", "not supported": "tab:gray", "contradicted": "tab:red"}
    verdict_of = verdicts.set_index("proposition")["verdict"]
    bars.bar(shares.index, shares.to_numpy(float), color=[colours[v] for v in verdict_of])
    bars.set_ylim(0, 1)
    bars.set_ylabel("share of worlds where the verdict holds")
    bars.set_title("Robustness (colour: verdict)")
    if drivers.empty:
        corr.axis("off")
    else:
        best = drivers[drivers["rank"] <= top].dropna(subset=["rho"])
        labels = [f"{r.proposition} {r.factor}" for r in best.itertuples()]
        corr.barh(labels[::-1], best["rho"].to_numpy(float)[::-1], color="tab:blue")
        corr.axvline(0, color="black", lw=0.8)
        corr.set_xlim(-1, 1)
        corr.set_xlabel("Spearman correlation of parameter with the effect")
        corr.set_title(f"Strongest {top} parameters per proposition")
        corr.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------- calibration


def plot_calibration(curve: pd.DataFrame, record: dict[str, Any]) -> Figure:
    """Mean number of technologies broken through against the cost scale, with the
    middle 95% of replicates, the target and the fitted cost scale."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.fill_between(
        curve["cost_scale"], curve["low"], curve["high"], alpha=0.2, label="95% of replicates"
    )
    ax.plot(curve["cost_scale"], curve["mean"], marker="o", label="mean")
    ax.axhline(record["target_broken_through"], color="black", ls="--", lw=0.8, label="target")
    fitted = record["cost_scale"]
    if np.isfinite(fitted):
        ax.axvline(fitted, color="tab:red", lw=1, label=f"fitted {fitted:.3g}")
        ax.axvspan(record["ci_low"], record["ci_high"], color="tab:red", alpha=0.1)
    ax.set_xscale("log")
    ax.set_xlabel("cost scale")
    ax.set_ylabel(f"broken through of {record['technologies']} (by tick {record['horizon']})")
    ax.legend(fontsize=8)
    ax.set_title("Calibration of the global cost scale")
    return fig
