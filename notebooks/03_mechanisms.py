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
# # 03 Mechanisms: what the propositions rest on
#
# The paper's causes (subject dislocation, path dependence, resource misallocation) and
# modes (Spiral, Jungle, Main Layout) work through mechanisms that kctsim does not
# prescribe: they emerge from agents' decisions under the levers (ODD sections 4
# and 6; [docs/ODD.md](../docs/ODD.md), section 4 "Design concepts"). This notebook
# varies one lever or one feature of the technology at a time, keeps everything else
# equal (replicate i shares its seed across settings: common random numbers), and shows
# what comes out:
#
# 1. **free-riding** emerging as leakage rises;
# 2. **path dependence and lock-in** on landscapes of growing ruggedness K;
# 3. **misallocation and chain blockage** of a major strategic chain;
# 4. what **users' participation** changes under the Spiral mode.
#
# Each experiment is a scenario file (shown as text), run through the experiment layer
# (`parse_scenario` → `run_sweep` → `load_results`), like `kctsim sweep`.
#
# Breakthrough is measured over replicates as the ODD's outputs section says: the share of
# replicates broken through by the horizon (`broke_through`), and where shown the
# compensator `expected_breakthroughs` (Σ h(t) over the ticks at risk, the same
# probability in expectation, with less noise). Tables give means over replicates; the
# plots add ± 1 standard error.

# %%
import textwrap

import matplotlib.pyplot as plt
import pandas as pd
from nbtools import figure_saver, results_dir, sweep

from kctsim import names
from kctsim.experiment.scenario import parse_scenario
from kctsim.experiment.store import metrics_wide
from kctsim.fonts import register_matplotlib

register_matplotlib()  # the paper's Chinese terms in figure labels, on any machine

# %% tags=["parameters"]
# Parameters. SETTING picks the size: "small" is a smoke run (and what the test suite
# runs; its numbers are too few to read), "full" gives estimates worth reading (840
# runs, about 80 s on 2 workers, measured 2026-11-27). RESULTS_DIR None means
# <repo>/results.
SETTING = "small"
RESULTS_DIR = None
WORKERS = 1  # 1 runs in this process; 2 or more use a local process pool
RESUME = False  # True: continue a sweep left unfinished in the same directory

# %%
SIZES = {
    "small": {"horizon": 20, "replicates": 2, "levels": 3, "ks": [2, 9]},
    "full": {"horizon": 80, "replicates": 30, "levels": 6, "ks": [1, 3, 5, 7, 9, 11, 13]},
}[SETTING]
H, R = SIZES["horizon"], SIZES["replicates"]
RESULTS = results_dir(RESULTS_DIR)
save = figure_saver(RESULTS, "03_mechanisms")
SWEEPS = RESULTS / "notebooks" / "03_mechanisms" / SETTING


def run(text: str) -> dict[str, pd.DataFrame]:
    """Validate a scenario text, run it into its own sweep directory, load its tables."""
    scenario = parse_scenario(text, "03_mechanisms")
    print(f"{scenario.name}: {scenario.n_runs} runs")
    return sweep(scenario, SWEEPS / scenario.name, WORKERS, RESUME, progress=SETTING == "full")


def mean_sem(frame: pd.DataFrame, by: str | list[str], columns: list[str]) -> pd.DataFrame:
    """Mean and standard error of ``columns`` over replicates, by ``by``."""
    grouped = frame.groupby(by)[columns]
    return grouped.mean().join(grouped.sem().fillna(0.0).add_suffix("_sem"))


