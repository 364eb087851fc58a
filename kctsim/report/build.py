"""The propositions report: tables, figures, report.md and report.html.

Everything shown is computed from the stored sweeps by
:func:`kctsim.analysis.suite.analyse`; nothing here runs the model.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from kctsim import names
from kctsim.analysis import ablation as abl
from kctsim.analysis.propositions import CONTINGENCY, load_plan, load_propositions, primary
from kctsim.analysis.race import race_table
from kctsim.analysis.robustness import ROBUSTNESS_RULE
from kctsim.analysis.suite import EXTENSION, MANIFEST, SUITE, Analysis
from kctsim.config import load_technology
from kctsim.report import attribution, curves
from kctsim.report import document as doc
from kctsim.report import figures as fg

FIGURES = "figures"
TABLES = (
    "verdicts",
    "mechanisms",
    "fit_matrix",
    "race",
    "flows",
    "worlds",
    "drivers",
    "differences",
    "ablation",
)

VERDICT_WORDS = {
    "supported": "supported",
    "contradicted": "contradicted (the difference points the other way)",
    "equivalent": "practically equivalent (any difference is smaller than {delta:g} quarters)",
    "inconclusive": "inconclusive (the interval is too wide to tell)",
}


def _p(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.{digits}f}"


def _share(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.0%}"


def _name(regime: str) -> str:
    """The paper's name of a regime, with its Chinese term (kctsim.names)."""
    return names.regime(regime)


def _types(technology: str) -> str:
    """'key generic technologies (关键共性技术)': a technology type in a sentence."""
    title = names.entry("technologies", technology).title or names.technology(technology)
    return title[0].lower() + title[1:].replace("technology", "technologies", 1)


_YEARS = {1: "year", 2: "two years", 5: "five years", 10: "ten years", 20: "twenty years"}


def _span(tau: int) -> str:
    years = tau / 4
    if years in _YEARS:
        return f"the first {_YEARS[int(years)]} ({tau} quarters)"
    return f"the first {tau} quarters"


def sentence(row: pd.Series) -> str:
    """One verdict in plain words."""
    size = abs(row["effect"])  # quarters, two decimals: effects near delta = 1 need them
    ci = f"95% simultaneous CI {row['ci_low']:+.2f} to {row['ci_high']:+.2f}"
    verdict = VERDICT_WORDS[row["verdict"]].format(delta=row["delta"])
    if row["proposition"] == CONTINGENCY:
        more = "more" if row["effect"] >= 0 else "less"
        return (
            f"**{row['proposition']}** Within {_span(row['tau'])}, a mode's lead on its own "
            f"technology type is {size:.2f} quarters {more} than its lead on the other types, on "
            f"average, {ci}: **{verdict}**."
        )
    better, *worse = (
        row["comparison"].split(" vs ")[0],
        *row["comparison"].split(" vs ")[1].split(", "),
    )
    rivals = (
        f"under {_name(worse[0])}"  # a cause: the same technology under another regime
        if len(worse) == 1
        else "the faster of " + " and ".join(_name(w) for w in worse)
    )
    when = "sooner" if row["effect"] >= 0 else "later"
    return (
        f"**{row['proposition']}** {_name(better)} breaks through "
        f"{_types(row['technology'])} {size:.2f} quarters {when} on "
        f"average than {rivals} within {_span(row['tau'])}, {ci}: **{verdict}**."
    )


def verdict_table(a: Analysis) -> pd.DataFrame:
    """The table the report opens with: the primary estimand, one row per test."""
    v = primary(a.verdicts)
    return pd.DataFrame(
        {
            "Proposition": v["proposition"],
            "The paper's claim": v["claim"],
            "Comparison": v["technology"] + ": " + v["comparison"],
            "Effect (quarters)": v["effect"].map(_num),
            "95% simultaneous CI": [
                f"[{_num(lo)}, {_num(hi)}]"
                for lo, hi in zip(v["ci_low"], v["ci_high"], strict=True)
            ],
            "Delta": v["delta"].map(lambda x: f"±{x:g}"),
            "Half-width": v["half_width"].map(lambda x: f"{x:.2f}"),
            "p (adjusted)": v["p_adjusted"].map(_p),
            "Verdict": "**" + v["verdict"] + "**",
            "Robustness": [
                f"{_share(s)} of {int(n)}" if n else "not run"
                for s, n in zip(v["robustness_share"], v["robustness_worlds"], strict=True)
            ],
        }
    )


