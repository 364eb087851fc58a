# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 Chokepoints: the 35 technologies of 2018, status quo vs matching mode
#
# In 2018 Science and Technology Daily reported 35 "chokepoint" technologies China
# lacked; by 2023, 14 of them were still not broken through (the paper), so about 21
# were. `scenarios/chokepoints_2018.toml` runs each of the 35 as its own technology of
# its type (`scenarios/data/chokepoints_2018.csv`; the type is this project's
# illustrative reading, not the paper's) for 20 quarters under the **status quo** of its
# type: the regime the paper names as the cause of its absence (key generic → subject
# dislocation, cutting-edge → path dependence, major strategic → resource misallocation).
# One global cost scale is calibrated so that about 21 of 35 break through
# (ODD section 6; `kctsim calibrate`).
#
# From that calibrated baseline, this notebook asks: what changes when each type gets
# the breakthrough mode the paper proposes for it (P4–P6)? Each technology runs under
# both regimes with the same seeds (common random numbers), so the difference is the
# regime's.

# %%
import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from nbtools import derived_scenario, figure_saver, read_toml, repo_root, results_dir, sweep

import kctsim
from kctsim import names
from kctsim.fonts import register_matplotlib

register_matplotlib()  # the paper's Chinese terms in figure labels, on any machine

# %% tags=["parameters"]
# Parameters. SETTING "small" runs two technologies of each type, one replicate each
# (what the test suite runs; too few to read); "full" runs all 35 with the scenario's
# replicates (1400 runs of 20 quarters, about 50 s on 2 workers, measured 2026-11-27).
SETTING = "small"
RESULTS_DIR = None
WORKERS = 1  # 1 runs in this process; 2 or more use a local process pool
RESUME = False  # True: continue a sweep left unfinished in the same directory

# %%
RESULTS = results_dir(RESULTS_DIR)
save = figure_saver(RESULTS, "05_chokepoints")
SCENARIO_FILE = repo_root() / "scenarios" / "chokepoints_2018.toml"
data = read_toml(SCENARIO_FILE)

# The paper's proposed mode for each type (propositions P4-P6): the comparison's input.
MATCHING_MODE = {
    "key_generic": "spiral",
    "cutting_edge": "jungle",
    "major_strategic": "main_layout",
}
STATUS_QUO = dict(data["cells"]["regimes"])  # the cause regimes, as the scenario file sets them
pd.DataFrame({"status quo": STATUS_QUO, "matching mode": MATCHING_MODE})

# %% [markdown]
# ## The calibrated cost scale
#
# Read from the calibration shipped with kctsim (`kctsim/data/calibration.toml`, a fit
# of `kctsim calibrate`); without it, the scenario's own value or the model's default is
# used, and the notebook says which.


# %%
def cost_scale_and_source() -> tuple[float, str]:
    """The calibrated cost scale if one is saved, else the scenario's or the default."""
    try:
        from kctsim.analysis.calibration import calibrated_cost_scale

        return calibrated_cost_scale(), "kctsim.analysis.calibration.calibrated_cost_scale()"
    except (ImportError, FileNotFoundError, KeyError):
        pass  # no calibration module, or nothing saved yet: look further
    packaged = Path(kctsim.__file__).parent / "data" / "calibration.toml"
    if packaged.is_file():
        saved = tomllib.loads(packaged.read_text(encoding="utf-8"))
        if "cost_scale" in saved:
            return float(saved["cost_scale"]), str(packaged)
    if "cost_scale" in data.get("parameters", {}):
        return float(data["parameters"]["cost_scale"]), f"{SCENARIO_FILE.name} [parameters]"
    default = float(kctsim.default_parameters().values["cost_scale"])
    return default, "kctsim/data/defaults.toml (NOT calibrated: no saved calibration found)"


COST_SCALE, COST_SOURCE = cost_scale_and_source()
print(f"cost_scale = {COST_SCALE:g}, from {COST_SOURCE}")

# %% [markdown]
# ## The scenario: every technology under its status quo and its matching mode
#
# The shipped scenario with the calibrated cost scale and, for each type, two regimes.
# The text that ran is recorded in the sweep's manifest.

# %%
cells = pd.read_csv(SCENARIO_FILE.parent / data["cells"]["file"], dtype=str)
type_column = data["cells"].get("type_column", "type")
data.setdefault("parameters", {})["cost_scale"] = COST_SCALE
data["cells"]["regimes"] = {t: [STATUS_QUO[t], MATCHING_MODE[t]] for t in STATUS_QUO}
if SETTING == "small":
    keep = cells.groupby(type_column).head(2)[data["cells"].get("id_column", "id")]
    data["cells"]["select"] = {data["cells"].get("id_column", "id"): list(keep)}
    data["replicates"] = 1
scenario = derived_scenario(SCENARIO_FILE, data, f"chokepoints_2018_modes_{SETTING}")
print(
    f"{len(scenario.cells)} technologies x 2 regimes x {scenario.replicates} replicates "
    f"= {scenario.n_runs} runs of {scenario.horizon} quarters"
)

