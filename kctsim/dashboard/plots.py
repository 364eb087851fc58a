"""Small bqplot chart builders used by every page.

bqplot draws in the browser (d3) from the data the server sends, so a
re-render costs the server only the changed arrays: a matplotlib PNG per
panel costs ~100 ms each on this machine, bqplot a few ms for the whole page.
Its JavaScript comes with the Python package (no CDN). Each builder returns a
reacton element; a re-render with the same structure updates the existing
widgets in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bqplot
import ipywidgets
import numpy as np
import solara

MARGIN = {"top": 30, "bottom": 40, "left": 50, "right": 15}
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")


@dataclass(frozen=True)
class Line:
    """One series of a line chart."""

    label: str
    y: np.ndarray
    colour: str
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded band (e.g. a confidence interval) between ``low`` and ``high``."""

    low: np.ndarray
    high: np.ndarray
    colour: str


def _layout(height: str) -> solara.Element:
    # An element, not a dict: a dict makes a new Layout widget (and comm) every render.
    return ipywidgets.Layout.element(width="100%", height=height, min_width="280px")


def _floats(values) -> np.ndarray:
    # bqplot serialises int64 arrays wrongly (axis 0..1); floats always work.
    return np.asarray(values, dtype=float)


def line_chart(
    title: str,
    x: np.ndarray,
    lines: Sequence[Line],
    *,
    bands: Sequence[Band] = (),
    y_min: float | None = None,
    y_max: float | None = None,
    x_label: str = "tick (quarter)",
    y_label: str = "",
    vertical_at: float | None = None,
    height: str = "240px",
    x_max: float | None = None,
) -> solara.Element:
    """A line chart with a legend, optional bands and an optional vertical marker.

    ``x_max`` fixes the x axis (e.g. at the horizon): the axis then stays put
    from frame to frame and the browser redraws only the lines.
    """
    x = _floats(x)
    top = x_max if x_max is not None else max(x.max(initial=0), 1)
    xs = bqplot.LinearScale.element(min=0.0, max=float(top))
    ys = bqplot.LinearScale.element(min=y_min, max=y_max)
    scales = {"x": xs, "y": ys}
    marks = [
        bqplot.Lines.element(
            x=x,
            y=np.vstack([_floats(b.low), _floats(b.high)]),
            fill="between",
            fill_colors=[b.colour],
            fill_opacities=[0.2],
            colors=[b.colour],
            stroke_width=0.5,
            opacities=[0.3],
            scales=scales,
        )
        for b in bands
    ]
    for line in lines:
        marks.append(
            bqplot.Lines.element(
                x=x,
                y=_floats(line.y),
                colors=[line.colour],
                labels=[line.label],
                display_legend=True,
                line_style="dashed" if line.dashed else "solid",
                stroke_width=2,
                scales=scales,
            )
        )
    if vertical_at is not None:
        top = y_max if y_max is not None else 1.0
        low = y_min if y_min is not None else 0.0
        marks.append(
            bqplot.Lines.element(
                x=_floats([vertical_at, vertical_at]),
                y=_floats([low, top]),
                colors=["#444444"],
                line_style="dotted",
                scales=scales,
            )
        )
    return bqplot.Figure.element(
        title=title,
        marks=marks,
        axes=[
            bqplot.Axis.element(scale=xs, label=x_label, num_ticks=6),
            bqplot.Axis.element(
                scale=ys, orientation="vertical", label=y_label, num_ticks=5, tick_format=".2~f"
            ),
        ],
        fig_margin=MARGIN,
        legend_location="top-left",
        legend_style={"fill": "white", "opacity": 0.8},
        layout=_layout(height),
        animation_duration=0,
    )


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float], colour: str = "#1f77b4"
) -> solara.Element:
    """Horizontal bars, largest first."""
    labels = list(labels) or ["(none yet)"]
    values = list(values) or [0.0]
    xs = bqplot.OrdinalScale.element(domain=labels)
    # Explicit bounds: an auto-scaled axis is drawn 0..1 whatever the data.
    ys = bqplot.LinearScale.element(min=0.0, max=float(max(max(values), 1e-9) * 1.05))
    return bqplot.Figure.element(
        title=title,
        marks=[
            bqplot.Bars.element(
                x=labels,
                y=_floats(values),
                colors=[colour],
                orientation="horizontal",
                scales={"x": xs, "y": ys},
            )
        ],
        axes=[
            bqplot.Axis.element(scale=xs, orientation="vertical"),
            bqplot.Axis.element(scale=ys, label="money, cumulative", num_ticks=4),
        ],
        fig_margin={"top": 30, "bottom": 40, "left": 190, "right": 15},
        layout=_layout("240px"),
        animation_duration=0,
    )


def network_chart(
    title: str,
    x: np.ndarray,
    y: np.ndarray,
    colours: Sequence[str],
    edge_x: np.ndarray,
    edge_y: np.ndarray,
) -> solara.Element:
    """Nodes at (x, y) in their colours, edges as grey segments."""
    xs = bqplot.LinearScale.element(min=-1.1, max=1.1)
    ys = bqplot.LinearScale.element(min=-1.1, max=1.1)
    scales = {"x": xs, "y": ys}
    if len(edge_x) == 0:  # bqplot needs at least one (invisible) segment
        edge_x = edge_y = np.full((1, 2), np.nan)
    return bqplot.Figure.element(
        title=title,
        marks=[
            bqplot.Lines.element(
                x=_floats(edge_x),
                y=_floats(edge_y),
                colors=["#bbbbbb"],
                stroke_width=0.7,
                scales=scales,
            ),
            bqplot.Scatter.element(
                x=_floats(x),
                y=_floats(y),
                colors=list(colours) or ["#777777"],
                default_size=40,
                stroke="white",
                scales=scales,
            ),
        ],
        axes=[],
        fig_margin={"top": 30, "bottom": 10, "left": 10, "right": 10},
        layout=_layout("300px"),
        animation_duration=0,
    )