def secondary_table(a: Analysis) -> pd.DataFrame:
    """Every estimand (primary and secondary taus), with the log-rank p beside it."""
    v = a.verdicts
    return pd.DataFrame(
        {
            "Proposition": v["proposition"],
            "tau (quarters)": v["tau"],
            "Role": v["role"],
            "Effect": v["effect"].map(_num),
            "95% simultaneous CI": [
                f"[{_num(lo)}, {_num(hi)}]"
                for lo, hi in zip(v["ci_low"], v["ci_high"], strict=True)
            ],
            "Delta": v["delta"].map(lambda x: f"±{x:g}"),
            "p (adjusted)": v["p_adjusted"].map(_p),
            "p (log-rank, unadjusted)": v["p_logrank"].map(_p),
            "Verdict": v["verdict"],
            "Replicates": v["replicates"],
        }
    )


def design_text(a: Analysis) -> str:
    """The replicate design, its rule and whether the primary verdicts are decisive."""
    d = a.design
    v = primary(a.verdicts)
    wide = v[v["half_width"] > v["delta"] / 2]
    n = int(v["replicates"].min())
    text = f"**Replicates.** {n} per technology type and regime ({d['rule']})."
    if "pilot only" in d["rule"]:
        return text + " **Not decisive: a quick pilot; run the full job for verdicts.**"
    if d.get("capped"):
        text += (
            f" The pilot asked for {d['needed']} replicates; the cap of {d['max_replicates']} "
            "was reached."
        )
    if wide.empty:
        return text + " Every primary interval is at most delta wide: every verdict is decisive."
    keys = ", ".join(wide["proposition"])
    return text + (
        f" The primary intervals of {keys} are wider than delta, so they can be inconclusive"
        + (" (the cap was reached)." if d.get("capped") else ".")
    )


def how_to_read(a: Analysis) -> list[str]:
    """The "how to read this" box, with this report's family size and taus."""
    plan = load_plan()
    m = len(primary(a.verdicts))
    level = 1 - plan.alpha / m
    taus = sorted(set(a.verdicts["tau"]))
    return [
        f"**RMST.** The restricted mean time to breakthrough up to tau quarters is the average "
        "number of quarters, counted up to tau, that a technology waits for its breakthrough "
        "(a run that has not broken through by tau counts as tau). The effect is the RMST of the "
        "regime the paper calls worse minus that of the one it calls better: how many quarters "
        "sooner, on average, the better regime breaks through. It is also the area between the "
        f"two cumulative breakthrough curves up to tau. Here tau = {', '.join(map(str, taus))} "
        f"quarters; the primary one, {plan.primary} quarters, is the window the model is "
        "calibrated on.",
        *_HOW_TO_READ,
        f"**Adjustment.** {m} tests are read at each tau (the propositions and the contingency "
        f"test C), so each interval is a {level:.1%} interval (Bonferroni): the chance that any "
        f"verdict of one tau is wrong is at most {plan.alpha:.0%}. The adjusted p-values are "
        f"{m} times the unadjusted ones (capped at 1); an interval excludes 0 exactly when the "
        f"adjusted p is below {plan.alpha:g}.",
        _ROBUSTNESS_WORDS,
    ]


_HOW_TO_READ = [
    "**Interval.** Replicate i of every regime uses the same random numbers, so the regimes "
    "are compared replicate by replicate (a paired t interval). Where the paper sets a mode "
    "against two rivals (P4 to P6), the effect is its lead over the faster rival: it must "
    "beat both.",
    "**Delta.** The smallest effect of interest: 5% of tau (1 quarter at 20, 2 at 40, 4 at "
    "80). An interval inside (-delta, +delta) means the regimes are *practically equivalent*: "
    "whatever difference there is, it is smaller than delta.",
    "**Verdicts.** Supported: the interval lies above 0. Contradicted: below 0. Equivalent: "
    "inside (-delta, +delta). Inconclusive: anything else.",
    "**Verdict first, sign first.** An interval inside (0, delta) is supported: the effect "
    "is surely positive, and surely small.",
]
_ROBUSTNESS_WORDS = (
    "**Robustness.** The same comparison repeated in worlds whose uncertain, non-lever "
    "parameters are drawn from wide ranges, with few replicates each: the share of worlds "
    "that point the same way as the verdict. It says how far the verdict depends on the "
    "default parameters, not how sure it is."
)

