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
# # 01 Quickstart: one run, its metrics, its plots
#
# One run of kctsim: a technology type searched on an NK landscape by government, leader
# firms, SMEs, state-managed organisations, universities, scientists and users, under one
# regime (a set of levers). This is what `kctsim run` does on the command line; here the
# same function, `kctsim.results.run_model`, returns the results as pandas tables.
#
# The model is described in [docs/ODD.md](../docs/ODD.md); every metric below is defined in
# its section "Outputs (observation)".

# %%
import matplotlib.pyplot as plt
import pandas as pd
from nbtools import figure_saver, results_dir

import kctsim
from kctsim import names
from kctsim.fonts import register_matplotlib
from kctsim.results import run_model

register_matplotlib()  # the paper's Chinese terms in figure labels, on any machine

# %% tags=["parameters"]
# Parameters. SETTING picks the size: "small" is a quick look (and what the test suite
# runs), "full" runs the model's own horizon. RESULTS_DIR None means <repo>/results.
SETTING = "small"
TECHNOLOGY = "key_generic"  # key_generic, cutting_edge or major_strategic
REGIME = "spiral"  # spiral, jungle, main_layout, dislocated, path_dependent, misallocated
SEED = 1
RESULTS_DIR = None

# %%
HORIZON = {"small": 40, "full": None}[SETTING]  # None: the model's horizon (defaults.toml)
save = figure_saver(results_dir(RESULTS_DIR), "01_quickstart")
print(f"kctsim {kctsim.__version__}: technology types {kctsim.technology_names()}")
print(f"regime presets {kctsim.regime_names()}")

# %% [markdown]
# ## One run
#
# `run_model` builds a `KCTModel` (a Mesa model), steps it to the horizon (a tick is a
# quarter) and collects four tidy tables: per-tick `metrics`, the money `ledger`, the
# `spillover` matrix and a one-row `summary`. The same seed gives the same run.

# %%
results = run_model(TECHNOLOGY, REGIME, horizon=HORIZON, seed=SEED)
summary = results.summary.iloc[0]
summary[
    [
        "technology",
        "regime",
        "ticks_run",
        "broke_through",
        "breakthrough_tick",
        "p_breakthrough",
        "best_fitness",
        "spillover_share",
        "free_riding_share",
        "contribution_gap",
        "misallocation_index",
        "adoption_share",
        "total_exits",
        "total_entries",
    ]
].to_frame("value")

# %% [markdown]
# The manifest records everything the run depended on: versions, seed, the technology
# type, the parameters and the regime's levers (ODD section 2.5).

# %%
pd.Series(results.manifest["levers"], name=REGIME).to_frame()

# %%
metrics = results.metrics
metrics.head()

# %% [markdown]
# ## Breakthrough: hazard and probability over time
#
# The hazard h(t) is the model's own probability that the breakthrough happens in tick t,
# given the state; P(t) = 1 − Π(1 − h) over the ticks still at risk, and 1 from the
# realised breakthrough on (dotted line, if it happened).

# %%
fig, (ax_p, ax_h) = plt.subplots(1, 2, figsize=(10, 3.6))
ax_p.plot(metrics.tick, metrics.p_breakthrough, color="C0")
ax_p.set(xlabel="quarter", ylabel=names.metric("p_breakthrough"), ylim=(-0.02, 1.02))
ax_h.plot(metrics.tick, metrics.hazard, color="C3")
ax_h.set(xlabel="quarter", ylabel=names.metric("hazard"))
if summary.broke_through:
    for ax in (ax_p, ax_h):
        ax.axvline(summary.breakthrough_tick, color="grey", ls=":", label="breakthrough")
    ax_p.legend(loc="lower right")
fig.suptitle(f"{names.technology(TECHNOLOGY)} under {names.regime(REGIME)}, seed {SEED}")
fig.tight_layout()
save(fig, "breakthrough")