# %%
out_dir = RESULTS / "notebooks" / "05_chokepoints" / scenario.name
tables = sweep(scenario, out_dir, WORKERS, RESUME, progress=SETTING == "full", tables=("runs",))
runs = tables["runs"]
type_of = {cell.label: cell.technology for cell in scenario.cells}
name_of = {cell.label: cell.name for cell in scenario.cells}
runs["type"] = runs.technology.map(type_of)
runs["name"] = runs.technology.map(name_of)
runs["arm"] = np.where(runs.regime == runs.type.map(STATUS_QUO), "status quo", "matching mode")
runs["broke_through"] = runs.broke_through.astype(float)

# %% [markdown]
# ## How many of the 35 break through within 20 quarters?
#
# One replicate is one simulated 2018-2023 for all technologies at once; the realised
# number broken through varies between replicates. A second, smoother estimate of its
# mean is the compensator: the sum over technologies of Σ h(t) over the ticks at risk
# (`expected_breakthroughs`), equal to the realised count in expectation (the hazard's
# martingale identity, ODD 1.2). The mean of the run-level P(20) is *not* used:
# it is 1 for runs that broke through and positive for the others, so it overstates. The
# calibration aims the status quo at about 21 of 35.

# %%
n_cells = len(scenario.cells)
per_cell = runs.groupby(["arm", "technology"])[["broke_through", "expected_breakthroughs"]].mean()
expected = per_cell.groupby("arm").sum()
worlds = runs.groupby(["arm", "replicate"])["broke_through"].sum()
counts = pd.DataFrame(
    {
        "realised, mean over replicates": worlds.groupby("arm").mean(),
        "compensator (sum of hazards)": expected.expected_breakthroughs,
        "realised, min": worlds.groupby("arm").min(),
        "realised, max": worlds.groupby("arm").max(),
    }
)
counts["of"] = n_cells
counts.round(2)

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
bins = np.arange(-0.5, n_cells + 1.5, 1)
for arm, color in (("status quo", "C3"), ("matching mode", "C0")):
    ax.hist(worlds.loc[arm], bins=bins, alpha=0.6, color=color, label=arm)
if n_cells == 35:
    ax.axvline(21, color="black", ls=":", label="broken through by 2023 (21 of 35)")
ax.set(xlabel=f"technologies broken through (of {n_cells})", ylabel="replicates")
ax.legend()
fig.tight_layout()
save(fig, "breakthroughs_per_replicate")

# %% [markdown]
# ## By type
#
# The share of runs broken through within 20 quarters, over the technologies of each
# type and their replicates, under the status quo and under the matching mode.

# %%
by_type = (
    runs.groupby(["type", "arm"])["broke_through"]
    .mean()
    .unstack("arm")[["status quo", "matching mode"]]
)
by_type["difference"] = by_type["matching mode"] - by_type["status quo"]
by_type["technologies"] = runs.groupby("type").technology.nunique()
by_type["status quo regime"] = by_type.index.map(STATUS_QUO)
by_type["matching mode regime"] = by_type.index.map(MATCHING_MODE)
by_type.round(3)

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
x = np.arange(len(by_type))
ax.bar(x - 0.2, by_type["status quo"], 0.4, color="C3", label="status quo (cause regime)")
ax.bar(x + 0.2, by_type["matching mode"], 0.4, color="C0", label="matching mode")
ax.set_xticks(
    x,
    [
        f"{names.technology(t)}\n(n = {n})"
        for t, n in zip(by_type.index, by_type.technologies, strict=True)
    ],
)
ax.set(ylabel="share broken through within 20 quarters", ylim=(0, 1.05))
ax.legend(fontsize="small")
fig.tight_layout()
save(fig, "by_type")

# %% [markdown]
# ## Technology by technology
#
# Each row is one chokepoint technology: the share of its replicates broken through within
# 20 quarters under its status quo (red) and its matching mode (blue), grouped by type.

# %%
wide = per_cell.broke_through.unstack("arm")[["status quo", "matching mode"]]
wide["type"] = wide.index.map(type_of)
wide["name"] = wide.index.map(name_of)
wide = wide.sort_values(["type", "status quo"])
fig, ax = plt.subplots(figsize=(8, 0.24 * len(wide) + 1.2))
y = np.arange(len(wide))
ax.hlines(y, wide["status quo"], wide["matching mode"], color="grey", lw=1)
ax.scatter(wide["status quo"], y, color="C3", label="status quo", zorder=3)
ax.scatter(wide["matching mode"], y, color="C0", label="matching mode", zorder=3)
ax.set_yticks(
    y, [f"{n} ({t})" for n, t in zip(wide.name, wide.type, strict=True)], fontsize="small"
)
ax.set(xlabel="share broken through within 20 quarters", xlim=(-0.02, 1.02))
ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False, fontsize="small")
fig.tight_layout()
save(fig, "per_technology")
wide.round(3)

# %% [markdown]
# ## Caveats
#
# The type of each technology is an illustrative classification; the cost scale is one
# global number fitted to one count; and "matching mode" changes every lever of the
# regime at once. The comparison says what the model implies under these assumptions,
# not what would have happened. On the small setting the numbers rest on a single
# replicate of six technologies.