LIMITS = [
    "**Bundles, not single causes.** Each cause regime differs from its mode in many levers "
    "at once, so a verdict on P1 to P3 is about the bundle the paper describes; the ablation "
    "says which group of levers carries it, not which lever within a group.",
    "**The regimes are this project's reading of the paper.** The lever values of the six "
    "presets are choices (ODD 2.5); every verdict is conditional on them.",
    "**One calibration target.** The cost scale is fitted to about 21 of 35 chokepoint "
    "technologies broken through in 20 quarters; the secondary estimands at 40 and 80 "
    "quarters extrapolate beyond it.",
    "**Stylised technology.** NK landscapes stand for technologies; ruggedness, turbulence, "
    "blockade, the foreign rival and the chain of stages are the only differences between "
    "the three types.",
]


def horizon_table(a: Analysis) -> pd.DataFrame:
    """Share broken through by the horizon, per technology type and regime (fit matrix)."""
    f = a.fit
    return f.pivot(index="technology", columns="regime", values="p_breakthrough").round(2)


def mechanism_view(a: Analysis) -> pd.DataFrame:
    m = a.mechanisms
    if m.empty:
        return m
    return pd.DataFrame(
        {
            "Proposition": m["proposition"],
            "Metric": m["metric"],
            "Comparison": m["comparison"],
            "Better": m["better_mean"].map(lambda x: f"{x:.3g}"),
            "Worse": m["worse_mean"].map(lambda x: f"{x:.3g}"),
            "Difference [95% CI]": [
                f"{d:+.3g} [{lo:+.3g}, {hi:+.3g}]"
                for d, lo, hi in zip(m["difference"], m["ci_low"], m["ci_high"], strict=True)
            ],
            "Predicted": m["predicted"],
            "Evidence": m["evidence"],
        }
    )


def fit_view(a: Analysis) -> pd.DataFrame:
    f = a.fit.copy()
    f["cell"] = [
        f"{p:.2f} / {r:.1f}" + (" ◆" if m else "")
        for p, r, m in zip(f["p_breakthrough"], f["rmst"], f["matched"], strict=True)
    ]
    table = f.pivot(index="technology", columns="regime", values="cell")
    return table.reset_index().rename(columns={"technology": "technology (P / RMST)"})


def drivers_view(a: Analysis, top: int = 3) -> pd.DataFrame:
    d = a.drivers[a.drivers["rank"] <= top].dropna(subset=["rho"])
    return pd.DataFrame(
        {
            "Proposition": d["proposition"],
            "Rank": d["rank"],
            "Parameter": d["factor"],
            "Spearman rho": d["rho"].map(lambda x: f"{x:+.2f}"),
            "p": d["p"].map(_p),
        }
    )


def flow_pairs(a: Analysis) -> list[tuple[str, str]]:
    """(technology, regime) pairs whose flows are drawn: each cause proposition's pair."""
    pairs = []
    for p in load_propositions():
        if len(p.worse) == 1:
            pairs += [(p.technology, p.better), (p.technology, p.worse[0])]
    present = set(zip(a.runs["technology"], a.runs["regime"], strict=True))
    return [pair for pair in dict.fromkeys(pairs) if pair in present]


