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
# # 04 Sensitivity: Sobol' indices of the breakthrough probability
#
# Which uncertain inputs drive the outcome of the Spiral mode on a key generic
# technology? `scenarios/sensitivity.toml` varies six inputs over ranges: the cost scale
# of R&D, the base spillover, the Bass coefficients p and q (parameters MODEL.md does not
# pin down) and two of Spiral's own levers, IP protection and user participation. Its
# design is Saltelli's extension of the Sobol' sequence (SALib): N × (D + 2) points for D
# factors. The outcome here is the breakthrough probability at the horizon, P(T) (the
# model's own probability from the hazard, ODD "Outputs"), averaged over the replicates
# of each design point. SALib then estimates
#
# * **S1**, the first-order index: the share of the variance of P(T) explained by one
#   input alone;
# * **ST**, the total index: that share including all interactions with other inputs;
#
# with bootstrap confidence intervals. ST − S1 large means an input acts through
# interactions.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from nbtools import derived_scenario, figure_saver, read_toml, repo_root, results_dir, sweep
from SALib.analyze import sobol

from kctsim.experiment.scenario import load_scenario

# %% tags=["parameters"]
# Parameters. SETTING "small" is a smoke run of the same design with N = 4, one
# replicate and 20 quarters (what the test suite runs; its indices are noise). "full"
# runs the shipped scenario as it is (2048 runs of 80 quarters: about 20 minutes on 2
# workers) into results/sweeps/sensitivity, where `kctsim sweep scenarios/sensitivity.toml`
# puts it too: a sweep already there (complete or not) is reused and finished.
SETTING = "small"
RESULTS_DIR = None
WORKERS = 1  # 1 runs in this process; 2 or more use a local process pool
RESUME = False  # small setting only: True continues an unfinished sweep

# %%
RESULTS = results_dir(RESULTS_DIR)
save = figure_saver(RESULTS, "04_sensitivity")
SCENARIO_FILE = repo_root() / "scenarios" / "sensitivity.toml"

if SETTING == "full":
    scenario = load_scenario(SCENARIO_FILE)
    out_dir = RESULTS / "sweeps" / scenario.name
    resume = True  # the CLI's sweep of the same file, if any, is reused
else:
    data = read_toml(SCENARIO_FILE)
    data.update(horizon=20, replicates=1)
    data["design"]["samples"] = 4  # a power of 2, as Sobol' sampling needs
    scenario = derived_scenario(SCENARIO_FILE, data, "sensitivity_small")
    out_dir = RESULTS / "notebooks" / "04_sensitivity" / scenario.name
    resume = RESUME

problem = scenario.design.problem
print(
    f"{scenario.name}: {len(scenario.design.points)} design points x {scenario.replicates} "
    f"replicates = {scenario.n_runs} runs of {scenario.horizon} quarters"
)
pd.DataFrame(problem["bounds"], index=problem["names"], columns=["min", "max"])

# %% [markdown]
# ## Run the design
#
# Through the experiment layer, as `kctsim sweep` does: every run has its own seed
# spawned from the root seed, and replicate i shares its seed across design points.

# %%
tables = sweep(scenario, out_dir, WORKERS, resume, progress=SETTING == "full")
runs = tables["runs"]
print(f"{len(runs)} runs in {out_dir}")

# %% [markdown]
# ## The outcome per design point
#
# Y[k] is P(T) averaged over the replicates of design point k, in SALib's sample order
# (the design's point order), as `SALib.analyze.sobol.analyze` expects.

# %%
factor_columns = [f"factor.{name}" for name in problem["names"]]
points = runs.groupby("point").agg(
    p_breakthrough=("p_breakthrough", "mean"),
    broke_through=("broke_through", "mean"),
    **{
        name: (column, "first")
        for name, column in zip(problem["names"], factor_columns, strict=True)
    },
)
assert list(points.index) == list(range(len(scenario.design.points)))
Y = points["p_breakthrough"].to_numpy()
print(
    f"P(T) over design points: mean {Y.mean():.3f}, sd {Y.std():.3f}, "
    f"range [{Y.min():.3f}, {Y.max():.3f}]"
)

# %%
d = len(problem["names"])
fig, axes = plt.subplots(1, d, figsize=(2.6 * d, 3), sharey=True)
for ax, name in zip(axes, problem["names"], strict=True):
    ax.scatter(points[name], points.p_breakthrough, s=12, alpha=0.7)
    ax.set(xlabel=name)
axes[0].set_ylabel("P(breakthrough) at horizon")
fig.suptitle(f"{scenario.name}: outcome against each input ({len(points)} design points)")
fig.tight_layout()
save(fig, "outcome_vs_inputs")

# %% [markdown]
# ## Sobol' indices
#
# If P(T) does not vary over the design (e.g. every run breaks through), its variance is
# zero and the indices are undefined; the notebook says so instead of plotting noise.

# %%
if np.var(Y) > 0:
    indices = sobol.analyze(problem, Y, calc_second_order=False, seed=scenario.seed)
    table = pd.DataFrame(
        {key: indices[key] for key in ("S1", "S1_conf", "ST", "ST_conf")}, index=problem["names"]
    ).sort_values("ST", ascending=False)
else:
    table = pd.DataFrame(np.nan, index=problem["names"], columns=["S1", "S1_conf", "ST", "ST_conf"])
    print("P(T) is the same at every design point: Sobol' indices are undefined")
table.round(3)

# %%
fig, ax = plt.subplots(figsize=(8, 3.8))
x = np.arange(len(table))
ax.bar(x - 0.2, table.S1, 0.4, yerr=table.S1_conf, capsize=3, label="S1 (first order)")
ax.bar(x + 0.2, table.ST, 0.4, yerr=table.ST_conf, capsize=3, label="ST (total)")
ax.axhline(0, color="black", lw=0.8)
ax.set_xticks(x, table.index, rotation=20)
ax.set(
    ylabel="Sobol' index", title=f"P(breakthrough) at quarter {scenario.horizon}, {scenario.name}"
)
ax.legend()
fig.tight_layout()
save(fig, "sobol_indices")

# %% [markdown]
# ## Reading the indices
#
# Confidence intervals wider than the indices themselves mean the sample is too small
# (raise `samples` in the scenario file; it must stay a power of 2). Negative S1 values
# are estimation noise around zero. The inputs ranked by ST are where better data would
# narrow the model's predictions most; an input with ST near zero can be fixed anywhere in
# its range without changing P(T).

# %%
ranked = table.dropna()
if len(ranked):
    top = ranked.index[0]
    print(
        f"largest total index: {top} (ST = {ranked.ST.iloc[0]:.2f} ± {ranked.ST_conf.iloc[0]:.2f});"
        f" sum of S1 = {ranked.S1.sum():.2f} (1 would mean no interactions)"
    )