# %% [markdown]
# ## Technology: fitness and the gap to the target
#
# Best and mean fitness of the organisations' designs (the effective fitness of the last
# stage for a chain technology) and the mean gap to each stage's target.

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(metrics.tick, metrics.best_fitness, label=names.metric("best_fitness"))
ax.plot(metrics.tick, metrics.mean_fitness, label=names.metric("mean_fitness"))
ax.plot(metrics.tick, metrics.gap_to_target, label=names.metric("gap_to_target"), ls="--")
ax.set(xlabel="quarter", ylabel="fitness (global maximum = 1)")
ax.legend()
fig.tight_layout()
save(fig, "fitness")

# %% [markdown]
# ## Behaviour: contributions, free-riding and spillover
#
# Contributions r are learned from better-paid peers; free-riding is the share of agents
# whose r fell below half its start while still gaining from others' work. The spillover
# share is the part of all fitness gained that came from imitation rather than own
# innovation.

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
for column in ("mean_contribution", "free_riding_share", "contribution_gap", "spillover_share"):
    ax.plot(metrics.tick, metrics[column], label=names.metric(column))
ax.set(xlabel="quarter", ylabel="share (0 to 1)")
ax.legend(fontsize="small")
fig.tight_layout()
save(fig, "behaviour")

# %% [markdown]
# ## Money: the ledger
#
# Every transfer is one ledger row (tick, from type, to type, kind, amount); money is
# conserved. Totals by kind and by the pair of account types show where the money went.

# %%
ledger = results.ledger
by_kind = ledger.groupby("kind", observed=True)["amount"].sum().sort_values()
by_pair = (
    ledger.groupby(["from_type", "to_type"], observed=True)["amount"]
    .sum()
    .sort_values(ascending=False)
    .head(12)
)
fig, ax = plt.subplots(figsize=(7, 4))
by_kind.rename(index=lambda kind: names.name("ledger", kind)).plot.barh(ax=ax, color="C2")
ax.set(xlabel="total over the run (money units)", ylabel="")
fig.tight_layout()
save(fig, "ledger_by_kind")
by_pair.to_frame("amount")

# %% [markdown]
# ## Who learned from whom: the spillover matrix
#
# Fitness gained by receivers of each type (columns) from the work of each source type
# (rows; `foreign` is the foreign frontier design).

# %%
matrix = results.spillover.pivot(index="source_type", columns="receiver_type", values="gain")
matrix = matrix.fillna(0.0)
fig, ax = plt.subplots(figsize=(6.5, 4.5))
image = ax.imshow(matrix.to_numpy(), cmap="viridis")
agent_names = [names.name("agents", t) for t in matrix.columns]
ax.set_xticks(range(len(matrix.columns)), agent_names, rotation=45, ha="right")
ax.set_yticks(range(len(matrix.index)), [names.name("agents", t) for t in matrix.index])
ax.set(xlabel="who gained (receiver)", ylabel="whose design (source)")
fig.colorbar(image, ax=ax, label="fitness gained by imitation (sum over the run)")
fig.tight_layout()
save(fig, "spillover_matrix")

# %% [markdown]
# ## Population over time
#
# Organisations exit when their capital falls below zero (unless rescued) and start-ups
# enter; scientists and users are constant in number.

# %%
counts = metrics[["tick", "n_leader_firm", "n_sme", "n_state_org", "n_university"]]
fig, ax = plt.subplots(figsize=(7, 3.6))
counts = counts.rename(columns=lambda c: names.name("agents", c.removeprefix("n_")))
counts.set_index(counts.columns[0]).plot(ax=ax)
ax.set(xlabel="quarter", ylabel="organisations in business")
fig.tight_layout()
save(fig, "population")

# %% [markdown]
# ## Next
#
# * The same run from the shell: `kctsim run --tech key_generic --regime spiral --seed 1`.
# * Many runs from a scenario file: `kctsim sweep scenarios/default.toml`, read back with
#   `kctsim.load_results(DIR)`.
# * [03_mechanisms](03_mechanisms.py): the mechanisms behind the propositions;
#   [04_sensitivity](04_sensitivity.py): Sobol' indices;
#   [05_chokepoints](05_chokepoints.py): the 35 chokepoint technologies of 2018.