def make_figures(a: Analysis, figure_dir: Path) -> list[doc.Figure]:
    """Draw every figure into ``figure_dir``; return them as report blocks (relative paths)."""
    horizon = int(a.settings["ticks"])
    pilot_runs = a.runs[a.runs["run_id"].isin(a.metrics["run_id"].unique())]
    means = fg.metric_means(a.metrics, pilot_runs, a.metrics["metric"].unique())
    made: list[doc.Figure] = []

    def save(fig, name: str, caption: str) -> None:
        fg.save_figure(fig, figure_dir / name)
        made.append(doc.Figure(Path(FIGURES) / f"{name}.png", caption))

    if not a.differences.empty:
        save(
            curves.plot_difference_curves(
                a.differences,
                sorted(set(a.verdicts["tau"])),
                {
                    r: names.name("regimes", r)
                    for r in set(a.differences.get("better", []))
                    | set(a.differences.get("worse", []))
                },  # fmt: skip
            ),
            "difference_curves",
            "P(better) minus P(worse): the difference in the share broken through by each "
            "quarter, per proposition and rival, with 95% simultaneous bands (the band covers "
            "the whole curve at once). The area under a curve up to tau is the effect at tau.",
        )
    if not a.ablation.empty:
        save(attribution.plot_ablation(a.ablation), "ablation", ABLATION_CAPTION)
    save(
        fg.plot_breakthrough_curves(a.runs, horizon),
        "breakthrough_curves",
        "Cumulative breakthrough probability per regime and technology type (Kaplan–Meier; "
        "95% pointwise log-log bands).",
    )
    save(
        fg.plot_fit_matrix(a.fit),
        "fit_matrix",
        "Breakthrough share by the horizon of each type under each mode; RMST in quarters.",
    )
    save(
        fg.plot_metrics_over_time(
            means,
            ["spillover_share", "free_riding_share", "contribution_gap"],
            "Spillover and free-riding over time (mean over runs)",
        ),
        "spillover_free_riding",
        "Share of new designs that spilled over, share of free-riding organisations and the "
        "contribution gap, over time.",
    )
    pairs = flow_pairs(a)
    if pairs and not a.ledger_flows.empty:
        save(
            fg.plot_flow_sankeys(a.ledger_flows, pairs),
            "flows_sankey",
            "Resource flows between agent types, money per run (the cause propositions' pairs).",
        )
        save(
            fg.plot_flow_heatmaps(a.ledger_flows, pairs),
            "flows_heatmap",
            "Resource flows as type x type matrices (money per run, log colour).",
        )
    techs = list(dict.fromkeys(a.runs["technology"]))
    for tech in techs:
        n_stages = len(load_technology(tech).stages)
        if n_stages > 1:
            save(
                fg.plot_stages(means, tech, n_stages),
                f"stages_{tech}",
                f"{tech}: stage funding shares, progress to each stage's gate, chain blockage "
                "and misallocation index over time.",
            )
    save(
        fg.plot_metrics_over_time(
            means, ["diversity", "lock_in"], "Design diversity and lock-in over time"
        ),
        "diversity_lock_in",
        "Design diversity (mean pairwise Hamming distance) and lock-in over time.",
    )
    if a.has_robustness:
        # figures.plot_robustness colours three verdicts; neither sign is its grey.
        shown = primary(a.verdicts).dropna(subset=["robustness_share"])
        shown = shown.assign(
            verdict=shown["verdict"].where(
                shown["verdict"].isin(["supported", "contradicted"]), "not supported"
            )
        )
        save(
            fg.plot_robustness(shown, a.drivers),
            "robustness",
            "Share of Latin-hypercube worlds in which each verdict holds, and the parameters "
            "most correlated with the effect.",
        )
    return made


def race_blocks(a: Analysis) -> list[doc.Block]:
    """Who came first where a foreign rival races the domestic system (P2, P5)."""
    race = race_table(a.runs, load_propositions())
    if race.empty:
        return []
    share = load_technology(race["technology"].iloc[0]).rival_market_share
    view = pd.DataFrame(
        {
            "Proposition": race["proposition"],
            "Regime": race["regime"].map(_name),
            "Runs": race["runs"],
            "Domestic first": race["domestic_first"].map(_share),
            "Rival first": race["rival_first"].map(_share),
            "Neither by the horizon": race["neither"].map(_share),
            "Lead (breakthroughs that came first)": race["lead"].map(_share),
        }
    )
    return [
        doc.Heading("The race (抢占先机)"),
        doc.Paragraph(
            "On a technology with a foreign rival, arriving first decides the first mover's "
            f"rent: a rival that reaches the target first takes {share:.0%} of the technology "
            "premium, and its design becomes a blockaded foreign frontier. Shares of runs by "
            "who came first; *lead* is the share of the domestic breakthroughs that came "
            "before the rival."
        ),
        doc.Table(view),
    ]