def per_tick(tables: dict[str, pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Per-tick metrics (wide) joined with each run's regime, technology and factors."""
    wide = metrics_wide(tables["metrics"])
    runs = tables["runs"]
    labels = ["run_id", "technology", "regime", *[c for c in runs if c.startswith("factor.")]]
    return wide[["run_id", "tick", *columns]].merge(runs[labels], on="run_id")


def with_last(tables: dict[str, pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The runs table plus the last tick's value of per-tick metrics not in the summary."""
    wide = metrics_wide(tables["metrics"])
    last = wide.sort_values("tick").groupby("run_id")[columns].last()
    return tables["runs"].merge(last, left_on="run_id", right_index=True)


# %% [markdown]
# ## 1 Free-riding emerges as leakage rises
#
# A new design leaks to non-partners with probability spillover × (1 − IP protection).
# Contributions r are learned from better-paid peers (ODD section 7.4): where results
# leak, agents that contribute little and imitate keep up for less, r drifts down, and
# the capital-weighted contribution falls below its start (the *contribution gap*).
# Measured as in the mechanism tests: subject dislocation on the cutting-edge type, where
# no foreign frontier exists, so what leaks is domestic work; the base spillover is 1, so
# the leak probability is 1 − IP protection.

# %%
free_riding = run(f"""
name = "free_riding"
technologies = ["cutting_edge"]
regimes = ["dislocated"]
horizon = {H}
replicates = {R}
seed = 2024

[parameters]
spillover = 1.0

[design]
method = "grid"
factors.ip_protection = {{ start = 0.0, stop = 1.0, num = {SIZES["levels"]} }}
""")
runs = with_last(free_riding, ["mean_contribution"])
runs["leak"] = 1.0 - runs["factor.ip_protection"]
outcomes = ["mean_contribution", "contribution_gap", "free_riding_share", "spillover_share"]
table = mean_sem(runs, "leak", outcomes)
table[outcomes]

# %%
fig, axes = plt.subplots(1, len(outcomes), figsize=(14, 3.4))
for ax, column in zip(axes, outcomes, strict=True):
    ax.errorbar(table.index, table[column], yerr=table[f"{column}_sem"], marker="o", capsize=3)
    ax.set(
        xlabel="leak probability (1 − IP protection)", title=textwrap.fill(names.metric(column), 30)
    )
fig.suptitle(
    f"{names.technology('cutting_edge')} under {names.regime('dislocated')}, "
    f"horizon {H} quarters, {R} replicates per point (± 1 SE)"
)
fig.tight_layout()
save(fig, "free_riding_vs_leak")

# %% [markdown]
# The free-riding share over time, for the tightest and the leakiest setting: does it
# grow as contributions are learned?

# %%
ticks = per_tick(free_riding, ["free_riding_share", "mean_contribution"])
ticks["leak"] = 1.0 - ticks["factor.ip_protection"]
extremes = ticks[ticks.leak.isin([ticks.leak.min(), ticks.leak.max()])]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for ax, column in zip(axes, ["free_riding_share", "mean_contribution"], strict=True):
    for leak, group in extremes.groupby("leak"):
        mean = group.groupby("tick")[column].mean()
        ax.plot(mean.index, mean.to_numpy(), label=f"{leak:.1f}")
    ax.set(xlabel="quarter", title=names.metric(column))
axes[0].legend(title="leak probability")
fig.tight_layout()
save(fig, "free_riding_over_time")

# %% [markdown]
# ## 2 Path dependence and lock-in on rugged landscapes
#
# On an NK landscape the number of local optima grows with K. Path dependence (the
# paper's cause for missing cutting-edge technologies) is high imitation bias, local
# search only and low tolerance of failure: designs converge (low diversity) and agents
# sit on local optima below the target (*lock-in*). The Jungle mode keeps long jumps,
# tolerance of failure and open teams. Here both regimes run on variants of the
# cutting-edge type that differ only in K (`[technologies_custom]` in a scenario file).


# %%
def rugged(k: int) -> str:
    return f"""
[technologies_custom.cutting_edge_k{k}]
base = "cutting_edge"
[[technologies_custom.cutting_edge_k{k}.stages]]
name = "technology"
n_bits = 14
k = {k}
target_quantile = 0.999
frontier = false
"""


ks = SIZES["ks"]
variants = ", ".join(f'"cutting_edge_k{k}"' for k in ks)
lock_in = run(
    f"""
name = "path_dependence"
technologies = [{variants}]
regimes = ["jungle", "path_dependent"]
horizon = {H}
replicates = {R}
seed = 2024
"""
    + "".join(rugged(k) for k in ks)
)
ticks = per_tick(lock_in, ["lock_in", "diversity"])
by_run = ticks.groupby(["run_id", "technology", "regime"], as_index=False).agg(
    lock_in=("lock_in", "mean"),  # share locked in, averaged over the run
)
runs = lock_in["runs"].drop(columns="lock_in").merge(by_run, on=["run_id", "technology", "regime"])
runs["K"] = runs.technology.str.extract(r"_k(\d+)$", expand=False).astype(int)
runs["broke_through"] = runs.broke_through.astype(float)
outcomes = ["lock_in", "diversity", "imitation_share", "broke_through"]
table = mean_sem(runs, ["regime", "K"], outcomes)
table[outcomes].unstack("regime").round(3)

# %%
fig, axes = plt.subplots(1, len(outcomes), figsize=(14, 3.4))
for ax, column in zip(axes, outcomes, strict=True):
    for regime, group in table.groupby(level="regime"):
        k_values = group.index.get_level_values("K")
        ax.errorbar(
            k_values,
            group[column],
            yerr=group[f"{column}_sem"],
            marker="o",
            capsize=3,
            label=names.regime(regime),
        )
    ax.set(
        xlabel="K (ruggedness: interactions per bit)", title=textwrap.fill(names.metric(column), 30)
    )
axes[0].legend()
fig.suptitle(
    f"Cutting-edge variants, N = 14, horizon {H} quarters, {R} replicates (± 1 SE); "
    "lock-in averaged over the run, the others at the horizon"
)
fig.tight_layout()
save(fig, "lock_in_vs_ruggedness")

# %% [markdown]
# ## 3 Misallocation and chain blockage
#
# A major strategic technology is a chain: basic research → technology generation →
# application, each stage its own landscape and gate; work on a stage counts only up to
# what the stage before has reached. The *misallocation index* is the distance between
# the government's funding split over stages and what the stages need; a tick is
# *blocked* when a ready stage is starved. Main Layout follows the bottleneck and keeps
# funding; the misallocated regime fixes a front-loaded split in advance.

# %%
chain = run(f"""
name = "chain"
technologies = ["major_strategic"]
regimes = ["main_layout", "misallocated"]
horizon = {H}
replicates = {R}
seed = 2024
""")
runs = chain["runs"]
stage_columns = sorted(c for c in runs if c.startswith("stage_progress_"))
runs["broke_through"] = runs.broke_through.astype(float)
outcomes = ["misallocation_index", "chain_blockage", *stage_columns, "broke_through"]
mean_sem(runs, "regime", outcomes)[outcomes].T.round(3)

# %%
n_stages = len(stage_columns)
split = [f"stage_funding_{s}" for s in range(1, n_stages + 1)]
need = [f"stage_need_{s}" for s in range(1, n_stages + 1)]
ticks = per_tick(chain, ["misallocation_index", "chain_blockage", *split, *need])
ticks = ticks[ticks.tick > 0]  # tick 0 is the initial state, before any money
regimes = list(runs.regime.unique())
fig, axes = plt.subplots(2, len(regimes), figsize=(11, 6.5), sharex=True, squeeze=False)
for col, regime in enumerate(regimes):
    mean = ticks[ticks.regime == regime].groupby("tick").mean(numeric_only=True)
    for s in range(n_stages):
        line = axes[0, col].plot(mean.index, mean[split[s]], label=f"stage {s + 1} funding share")
        axes[0, col].plot(mean.index, mean[need[s]], ls="--", color=line[0].get_color())
    axes[0, col].set(
        title=f"{names.regime(regime)}\nfunding share (solid) vs need (dashed)",
        ylabel="share of government money",
    )
    axes[1, col].plot(mean.index, mean.misallocation_index, label="misallocation index")
    blockage = axes[1, col].twinx()
    blockage.plot(mean.index, mean.chain_blockage, color="C3", label="quarters blocked so far")
    blockage.set_ylabel("quarters blocked so far", color="C3")
    axes[1, col].set(
        xlabel="quarter", ylabel=textwrap.fill(names.metric("misallocation_index"), 30)
    )
axes[0, 0].legend(fontsize="small")
fig.suptitle(f"{names.technology('major_strategic')}, mean over {R} replicates")
fig.tight_layout()
save(fig, "chain_funding_and_blockage")

# %% [markdown]
# ## 4 What users' participation changes
#
# Under Spiral, users co-innovate: a participating user gives its partner feedback that
# lets it evaluate several candidate moves and take the best (directed rather than blind
# search), and adopting users pay revenue to their supplier (Bass diffusion). Here the
# share of participating users varies on a key generic technology under Spiral, with
# everything else equal; `scenarios/ablation_spiral_users.toml` is the full-size version
# of this question.

# %%
users = run(f"""
name = "users"
technologies = ["key_generic"]
regimes = ["spiral"]
horizon = {H}
replicates = {R}
seed = 2024

[design]
method = "grid"
factors.user_participation = {{ start = 0.0, stop = 1.0, num = {SIZES["levels"]} }}
""")
runs = users["runs"]
runs["participation"] = runs["factor.user_participation"]
runs["breakthrough_tick_or_horizon"] = runs.breakthrough_tick.fillna(H)
outcomes = [
    "broke_through",
    "expected_breakthroughs",
    "breakthrough_tick_or_horizon",
    "adoption_share",
    "flow_user_revenue",
    "spillover_share",
]
runs["broke_through"] = runs.broke_through.astype(float)
table = mean_sem(runs, "participation", outcomes)
table[outcomes].round(3)

# %%
ticks = per_tick(users, ["breakthrough", "adoption_share"])
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for level, group in ticks.groupby("factor.user_participation"):
    mean = group.groupby("tick").mean(numeric_only=True)
    axes[0].plot(mean.index, mean.breakthrough, label=f"{level:.1f}")
    axes[1].plot(mean.index, mean.adoption_share, label=f"{level:.1f}")
axes[0].set(xlabel="quarter", title="share of runs broken through", ylim=(-0.02, 1.02))
axes[1].set(xlabel="quarter", title="adoption (share of users), mean")
axes[0].legend(title="user participation", fontsize="small")
axes[2].errorbar(
    table.index,
    table.flow_user_revenue,
    yerr=table.flow_user_revenue_sem,
    marker="o",
    capsize=3,
)
axes[2].set(xlabel="user participation", title="sales to users over the run (money units)")
fig.suptitle(
    f"{names.technology('key_generic')} under {names.regime('spiral')}, "
    f"horizon {H} quarters, {R} replicates per level"
)
fig.tight_layout()
save(fig, "user_participation")

# %% [markdown]
# ## Reading the results
#
# The tables above are the numbers; on the small setting they rest on a handful of runs
# and say nothing yet. A difference is worth reading on the full setting when it is
# larger than a few standard errors. The paired statistical tests of the same three
# mechanisms are in `tests/test_mechanisms.py`; the propositions' verdicts, with effect
# sizes and confidence intervals, come from `kctsim propositions`.

# %%
for folder in sorted(SWEEPS.iterdir()):
    print(f"{folder}: read it back with kctsim.load_results(...)")
