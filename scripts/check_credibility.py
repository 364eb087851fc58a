"""Check "Credible verdicts"' two measurable promises on every type and preset.

Over every technology type x every regime preset x 30 replicates at the default
settings of ``kctsim propositions`` (the shipped calibration's cost scale, 80
quarters):

1. no breakthrough without R&D: every breakthrough's ``breakthrough_by_rnd`` is 1
   (each stage passed with a design reached by R&D since its last redraw);
2. one public purse: each regime's mean ``public_spend`` is within 5% of the mean
   over the regimes of its type.

Prints one table per promise and exits 1 if either fails::

    .venv/bin/python scripts/check_credibility.py [--replicates 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]
TOLERANCE = 0.05


def scenario_text(replicates: int, cost_scale: float) -> str:
    from kctsim.config import regime_names, technology_names

    quoted = lambda names: "[" + ", ".join(f'"{n}"' for n in names) + "]"  # noqa: E731
    return "\n".join(
        [
            'name = "credibility_check"',
            f"technologies = {quoted(technology_names())}",
            f"regimes = {quoted(regime_names())}",
            "horizon = 80",
            f"replicates = {replicates}",
            "seed = 2024",
            "[parameters]",
            f"cost_scale = {cost_scale!r}",
            "[output]",
            'metrics = "none"',
            'ledger = "none"',
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=30)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(TREE))
    from kctsim.analysis.calibration import calibrated_cost_scale
    from kctsim.experiment.query import open_results
    from kctsim.experiment.runner import run_sweep
    from kctsim.experiment.scenario import parse_scenario

    with tempfile.TemporaryDirectory(prefix="kctsim-credibility-") as tmp:
        text = scenario_text(args.replicates, calibrated_cost_scale())
        scenario = parse_scenario(text, "credibility_check.toml")
        run_sweep(
            scenario.runs(), scenario.meta(), Path(tmp) / "sweep", workers=args.workers,
            output=scenario.output, progress=False,
        )  # fmt: skip
        runs = open_results(Path(tmp) / "sweep").sql(
            "SELECT technology, regime, breakthrough_tick, breakthrough_by_rnd, public_spend "
            "FROM runs WHERE status = 'ok'"
        )
    broke = runs[runs["breakthrough_tick"].notna()]
    earned = broke.groupby(["technology", "regime"])["breakthrough_by_rnd"].agg(
        breakthroughs="size", without_rnd=lambda x: int((x < 1).sum())
    )
    spend = runs.groupby(["technology", "regime"])["public_spend"].mean().rename("public_spend")
    spend = spend.to_frame()
    spend["off_type_mean"] = (
        spend["public_spend"] / spend.groupby("technology")["public_spend"].transform("mean") - 1
    )
    print(f"{len(runs)} runs: breakthroughs and how many came without R&D")
    print(earned.to_string())
    print("\nMean public spend per run and its distance from the type's mean over the regimes")
    print(spend.round(4).to_string())
    no_rnd = int(earned["without_rnd"].sum())
    worst = float(spend["off_type_mean"].abs().max())
    print(
        f"\nbreakthroughs without R&D: {no_rnd} (must be 0); largest distance of a regime's "
        f"public spend from its type's mean: {worst:.2%} (must be at most {TOLERANCE:.0%})"
    )
    return 0 if no_rnd == 0 and worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