ABLATION_CAPTION = (
    "Which lever groups carry each verdict: per step from the worse regime to the mode, the "
    "quarters of its RMST difference each group of levers carries (Shapley value, with its 95% "
    "bootstrap interval); the group bars add up to the dark bar, the whole effect."
)


def _group(group: str) -> str:
    """'who leads and funds': a lever group in a sentence."""
    return f"'{group[:1].lower()}{group[1:]}'"


def _interval(low: float, high: float) -> str:
    return f"95% CI {low:+.2f} to {high:+.2f}"


def _step_clause(step: pd.DataFrame, what: str) -> str:
    """What carries one step (``what``: "P1" or "it"): the leading group, and any group
    that works against the step; or, when the effect cannot be told from 0, the groups
    whose interval excludes 0."""
    first = step.iloc[0]
    whole = _interval(first["effect_low"], first["effect_high"])
    if first["effect_low"] <= 0 <= first["effect_high"]:
        text = (
            f"the effect cannot be told from 0 at this precision ({first['effect']:+.2f} "
            f"quarters, {whole}), so no group carries {what}"
        )
        sure = step[(step["ci_low"] > 0) | (step["ci_high"] < 0)]
        if not sure.empty:
            text += "; the groups whose interval excludes 0: " + _groups(sure)
        return text
    lead = abl.leading_group(step)
    text = (
        f"the lever group {_group(lead['group'])} carries most of {what}: "
        f"{lead['shapley']:.2f} of {first['effect']:.2f} quarters "
        f"({_interval(lead['ci_low'], lead['ci_high'])}; the whole effect {whole})"
    )
    against = step[step["ci_high"] < 0] if first["effect"] >= 0 else step[step["ci_low"] > 0]
    if not against.empty:
        text += "; against it: " + _groups(against)
    return text


def _groups(rows: pd.DataFrame) -> str:
    return " and ".join(
        f"{_group(r.group)} ({r.shapley:+.2f}, {_interval(r.ci_low, r.ci_high)})"
        for r in rows.itertuples()
    )


def ablation_sentence(table: pd.DataFrame) -> str:
    """One proposition's attribution in plain words (its binding step first)."""
    key = table["proposition"].iloc[0]
    steps = [s for _, s in table.groupby("start", sort=False)]
    steps.sort(key=lambda s: not bool(s["binding"].iloc[0]))
    first = steps[0].iloc[0]
    where = f"on {_types(first['technology'])}"
    if len(steps) == 1:
        return (
            f"**{key}** From {_name(first['start'])} to {_name(first['mode'])} {where}, "
            f"{_step_clause(steps[0], key)}."
        )
    text = (
        f"**{key}** Against {_name(first['start'])}, the binding rival (the smaller lead of "
        f"{_name(first['mode'])} {where}), {_step_clause(steps[0], key)}."
    )
    for other in steps[1:]:
        text += f" Against {_name(other['start'].iloc[0])}, {_step_clause(other, 'it')}."
    return text


def ablation_view(table: pd.DataFrame) -> pd.DataFrame:
    """One row per step: its effect and each group's Shapley value [95% interval]."""
    rows = []
    for (key, start, mode), step in table.groupby(["proposition", "start", "mode"], sort=False):
        first = step.iloc[0]
        several = table.loc[table["proposition"] == key, "start"].nunique() > 1
        row = {
            "Proposition": key + (" (binding)" if several and first["binding"] else ""),
            "Step": f"{names.name('regimes', start)} → {names.name('regimes', mode)}",
            "Effect (quarters)": f"{first['effect']:+.2f} "
            f"[{first['effect_low']:+.2f}, {first['effect_high']:+.2f}]",
        }
        for r in step.itertuples():
            row[r.group] = f"{r.shapley:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
        rows.append(row)
    return pd.DataFrame(rows)


