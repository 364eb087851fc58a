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
# # 02 Propositions: the verdict table and every figure of the report
#
# `kctsim propositions` (the README's main command, `make run`) runs every technology
# type under every regime preset, tests the paper's six propositions and writes
# `results/propositions/report.md`. This notebook loads those stored results and
# rebuilds the report's verdict table and figures with the same functions the report
# uses (`kctsim.analysis.suite.analyse` and `kctsim.report.figures`), so that you can
# change a figure or look behind a number.
#
# How each proposition is tested, and the rule that gives its verdict, is in
# [docs/propositions.md](../docs/propositions.md).

# %%
import shutil
from pathlib import Path

import pandas as pd
from nbtools import figure_saver, results_dir

from kctsim.analysis.propositions import load_propositions, primary
from kctsim.analysis.settings import Settings
from kctsim.analysis.suite import analyse, run_suite
from kctsim.config import load_technology
from kctsim.report import figures as fg
from kctsim.report.attribution import plot_ablation
from kctsim.report.build import ablation_view, flow_pairs, horizon_table, verdict_table

# %% tags=["parameters"]
# Parameters. SETTING "full" reads the stored results of `kctsim propositions`
# (PROPOSITIONS_DIR, default <results>/propositions; run `make run` first). "small" runs
# a tiny suite of its own first (what the test suite does): its numbers mean nothing.
SETTING = "small"
PROPOSITIONS_DIR = None
RESULTS_DIR = None
WORKERS = 1

# %%
results = results_dir(RESULTS_DIR)
save = figure_saver(results, "02_propositions")
if SETTING == "small":
    # 3 replicates, 10 quarters, 2 robustness worlds, an ablation of 2 replicates per
    # coalition: enough to draw every figure.
    source = results / "notebooks" / "02_propositions_small"
    tiny = Settings(
        replicates=3,
        ticks=10,
        robustness_samples=2,
        robustness_replicates=2,
        ablation_replicates=2,
    )
    # A throwaway suite of a few seconds, made afresh: a changed default (the shipped
    # calibration) must not clash with the settings of one made earlier.
    shutil.rmtree(source, ignore_errors=True)
    run_suite(
        source,
        tiny,
        executor="sequential" if WORKERS == 1 else "processes",
        workers=WORKERS,
        progress=False,
    )
else:
    source = Path(PROPOSITIONS_DIR) if PROPOSITIONS_DIR else results / "propositions"
analysis = analyse(source)
settings = analysis.settings
print(f"results: {source}")
print(
    f"{analysis.design['replicates']} replicates x 3 types x 6 regimes "
    f"({analysis.design['rule']}), {settings['ticks']} quarters, "
    f"cost scale {settings['cost_scale']:.4g} ({settings['cost_scale_source']})"
)

# %% [markdown]
# ## The verdict table
#
# One row per proposition (and the contingency test C) at the primary estimand: the
# paper's claim, the comparison, the effect (restricted mean time to breakthrough within
# 20 quarters of the worse regime minus the better one, in quarters), its paired,
# family-adjusted interval, the smallest effect of interest, the adjusted p-value, the
# verdict and the share of robustness worlds in which it holds.

# %%
pd.set_option("display.max_colwidth", 80)
print(primary(analysis.verdicts)["rule"].iloc[0])
verdict_table(analysis)

# %% [markdown]
# The paper's statements, verbatim:

# %%
pd.DataFrame([(p.key, p.statement) for p in load_propositions()], columns=["", "statement"])

# %% [markdown]
# ## Breakthrough by the horizon (share of runs, per type and regime), and the mechanisms

# %%
horizon_table(analysis)

# %%
analysis.mechanisms.round(3)

# %% [markdown]
# ## Figures
#
# Each call is the one the report makes; `save` writes PNG and SVG under
# `results/figures/02_propositions/`.

# %%
fig = fg.plot_breakthrough_curves(analysis.runs, int(settings["ticks"]))
save(fig, "breakthrough_curves")

# %%
fig = fg.plot_fit_matrix(analysis.fit)
save(fig, "fit_matrix")

# %%
means = fg.metric_means(analysis.metrics, analysis.runs, analysis.metrics["metric"].unique())
fig = fg.plot_metrics_over_time(
    means,
    ["spillover_share", "free_riding_share", "contribution_gap"],
    "Spillover and free-riding over time (mean over runs)",
)
save(fig, "spillover_free_riding")

# %%
pairs = flow_pairs(analysis)
fig = fg.plot_flow_sankeys(analysis.ledger_flows, pairs)
save(fig, "flows_sankey")

# %%
fig = fg.plot_flow_heatmaps(analysis.ledger_flows, pairs)
save(fig, "flows_heatmap")

# %%
for tech in dict.fromkeys(analysis.runs["technology"]):
    n_stages = len(load_technology(tech).stages)
    if n_stages > 1:
        save(fg.plot_stages(means, tech, n_stages), f"stages_{tech}")

# %%
fig = fg.plot_metrics_over_time(
    means, ["diversity", "lock_in"], "Design diversity and lock-in over time"
)
save(fig, "diversity_lock_in")

# %%
if analysis.has_robustness:
    shown = primary(analysis.verdicts).dropna(subset=["robustness_share"])
    shown = shown.assign(  # the figure colours three verdicts; neither sign is grey
        verdict=shown["verdict"].where(
            shown["verdict"].isin(["supported", "contradicted"]), "not supported"
        )
    )
    save(fg.plot_robustness(shown, analysis.drivers), "robustness")
# The three parameters most correlated with each proposition's effect across worlds.
analysis.drivers[analysis.drivers["rank"] <= 3] if analysis.has_robustness else None

# %% [markdown]
# ## Which lever groups carry each verdict
#
# The ablation (docs/propositions.md, "Which levers carry each verdict"): per step from
# the worse regime to the mode, the quarters of the RMST difference each of the five
# groups of levers carries (Shapley values over every coalition of groups, with 95%
# bootstrap intervals; they add up to the step's effect).

# %%
if not analysis.ablation.empty:
    save(plot_ablation(analysis.ablation), "ablation")
ablation_view(analysis.ablation) if not analysis.ablation.empty else None

# %% [markdown]
# ## Behind a number
#
# Every table is a DataFrame. For example, the fit matrix as breakthrough shares by
# the horizon (rows: technology types; columns: breakthrough modes):

# %%
analysis.fit.pivot(index="technology", columns="regime", values="p_breakthrough").round(2)
