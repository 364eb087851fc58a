"""The report's figures (matplotlib), each a function of stored tables.

Every function takes pandas DataFrames as the analysis computes them and
returns a ``Figure``; :func:`save_figure` writes it as PNG and SVG. The
notebooks call the same functions, so the report and the notebooks agree.

What a reader sees is in the paper's words (:mod:`kctsim.names`): regimes,
types and agents by their English and Chinese names, metrics with their
units. Every colour that encodes a value has a colour bar, every set of lines
a legend, and a panel whose lines never move is left out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

# Files only, set before pyplot is imported anywhere; but a notebook kernel keeps the
# inline backend it chose (ipykernel sets MPLBACKEND), so its figures show in the notebook.
if "inline" not in os.environ.get("MPLBACKEND", ""):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, PathPatch, Rectangle  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.ticker import FixedLocator, NullFormatter  # noqa: E402

from kctsim import names  # noqa: E402
from kctsim.analysis import stats as st  # noqa: E402
from kctsim.config import regime_names  # noqa: E402
from kctsim.fonts import register_matplotlib  # noqa: E402

FORMATS = ("png", "svg")
DPI = 120
TICK_LABEL = "Quarter (1 tick = 1 quarter)"
FAINT = "#bbbbbb"

register_matplotlib()  # the paper's Chinese terms in labels, on any machine


def regime_colours() -> dict[str, Any]:
    """A fixed colour per regime preset, the same in every figure (the paper's three
    modes first: blue, orange, green)."""
    cmap = plt.get_cmap("tab10")
    order = _in_table_order("regimes", set(regime_names()))
    return {name: cmap(i % 10) for i, name in enumerate(order)}


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


def _regime_handles(regimes: Sequence[str]) -> list[Line2D]:
    colours = regime_colours()
    return [Line2D([], [], color=colours.get(r), lw=2, label=names.regime(r)) for r in regimes]


def _in_table_order(section: str, keys: set[str]) -> list[str]:
    """``keys`` in the order of the names table (the paper's), unknown ones last."""
    known = list(names.table().get(section, {}))
    return sorted(keys, key=lambda k: (known.index(k) if k in known else len(known), k))


def _varies(values: np.ndarray) -> bool:
    """Whether a panel's values carry information (they change at all)."""
    finite = values[np.isfinite(values)]
    return len(finite) > 0 and float(np.ptp(finite)) > 1e-9


# ------------------------------------------------------------ breakthrough


def plot_breakthrough_curves(
    runs: pd.DataFrame, horizon: int, propositions: Sequence[Any] | None = None
) -> Figure:
    """Share of runs broken through over time (Kaplan–Meier), one panel per proposition.

    The regimes a proposition compares are drawn in colour with their 95%
    pointwise bands; every other regime on the same technology type is a faint
    grey line for context.
    """
    if propositions is None:
        from kctsim.analysis.propositions import load_propositions

        propositions = load_propositions()
    colours = regime_colours()
    ok = runs[runs["status"] == "ok"]
    present = set(ok["technology"])
    props = [p for p in propositions if p.technology in present]
    cols = min(3, max(len(props), 1))
    rows = -(-len(props) // cols) if props else 1
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.6 * cols, 3.7 * rows), squeeze=False, sharey=True
    )
    curves: dict[tuple[str, str], pd.DataFrame] = {}
    for (tech, regime), group in ok.groupby(["technology", "regime"], sort=False):
        curves[tech, regime] = st.breakthrough_curve(
            group["breakthrough_tick"].to_numpy(float), horizon
        )
    for ax, prop in zip(axes.ravel(), props, strict=False):
        compared = [r for r in prop.regimes if (prop.technology, r) in curves]
        for (tech, regime), curve in curves.items():
            if tech == prop.technology and regime not in compared:
                ax.step(curve["tick"], curve["p"], where="post", color=FAINT, lw=0.9)
        for regime in compared:
            curve, colour = curves[prop.technology, regime], colours.get(regime)
            ax.step(curve["tick"], curve["p"], where="post", color=colour, lw=2)
            ax.fill_between(
                curve["tick"], curve["low"], curve["high"], step="post", color=colour, alpha=0.15
            )
        handles = _regime_handles(compared)
        handles[0].set_label(f"{handles[0].get_label()}: the paper's better")
        handles.append(Line2D([], [], color=FAINT, lw=0.9, label="other regimes"))
        ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
        ax.set_title(f"{prop.key} · {names.technology(prop.technology)}", fontsize=10)
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1)
        ax.set_xlabel(TICK_LABEL, fontsize=8)
    for ax in axes.ravel()[len(props) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("Share of runs broken through")
    fig.suptitle(
        "Breakthrough over time: each proposition's regimes in colour "
        "(Kaplan–Meier, 95% pointwise bands)"
    )
    fig.tight_layout()
    return fig


def plot_fit_matrix(fit: pd.DataFrame, horizon: int | None = None) -> Figure:
    """Technology type x breakthrough mode, coloured by the restricted mean time to
    breakthrough (RMST, quarters; what the verdicts compare), with the share
    broken through as text; the mode the paper pairs with each type framed."""
    rmst = fit.pivot(index="technology", columns="regime", values="rmst")
    share = fit.pivot(index="technology", columns="regime", values="p_breakthrough")
    matched = fit.pivot(index="technology", columns="regime", values="matched")
    rows = _in_table_order("technologies", set(fit["technology"]))
    cols = _in_table_order("regimes", set(rmst.columns))
    rmst, share = rmst.loc[rows, cols], share.loc[rows, cols]
    matched = matched.loc[rows, cols].fillna(False).astype(bool)
    values = rmst.to_numpy(float)
    top = (
        float(horizon) if horizon else float(np.nanmax(values)) if np.isfinite(values).any() else 1
    )
    fig, ax = plt.subplots(figsize=(2.3 * len(cols) + 2.8, 1.05 * len(rows) + 1.9))
    # Reversed: a short time to breakthrough (good) is light, a long one dark.
    image = ax.imshow(values, cmap="viridis_r", vmin=0, vmax=top, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            dark = values[i, j] > 0.55 * top
            ax.text(
                j,
                i,
                f"{values[i, j]:.1f} quarters\n{share.iat[i, j]:.0%} broke through",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
            if matched.iat[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
    ax.set_xticks(range(len(cols)), [names.regime(c).replace(" (", "\n(") for c in cols])
    ax.set_yticks(range(len(rows)), [names.technology(r).replace(" (", "\n(") for r in rows])
    ax.tick_params(labelsize=8)
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("Mean time to breakthrough, RMST (quarters; lower is faster)", fontsize=8)
    ax.legend(
        handles=[
            Patch(fill=False, ec="red", lw=2.5, label="the mode the paper pairs with the type")
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        fontsize=8,
        frameon=False,
    )
    ax.set_title("Fit matrix: mean time to breakthrough of each type under each mode")
    return fig


# ----------------------------------------------------------- over time


def metric_means(
    metrics: pd.DataFrame, runs: pd.DataFrame, metric_names: Sequence[str]
) -> pd.DataFrame:
    """Mean of per-tick metrics over the runs of each (technology, regime):
    columns technology, regime, metric, tick, value."""
    labels = runs[runs["status"] == "ok"][["run_id", "technology", "regime"]]
    chosen = metrics[metrics["metric"].isin(list(metric_names))].merge(labels, on="run_id")
    return (
        chosen.groupby(["technology", "regime", "metric", "tick"], observed=True)["value"]
        .mean()
        .reset_index()
    )


def plot_metrics_over_time(
    means: pd.DataFrame,
    metric_names: Sequence[str],
    title: str,
    technologies: Sequence[str] | None = None,
    regimes: Sequence[str] | None = None,
    labels: dict[str, str] | None = None,
) -> Figure:
    """Rows: metrics; columns: technology types; one line per regime (mean over runs).

    A metric that never changes on any type is left out (it would be a flat row).
    """
    colours = regime_colours()
    techs = list(technologies or _in_table_order("technologies", set(means["technology"])))
    shown = [
        m for m in metric_names if _varies(means.loc[means["metric"] == m, "value"].to_numpy())
    ]
    shown = shown or list(metric_names[:1])
    fig, axes = plt.subplots(
        len(shown), len(techs), figsize=(4.2 * len(techs), 2.6 * len(shown) + 0.9), squeeze=False
    )
    drawn: list[str] = []
    for i, metric in enumerate(shown):
        for j, tech in enumerate(techs):
            ax = axes[i, j]
            chosen = means[(means["metric"] == metric) & (means["technology"] == tech)]
            for regime, group in chosen.groupby("regime", sort=False):
                if regimes is not None and regime not in regimes:
                    continue
                ax.plot(group["tick"], group["value"], color=colours.get(regime))
                drawn.append(regime)
            if i == 0:
                ax.set_title(names.technology(tech), fontsize=10)
            if j == 0:
                ax.set_ylabel((labels or {}).get(metric) or _wrap(names.metric(metric)), fontsize=8)
            if i == len(shown) - 1:
                ax.set_xlabel(TICK_LABEL, fontsize=8)
    order = _in_table_order("regimes", set(drawn))
    fig.legend(
        handles=_regime_handles(order),
        loc="lower center",
        ncol=min(len(order), 3),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.09 if len(order) > 3 else 0.05, 1, 1))
    return fig


def _wrap(text: str, width: int = 28) -> str:
    """Break an axis label on spaces so it fits beside a small panel."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


GATE_REACHED = 0.99
"""Mean progress counted as "at the gate" when deciding whether to draw progress."""


def _values(means: pd.DataFrame, prefix: str) -> np.ndarray:
    return means.loc[means["metric"].str.startswith(prefix), "value"].to_numpy()


def _quarter_all_reach(progress: pd.DataFrame, level: float) -> int | None:
    """The first quarter from which every stage's mean progress under every regime
    stays at or above ``level`` (None if that never happens)."""
    if progress.empty:
        return None
    lowest = progress.groupby("tick")["value"].min().sort_index()
    below = lowest.index[lowest.to_numpy() < level]
    after = lowest.index[lowest.index > below.max()] if len(below) else lowest.index
    return int(after.min()) if len(after) else None


def plot_stages(means: pd.DataFrame, technology: str, n_stages: int) -> Figure:
    """Along the chain of a multi-stage technology: each stage's share of government
    money (and its progress to the gate, where that moves), then the share of runs
    whose chain is blocked and the misallocation index, over time."""
    from kctsim.config import load_technology

    colours = regime_colours()
    mine = means[means["technology"] == technology]
    try:
        stages = [s.name for s in load_technology(technology).stages][:n_stages]
    except Exception:  # a type not known here (stored results of a custom type)
        stages = []
    stages += [f"stage_{s + 1}" for s in range(len(stages), n_stages)]
    rows = ["stage_funding"] if _varies(_values(mine, "stage_funding")) else []
    progress = mine[mine["metric"].str.startswith("stage_progress")]
    reached = _quarter_all_reach(progress, GATE_REACHED)
    horizon = int(mine["tick"].max()) if len(mine) else 0
    note = ""
    if reached is not None and reached <= max(horizon // 4, 1):
        # Every stage at its gate within the first quarter of the run: a row flat at 1
        # for most of it, said in a sentence instead.
        note = (
            f"Progress to each stage's gate is not drawn: under every regime every stage "
            f"is within {1 - GATE_REACHED:.0%} of its gate by quarter {reached}."
        )
    elif _varies(progress["value"].to_numpy()):
        rows.append("stage_progress")
    bottom = [m for m in ("chain_blocked", "misallocation_index") if m in set(mine["metric"])]
    n_rows = len(rows) + (1 if bottom else 0)
    fig, axes = plt.subplots(
        max(n_rows, 1), n_stages, figsize=(4.0 * n_stages, 2.8 * max(n_rows, 1) + 0.9),
        squeeze=False,
    )  # fmt: skip
    drawn: list[str] = []
    for i, prefix in enumerate(rows):
        for s in range(n_stages):
            ax = axes[i, s]
            chosen = mine[mine["metric"] == f"{prefix}_{s + 1}"]
            for regime, group in chosen.groupby("regime", sort=False):
                ax.plot(group["tick"], group["value"], color=colours.get(regime))
                drawn.append(regime)
            stage = names.bilingual("stages", stages[s])
            ax.set_title(f"Stage {s + 1}, {stage}", fontsize=9)
            if s == 0:
                ax.set_ylabel(_wrap(names.entry("metrics", prefix).with_unit), fontsize=8)
    if bottom:
        row = axes[len(rows)]
        for k, metric in enumerate(bottom[:n_stages]):
            for regime, group in mine[mine["metric"] == metric].groupby("regime", sort=False):
                row[k].plot(group["tick"], group["value"], color=colours.get(regime))
                drawn.append(regime)
            entry = names.entry("metrics", metric)
            row[k].set_title(entry.name, fontsize=9)
            row[k].set_ylabel(_wrap(entry.unit, 24), fontsize=8)
        for ax in row[len(bottom) :]:
            ax.axis("off")
    for ax in axes[-1, : max(len(bottom), 1) if bottom else n_stages]:
        ax.set_xlabel(TICK_LABEL, fontsize=8)
    order = _in_table_order("regimes", set(drawn))
    fig.legend(
        handles=_regime_handles(order),
        loc="lower center",
        bbox_to_anchor=(0.5, 0.04 if note else 0.0),
        ncol=3,
        fontsize=8,
    )
    fig.suptitle(f"{names.technology(technology)}: money and blockage along the chain")
    if note:
        fig.text(0.5, 0.0, note, ha="center", va="bottom", fontsize=8, style="italic")
    fig.tight_layout(rect=(0, 0.15 if note else 0.1, 1, 1))
    return fig


# ------------------------------------------------------------ resource flows


def flow_matrix(flows: pd.DataFrame, technology: str, regime: str) -> pd.DataFrame:
    """Money per run from each agent type (rows) to each (columns)."""
    chosen = flows[(flows["technology"] == technology) & (flows["regime"] == regime)]
    return chosen.pivot_table(
        index="from_type", columns="to_type", values="amount", aggfunc="sum", fill_value=0.0
    )


def _pair_title(technology: str, regime: str) -> str:
    return f"{names.technology(technology)}\n{names.regime(regime)}"


def _pairs_panels(pairs: Sequence[tuple[str, str]], width: float, height: float):
    """Panels for (technology, regime) pairs: pairs 2i and 2i+1 stacked in column i."""
    rows = 2 if len(pairs) > 1 else 1
    cols = -(-len(pairs) // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for extra in axes.T.ravel()[len(pairs) :]:
        extra.axis("off")
    return fig, axes.T.ravel()[: len(pairs)]


def plot_flow_heatmaps(flows: pd.DataFrame, pairs: Sequence[tuple[str, str]]) -> Figure:
    """Payer x payee matrices of money moved per run (log colour scale with a colour
    bar), one per (technology, regime); white cells moved nothing."""
    fig, axes = _pairs_panels(pairs, 4.6, 4.4)
    moved = flows[flows["amount"] > 0]
    payers = _in_table_order("agents", set(moved["from_type"]))
    payees = _in_table_order("agents", set(moved["to_type"]))
    low = max(float(moved["amount"].min()), 1e-3) if len(moved) else 1.0
    norm = LogNorm(vmin=low, vmax=max(float(flows["amount"].max()), low * 10))
    cmap = plt.get_cmap("magma_r").with_extremes(bad="white")
    image = None
    for k, (ax, (tech, regime)) in enumerate(zip(axes, pairs, strict=True)):
        matrix = flow_matrix(flows, tech, regime).reindex(
            index=payers, columns=payees, fill_value=0
        )
        image = ax.imshow(np.ma.masked_less_equal(matrix.to_numpy(float), 0), cmap=cmap, norm=norm)
        ax.set_xticks(
            range(len(payees)),
            [names.entry("agents", t).brief for t in payees],
            rotation=60,
            ha="right",
            fontsize=7,
        )
        ax.set_yticks(
            range(len(payers)), [names.entry("agents", t).brief for t in payers], fontsize=7
        )
        ax.set_title(_pair_title(tech, regime), fontsize=9)
        ax.set_xlabel("who is paid", fontsize=8)
        if k < 2:  # the first column (pairs are stacked two to a column)
            ax.set_ylabel("who pays", fontsize=8)
    fig.suptitle("Money moved between agent types per run")
    fig.tight_layout()
    if image is not None:
        fig.colorbar(
            image, ax=list(axes), shrink=0.8, label="money per run (money units, log scale)"
        )
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
    """Draw a two-column Sankey (alluvial) diagram of a payer x payee money matrix.

    Each node is labelled with its display name and amount; bands take the
    payer's colour, so the labels are the legend.
    """
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

    def stack(keys: list[str], sizes: pd.Series) -> dict[str, list[float]]:
        tops, y = {}, 1.0
        scale = (1.0 - gap * (len(keys) - 1)) / sizes.sum()
        for key in keys:
            tops[key] = [y, scale]  # running top and scale
            y -= sizes[key] * scale + gap
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
    for keys, sizes, tops, x, ha in (
        (sources, out_sizes, stack(sources, out_sizes), 0.1, "right"),
        (sinks, in_sizes, stack(sinks, in_sizes), 0.9, "left"),
    ):
        for key in keys:
            top, scale = tops[key]
            height = sizes[key] * scale
            ax.add_patch(Rectangle((x - 0.01, top - height), 0.02, height, color=colour[key]))
            ax.text(
                x + (-0.02 if ha == "right" else 0.02),
                top - height / 2,
                f"{names.name('agents', key)} {sizes[key]:.0f}",
                ha=ha,
                va="center",
                fontsize=6.5,
            )
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-0.02, 1.02)
    ax.axis("off")


def plot_flow_sankeys(flows: pd.DataFrame, pairs: Sequence[tuple[str, str]]) -> Figure:
    """Sankey diagrams of money per run between agent types, one per (technology, regime)."""
    fig, axes = _pairs_panels(pairs, 4.8, 4.6)
    for ax, (tech, regime) in zip(axes, pairs, strict=True):
        sankey(ax, flow_matrix(flows, tech, regime))
        ax.set_title(_pair_title(tech, regime), fontsize=9)
    fig.suptitle(
        "Resource flows between agent types, money units per run "
        "(left: who pays, right: who is paid)"
    )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- robustness

VERDICT_COLOURS = {"supported": "tab:green", "not supported": "tab:gray", "contradicted": "tab:red"}


def plot_robustness(verdicts: pd.DataFrame, drivers: pd.DataFrame, top: int = 3) -> Figure:
    """Bars: share of worlds in which each verdict holds (colour: the verdict); beside
    them, the parameters whose rank correlation with the effect is strongest."""
    fig, (bars, corr) = plt.subplots(1, 2, figsize=(12, 4.2), width_ratios=[1, 1.5])
    shares = verdicts.set_index("proposition")["robustness_share"]
    verdict_of = verdicts.set_index("proposition")["verdict"]
    bars.bar(
        shares.index,
        shares.to_numpy(float),
        color=[VERDICT_COLOURS.get(v, "tab:gray") for v in verdict_of],
    )
    bars.set_ylim(0, 1)
    bars.set_ylabel("Share of worlds where the verdict holds")
    bars.set_xlabel("Proposition")
    bars.set_title("Robustness over sampled worlds")
    bars.legend(
        handles=[
            Patch(color=c, label=f"verdict: {v}")
            for v, c in VERDICT_COLOURS.items()
            if v in set(verdict_of)
        ],
        fontsize=8,
        loc="upper right",
    )
    if drivers.empty or drivers["rho"].isna().all():
        corr.axis("off")
    else:
        best = drivers[drivers["rank"] <= top].dropna(subset=["rho"])
        labels = [f"{r.proposition}: {names.factor(r.factor)}" for r in best.itertuples()]
        rho = best["rho"].to_numpy(float)
        colours = ["tab:blue" if x > 0 else "tab:orange" for x in rho]
        corr.barh(labels[::-1], rho[::-1], color=colours[::-1])
        corr.axvline(0, color="black", lw=0.8)
        corr.set_xlim(-1, 1)
        corr.set_xlabel("Spearman correlation of the parameter with the effect (−1 to 1)")
        corr.set_title(f"The {top} parameters each proposition's effect depends on most")
        corr.tick_params(axis="y", labelsize=7)
        corr.legend(
            handles=[
                Patch(color="tab:blue", label="more of it: larger effect"),
                Patch(color="tab:orange", label="more of it: smaller effect"),
            ],
            fontsize=7,
            loc="lower right",
        )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------- calibration


def plot_calibration(curve: pd.DataFrame, record: dict[str, Any]) -> Figure:
    """Mean number of technologies broken through against the cost scale, with the
    middle 95% of replicates, the target and the fitted cost scale."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.fill_between(
        curve["cost_scale"],
        curve["low"],
        curve["high"],
        alpha=0.2,
        label="middle 95% of replicates",
    )
    ax.plot(curve["cost_scale"], curve["mean"], marker="o", label="mean over replicates")
    target = record["target_broken_through"]
    ax.axhline(target, color="black", ls="--", lw=0.8, label=f"target: {target} broken through")
    fitted = record["cost_scale"]
    if np.isfinite(fitted):
        ax.axvline(fitted, color="tab:red", lw=1, label=f"fitted cost scale {fitted:.0f}")
        ax.axvspan(
            record["ci_low"],
            record["ci_high"],
            color="tab:red",
            alpha=0.1,
            label="its 95% interval",
        )
    ax.set_xscale("log")
    # Plain numbers at the grid's points, not 3x10^1 on the log axis.
    grid = np.unique(curve["cost_scale"].to_numpy(float))
    ax.xaxis.set_major_locator(FixedLocator(grid))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(names.label("parameters", "cost_scale"))
    ax.set_ylabel(
        f"Technologies broken through, of {record['technologies']}\n"
        f"(by quarter {record['horizon']})"
    )
    ax.legend(fontsize=8)
    ax.set_title("Calibration of the global R&D cost scale")
    return fig