def ablation_precision(table: pd.DataFrame) -> str:
    """The precision the ablation reached, in words."""
    half = (table["ci_high"] - table["ci_low"]) / 2
    switched = half[half > 0]  # a group both regimes share is exactly 0
    effects = table.drop_duplicates(["proposition", "start"])
    effect_half = (effects["effect_high"] - effects["effect_low"]) / 2
    n = int(table["replicates"].min())
    text = (
        f"**Precision.** With {n} replicates per coalition, a group's 95% interval reaches "
        f"{switched.min():.2f} to {switched.max():.2f} quarters either side of its value "
        if len(switched)
        else f"**Precision.** With {n} replicates per coalition, every group's value is exact "
    )
    return text + (
        f"and a step's effect {effect_half.min():.2f} to {effect_half.max():.2f}. The effect "
        "here is measured on the ablation's replicates alone (the suite's first ones, with "
        "the same seeds, cut at tau), so it is less precise than the verdict table's and can "
        "differ from it by about that much; the Shapley values say how the effect measured "
        "here divides among the groups."
    )


def ablation_blocks(a: Analysis, figures: dict[str, doc.Figure] | None = None) -> list[doc.Block]:
    """Which lever groups carry each verdict: the method in words, one sentence per
    proposition, the table and the figure (``analysis/ablation.py``)."""
    out: list[doc.Block] = [doc.Heading("Which levers carry each verdict")]
    t = a.ablation
    if t.empty:
        return [
            *out,
            doc.Paragraph(
                "Not run (--ablation-replicates 0, or results made before the ablation existed)."
            ),
        ]
    groups = "; ".join(g[:1].lower() + g[1:] for g in dict.fromkeys(t["group"]))
    n, tau = int(t["replicates"].min()), int(t["tau"].iloc[0])
    out.append(
        doc.Paragraph(
            "A verdict compares regimes that differ in many levers at once. The ablation "
            f"switches them group by group ({groups}): every combination of the groups, taken "
            "from the mode while the rest stay as in the worse regime, runs as a regime of its "
            f"own, {n} replicates each with the same seeds, up to tau = {tau} quarters. A "
            "group's Shapley value is the part of the RMST difference it carries: the quarters "
            "switching it gains, averaged over every order in which the groups could be "
            "switched. The values add up to the effect exactly; a negative one works against "
            "the mode. Intervals: 95% percentile bootstrap over replicates, one group at a time "
            "(not adjusted)."
        )
    )
    out.append(doc.Paragraph(ablation_precision(t)))
    if a.settings.get("quick"):
        out.append(doc.Paragraph(f"**Not decisive: {n} replicates per coalition (--quick).**"))
    out += [doc.Paragraph(ablation_sentence(p)) for _, p in t.groupby("proposition", sort=False)]
    out.append(doc.Table(ablation_view(t)))
    if figures and "ablation" in figures:
        out.append(figures["ablation"])
    return out


