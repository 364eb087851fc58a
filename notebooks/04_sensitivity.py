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
# of R&D, the base spillover, the Bass coefficients p and q (parameters the paper does not
# pin down) and two of Spiral's own levers, IP protection and user participation. Its
# design is Saltelli's extension of the Sobol' sequence (SALib): N × (D + 2) points for D
# factors. The outcome is the breakthrough probability at the horizon T, estimated at
# each design point over its replicates in two ways:
#
# * **share broken through**: the fraction of replicates that broke through by T
#   (ODD outputs: over replicates, the fraction broken through by t);
# * **compensator**: the mean over replicates of Σ h(t) over the ticks at risk
#   (`expected_breakthroughs`), whose expectation is the same probability (the hazard's
#   martingale identity, ODD 1.2) but which varies less than a 0/1 outcome when there
#   are few replicates.
#
# (The mean of the run-level P(T) is not used: it is 1 for runs that broke through and
# positive for the others, so it overstates the probability.) SALib then estimates
#
# * **S1**, the first-order index: the share of the outcome's variance explained by one
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

from kctsim import names
from kctsim.experiment.scenario import load_scenario

# %% tags=["parameters"]
# Parameters. SETTING "small" is a smoke run of the same design with N = 4, one
# replicate and 20 quarters (what the test suite runs; its indices are noise). "full"
# runs the shipped scenario as it is (2048 runs of 80 quarters: about 140 s on 2 workers,
# measured 2026-11-27) into results/sweeps/sensitivity, where `kctsim sweep
# scenarios/sensitivity.toml` puts it too: a sweep already there (complete or not) is
# reused and finished.
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
tables = sweep(scenario, out_dir, WORKERS, resume, progress=SETTING == "full", tables=("runs",))
runs = tables["runs"]
print(f"{len(runs)} runs in {out_dir}")

# %% [markdown]
# ## The outcome per design point
#
# Y[k] is the outcome averaged over the replicates of design point k, in SALib's sample
# order (the design's point order), as `SALib.analyze.sobol.analyze` expects.

# %%
OUTCOMES = {
    "share broken through": "broke_through",
    "compensator (mean sum of hazards)": "expected_breakthroughs",
}
runs["broke_through"] = runs.broke_through.astype(float)
factor_columns = [f"factor.{name}" for name in problem["names"]]
points = runs.groupby("point").agg(
    **{label: (column, "mean") for label, column in OUTCOMES.items()},
    **{
        name: (column, "first")
        for name, column in zip(problem["names"], factor_columns, strict=True)
    },
)
assert list(points.index) == list(range(len(scenario.design.points)))
points[list(OUTCOMES)].describe().round(3)

# %%
d = len(problem["names"])
fig, axes = plt.subplots(len(OUTCOMES), d, figsize=(2.6 * d, 5.4), sharey="row", squeeze=False)
for row, label in enumerate(OUTCOMES):
    for ax, name in zip(axes[row], problem["names"], strict=True):
        ax.scatter(points[name], points[label], s=12, alpha=0.7)
        ax.set(xlabel=names.factor(name) if row == len(OUTCOMES) - 1 else "")
    axes[row, 0].set_ylabel(label, fontsize="small")
fig.suptitle(f"{scenario.name}: outcome at quarter {scenario.horizon} against each input")
fig.tight_layout()
save(fig, "outcome_vs_inputs")

# %% [markdown]
# ## Sobol' indices
#
# If an outcome does not vary over the design (e.g. every run breaks through), its
# variance is zero and its indices are undefined; the notebook says so instead of
# plotting noise.


# %%
def sobol_table(y: np.ndarray) -> pd.DataFrame:
    """S1 and ST with their 95% bootstrap half-widths, by input; NaN if y is constant."""
    columns = ["S1", "S1_conf", "ST", "ST_conf"]
    if not np.var(y) > 0:
        return pd.DataFrame(np.nan, index=problem["names"], columns=columns)
    indices = sobol.analyze(problem, y, calc_second_order=False, seed=scenario.seed)
    return pd.DataFrame({key: indices[key] for key in columns}, index=problem["names"])


tables = {label: sobol_table(points[label].to_numpy()) for label in OUTCOMES}
for label, table in tables.items():
    if table.isna().all().all():
        print(f"{label}: the same at every design point, Sobol' indices undefined")
pd.concat(tables, axis=1).round(3)

# %%
fig, axes = plt.subplots(1, len(tables), figsize=(13, 3.8), sharey=True)
order = tables["compensator (mean sum of hazards)"].ST.sort_values(ascending=False).index
x = np.arange(len(order))
for ax, (label, table) in zip(axes, tables.items(), strict=True):
    table = table.loc[order]
    ax.bar(x - 0.2, table.S1, 0.4, yerr=table.S1_conf, capsize=3, label="S1 (first order)")
    ax.bar(x + 0.2, table.ST, 0.4, yerr=table.ST_conf, capsize=3, label="ST (total)")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [names.factor(n) for n in order], rotation=25, ha="right")
    ax.set(title=label)
axes[0].set_ylabel("Sobol' index")
axes[0].legend(fontsize="small")
fig.suptitle(
    f"Breakthrough probability at quarter {scenario.horizon}: {scenario.name}, "
    f"{len(points)} points x {scenario.replicates} replicates"
)
fig.tight_layout()
save(fig, "sobol_indices")

# %% [markdown]
# ## Reading the indices
#
# Confidence intervals wider than the indices themselves mean the sample is too small
# (raise `samples` in the scenario file; it must stay a power of 2). Negative S1 values
# are estimation noise around zero. The inputs ranked by ST are where better data would
# narrow the model's predictions most; an input with ST near zero can be fixed anywhere in
# its range without changing the outcome.

# %%
for label, table in tables.items():
    ranked = table.dropna().sort_values("ST", ascending=False)
    if len(ranked):
        print(
            f"{label}: largest total index {ranked.index[0]} "
            f"(ST = {ranked.ST.iloc[0]:.2f} ± {ranked.ST_conf.iloc[0]:.2f}); "
            f"sum of S1 = {ranked.S1.sum():.2f} (1 would mean no interactions)"
        )
