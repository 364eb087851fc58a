"""The propositions report: tables, figures, report.md and report.html.

Everything shown is computed from the stored sweeps by
:func:`kctsim.analysis.suite.analyse`; nothing here runs the model.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from kctsim.analysis.propositions import VERDICT_RULE, load_propositions
from kctsim.analysis.robustness import ROBUSTNESS_RULE
from kctsim.analysis.suite import MANIFEST, SUITE, Analysis
from kctsim.config import load_technology
from kctsim.report import document as doc
from kctsim.report import figures as fg

FIGURES = "figures"
TABLES = ("verdicts", "mechanisms", "fit_matrix", "flows", "worlds", "drivers")


def _p(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.{digits}f}"


def _share(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.0%}"


def verdict_table(a: Analysis) -> pd.DataFrame:
    """The table the report opens with (one row per proposition)."""
    v = a.verdicts
    return pd.DataFrame(
        {
            "Proposition": v["proposition"],
            "The paper's claim": v["claim"],
            "Comparison": v["technology"] + ": " + v["comparison"],
            "Effect (quarters)": v["effect"].map(_num),
            "95% CI": [
                f"[{_num(lo)}, {_num(hi)}]"
                for lo, hi in zip(v["ci_low"], v["ci_high"], strict=True)
            ],
            "p (log-rank, Holm)": v["p_holm"].map(_p),
            "Verdict": "**" + v["verdict"] + "**",
            "Robustness": [
                f"{_share(s)} of {int(n)}" if n else "not run"
                for s, n in zip(v["robustness_share"], v["robustness_worlds"], strict=True)
            ],
        }
    )


def horizon_table(a: Analysis) -> pd.DataFrame:
    v = a.verdicts
    return pd.DataFrame(
        {
            "Proposition": v["proposition"],
            "P(better)": v["p_better"].map(lambda x: f"{x:.2f}"),
            "P(worse), best of": v["p_worse"].map(lambda x: f"{x:.2f}"),
            "Lead": v["lead"].map(_num),
            "95% CI": [
                f"[{_num(lo)}, {_num(hi)}]"
                for lo, hi in zip(v["lead_low"], v["lead_high"], strict=True)
            ],
            "p (two-proportion)": v["p_two_prop"].map(_p),
            "p (Holm)": v["p_two_prop_holm"].map(_p),
            "pairs": v["n_pairs"],
        }
    )


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
    means = fg.metric_means(a.metrics, a.runs, a.metrics["metric"].unique())
    made: list[doc.Figure] = []

    def save(fig, name: str, caption: str) -> None:
        fg.save_figure(fig, figure_dir / name)
        made.append(doc.Figure(Path(FIGURES) / f"{name}.png", caption))

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
        save(
            fg.plot_robustness(a.verdicts, a.drivers),
            "robustness",
            "Share of Latin-hypercube worlds in which each verdict holds, and the parameters "
            "most correlated with the effect.",
        )
    return made


def blocks(a: Analysis, figures: list[doc.Figure]) -> list[doc.Block]:
    s = a.settings
    by_name = {f.path.stem: f for f in figures}
    out: list[doc.Block] = [
        doc.Heading("kctsim: the paper's six propositions, measured", 1),
        doc.Paragraph(
            f"Results directory `{a.out_dir}` (manifest `{a.out_dir / MANIFEST}`; suite sweep "
            f"`{a.out_dir / SUITE}`, scenario hash `{a.suite_manifest['scenario']['hash']}`). "
            f"{s['replicates']} replicates per technology type and regime, horizon "
            f"{s['ticks']} quarters, root seed {s['seed']}; replicate i of every regime shares "
            f"its seed. Cost scale {s['cost_scale']:.4g} ({s['cost_scale_source']}). "
            f"kctsim {a.manifest['versions'].get('kctsim')}, mesa "
            f"{a.manifest['versions'].get('mesa')}."
        ),
        doc.Heading("Verdicts"),
        doc.Table(verdict_table(a)),
        doc.Paragraph(f"**Rule.** {VERDICT_RULE}"),
        doc.Paragraph(
            f"**Robustness.** {ROBUSTNESS_RULE}"
            if a.has_robustness
            else "**Robustness.** Not run (--quick or --robustness-samples 0)."
        ),
        doc.Heading("Breakthrough by the horizon"),
        doc.Paragraph(
            "Share of runs broken through by the horizon under the better regime and the best of "
            "the worse ones; the lead is their difference (paired bootstrap interval)."
        ),
        doc.Table(horizon_table(a)),
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
    if a.has_robustness:
        out += [doc.Heading("Robustness"), by_name["robustness"], doc.Table(drivers_view(a))]
    out += [
        doc.Heading("Reproduce"),
        doc.Paragraph(
            f"`kctsim report {a.out_dir}` rebuilds this report from the stored runs; the tables "
            "are in the same directory as CSV (verdicts, mechanisms, fit_matrix, flows, worlds, "
            "drivers)."
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
            "flows": a.ledger_flows,
            "worlds": a.worlds,
            "drivers": a.drivers,
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