def blocks(a: Analysis, figures: list[doc.Figure]) -> list[doc.Block]:
    s = a.settings
    by_name = {f.path.stem: f for f in figures}
    v = primary(a.verdicts)
    quick = "pilot only" in a.design["rule"]
    sweeps = f"`{a.out_dir / SUITE}`" + (
        f" and `{a.out_dir / EXTENSION}`" if EXTENSION in a.manifest["sweeps"] else ""
    )
    out: list[doc.Block] = [
        doc.Heading("kctsim: the paper's six propositions, measured", 1),
    ]
    if quick:
        out.append(
            doc.Box(
                "Not decisive",
                [
                    "This is `--quick`: a pilot alone, for a first look and for testing the "
                    "pipeline. Its intervals are too wide for verdicts; run `kctsim "
                    "propositions` (`make run`) for the decisive ones."
                ],
            )
        )
    out += [
        doc.Heading("Verdicts"),
        *[doc.Paragraph(sentence(row)) for _, row in v.iterrows()],
        doc.Table(verdict_table(a)),
        doc.Paragraph(design_text(a)),
        doc.Box("How to read this", how_to_read(a)),
        doc.Paragraph(f"**Rule.** {v['rule'].iloc[0]}"),
    ]
    if "difference_curves" in by_name:
        out += [doc.Heading("The difference curves"), by_name["difference_curves"]]
    out += [
        doc.Heading("Every estimand"),
        doc.Paragraph(
            "The primary estimand and the secondary ones (later taus), each family adjusted "
            "on its own. The log-rank p compares the whole curves up to tau without pairing; "
            "it is shown for reference and decides nothing."
        ),
        doc.Table(secondary_table(a)),
        *race_blocks(a),
        *ablation_blocks(a, by_name),
        doc.Heading("Mechanism evidence"),
        doc.Paragraph(
            "Run summaries (worse minus better regime, paired bootstrap 95% interval); "
            "'agrees' when the interval lies on the predicted side of 0, 'against' when on "
            "the other, 'unclear' otherwise."
        ),
        doc.Table(mechanism_view(a)),
        doc.Heading("Fit matrix (P4 to P6)"),
        doc.Paragraph("Cells: breakthrough share by the horizon / RMST in quarters; ◆ matched."),
        doc.Table(fit_view(a)),
    ]
    for name in ("fit_matrix", "breakthrough_curves", "spillover_free_riding"):
        out.append(by_name[name])
    if "flows_sankey" in by_name:
        out += [doc.Heading("Resource flows"), by_name["flows_sankey"], by_name["flows_heatmap"]]
    stage_figures = [f for n, f in by_name.items() if n.startswith("stages_")]
    if stage_figures:
        out += [doc.Heading("The chain: stage funding, progress and blockage"), *stage_figures]
    out += [doc.Heading("Diversity and lock-in"), by_name["diversity_lock_in"]]
    out.append(doc.Heading("Robustness"))
    if a.has_robustness:
        out += [
            doc.Paragraph(ROBUSTNESS_RULE),
            by_name["robustness"],
            doc.Table(drivers_view(a)),
        ]
    else:
        out.append(doc.Paragraph("Not run (--quick or --robustness-samples 0)."))
    out += [
        doc.Heading("Limits"),
        *[doc.Paragraph(text) for text in LIMITS],
        doc.Heading("Reproduce"),
        doc.Paragraph(
            f"Results directory `{a.out_dir}` (manifest `{a.out_dir / MANIFEST}`, which records "
            f"the settings and the replicate rule; sweeps {sweeps}, scenario hash "
            f"`{a.suite_manifest['scenario']['hash']}`). Horizon {s['ticks']} quarters, root "
            f"seed {s['seed']}; replicate i of every regime shares its seed. Cost scale "
            f"{s['cost_scale']:.4g} ({s['cost_scale_source']}). kctsim "
            f"{a.manifest['versions'].get('kctsim')}, mesa {a.manifest['versions'].get('mesa')}. "
            f"`kctsim report {a.out_dir}` rebuilds this report from the stored runs; the tables "
            "are in the same directory as CSV (verdicts, mechanisms, fit_matrix, flows, worlds, "
            "drivers, differences, ablation). The means over time and the flows are drawn from "
            "the first sweep's runs."
        ),
    ]
    return out


def write_report(a: Analysis) -> list[Path]:
    """Write the tables, figures, report.md and report.html into the analysis's directory.

    Everything is made in a scratch directory first and moved into place file by
    file, so a failure leaves the previous report intact.
    """
    out = a.out_dir
    with tempfile.TemporaryDirectory(dir=out, prefix=".report-") as tmp:
        staging = Path(tmp)
        figures = make_figures(a, staging / FIGURES)
        frames = {
            "verdicts": a.verdicts,
            "mechanisms": a.mechanisms,
            "fit_matrix": a.fit,
            "race": race_table(a.runs, load_propositions()),
            "flows": a.ledger_flows,
            "worlds": a.worlds,
            "drivers": a.drivers,
            "differences": a.differences,
            "ablation": a.ablation,
        }
        for name, frame in frames.items():
            frame.to_csv(staging / f"{name}.csv", index=False)
        content = blocks(a, figures)
        (staging / "report.md").write_text(doc.to_markdown(content), "utf-8")
        title = "kctsim propositions report"
        (staging / "report.html").write_text(doc.to_html(content, title, staging), "utf-8")
        written = []
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                target = out / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                written.append(target)
        stale = out / FIGURES
        for old in stale.glob("*") if stale.is_dir() else []:
            if old not in written:
                old.unlink()  # a figure this report no longer draws
    return written
