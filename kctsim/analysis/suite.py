"""The proposition suite: which runs it makes, where it keeps them, and its analysis.

A propositions directory::

    manifest.json      format, settings (replicates or pilot, ticks, seed, cost
                       scale and where it came from), the sweeps below, the
                       replicate design and its rule, versions, times
    suite/             sweep: every technology type x every regime preset x R
                       replicates (replicate i of every regime shares its seed);
                       with replicates chosen for precision, the pilot
    extension/         sweep: replicates pilot..R-1 of the same scenario with R
                       replicates (replicate i keeps its seed), when the pilot
                       asks for more (absent otherwise)
    robustness/<type>/ sweeps: a Latin hypercube of uncertain, non-lever
                       parameters per technology type, under the regimes its
                       propositions compare (absent with --quick)
    ablation/<type>/   sweeps: every coalition of lever groups between the regimes
                       the type's propositions compare, up to the primary tau
                       (analysis/ablation.py; absent with --ablation-replicates 0)
    verdicts.csv, mechanisms.csv, fit_matrix.csv, robustness.csv, drivers.csv,
    ablation.csv
    report.md, report.html, figures/

The sweeps are ordinary, resumable sweep directories; the tables, report and
figures are derived from them and rebuilt by ``kctsim report DIR``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kctsim import files
from kctsim.analysis import ablation as abl
from kctsim.analysis import robustness as rob
from kctsim.analysis import stats as st
from kctsim.analysis.propositions import (
    Proposition,
    evaluate,
    fit_matrix,
    load_plan,
    load_propositions,
    mechanism_table,
    own_types,
    required_replicates,
    times,
)
from kctsim.analysis.settings import Settings
from kctsim.config import (
    TYPE_EFFICIENCY,
    default_parameters,
    load_technology,
    regime_names,
    technology_names,
)
from kctsim.experiment.query import open_results
from kctsim.experiment.scenario import Scenario, parse_scenario
from kctsim.experiment.store import (
    FACTOR_PREFIX,
    SweepCorruptError,
    SweepExistsError,
    check_sweep,
    load_results,
    read_manifest,
)
from kctsim.files import now
from kctsim.ledger import ACCOUNT_TYPES, KINDS
from kctsim.metrics import stage_metric_names
from kctsim.results import jsonable, software_versions

FORMAT = "kctsim-propositions/1"
MANIFEST = "manifest.json"
SUITE = "suite"
EXTENSION = "extension"
ROBUSTNESS = "robustness"
ABLATION = "ablation"

# Uncertain parameters that are not levers, varied in the robustness worlds as
# multiples (low, high) of their default value; integers are rounded.
RELATIVE_FACTORS: dict[str, tuple[float, float]] = {
    "cost_scale": (0.5, 2.0),
    "budget": (0.5, 2.0),
    "spillover": (0.5, 1.5),
    "passive_absorption": (0.5, 2.0),
    "bass_p": (0.5, 2.0),
    "bass_q": (0.5, 2.0),
    "market_size": (0.5, 2.0),
    "n_leader_firms": (0.6, 1.6),
    "n_smes": (0.5, 1.5),
    "n_universities": (0.5, 1.5),
    "n_users": (0.5, 1.5),
}
# Technology fields, as multiples of the type's own value (skipped where it is 0).
TECHNOLOGY_FACTORS: dict[str, tuple[float, float]] = {
    "turbulence": (0.5, 2.0),
    "rival_hazard": (0.5, 2.0),
    "cost_multiplier": (0.75, 1.5),
}
# Uncertain parameters varied over absolute bounds. Imitation: Mansfield, Schwartz &
# Wagner (1981) report imitation/innovation cost ratios spread widely around 0.65.
ABSOLUTE_FACTORS: dict[str, tuple[float, float]] = {
    "imitation_cost": (0.3, 1.0),
}
# Each organisation type's R&D efficiency, as multiples of its default (equal by
# assumption, docs/ODD.md 2.2): one type can be up to four times as efficient as another.
TYPE_EFFICIENCY_FACTOR = (0.5, 2.0)
K_SHIFT = (-2, 2)  # interactions added to every stage's K: ruggedness
BLOCKADE_SPREAD = 0.15  # blockade varies by this much below its value (capped at 1 above)


# ----------------------------------------------------------------- scenarios


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def suite_text(s: Settings, replicates: int | None = None) -> str:
    """Scenario text of the main suite: every type x every preset x R replicates
    (R: ``replicates``, else the settings' first sweep)."""
    return "\n".join(
        [
            'name = "propositions_suite"',
            'description = "Every technology type under every regime preset (common random '
            'numbers)."',
            f"technologies = {_toml_list(technology_names())}",
            f"regimes = {_toml_list(regime_names())}",
            f"horizon = {s.ticks}",
            f"replicates = {replicates or s.first_replicates}",
            f"seed = {s.seed}",
            "",
            "[parameters]",
            f"cost_scale = {s.cost_scale!r}",
            "",
        ]
    )


def robustness_regimes(propositions: list[Proposition]) -> dict[str, list[str]]:
    """Per technology type, the regimes its propositions compare."""
    out: dict[str, list[str]] = {}
    for p in propositions:
        out.setdefault(p.technology, [])
        out[p.technology] += [r for r in p.regimes if r not in out[p.technology]]
    return out


def robustness_factors(technology: str, cost_scale: float) -> dict[str, tuple[float, float]]:
    """Bounds of every robustness factor for one technology type, from its own data."""
    defaults = default_parameters()
    base = defaults.values | defaults.population | {"cost_scale": cost_scale}
    bounds = {
        name: (lo * base[name], hi * base[name]) for name, (lo, hi) in RELATIVE_FACTORS.items()
    }
    bounds |= ABSOLUTE_FACTORS
    lo, hi = TYPE_EFFICIENCY_FACTOR
    for name, type_name in TYPE_EFFICIENCY.items():
        efficiency = defaults.agent_types[type_name].rnd_efficiency
        bounds[name] = (lo * efficiency, hi * efficiency)
    tech = load_technology(technology)
    for name, (lo, hi) in TECHNOLOGY_FACTORS.items():
        value = getattr(tech, name)
        if value > 0:
            bounds[name] = (
                lo * value,
                min(hi * value, 1.0) if name != "cost_multiplier" else hi * value,
            )
    if tech.blockade > 0 and any(s.frontier for s in tech.stages):
        bounds["blockade"] = (
            max(tech.blockade - BLOCKADE_SPREAD, 0.0),
            min(tech.blockade + 0.04, 1.0),
        )
    bounds["k_shift"] = (float(K_SHIFT[0]) - 0.49, float(K_SHIFT[1]) + 0.49)
    return bounds


def robustness_text(s: Settings, technology: str, regimes: list[str]) -> str:
    """Scenario text of one type's robustness sweep (a Latin hypercube of worlds)."""
    factors = robustness_factors(technology, float(s.cost_scale))
    lines = [
        f'name = "propositions_robustness_{technology}"',
        f'description = "{technology}: the compared regimes over a Latin hypercube of uncertain, '
        'non-lever parameters."',
        f"technologies = {_toml_list([technology])}",
        f"regimes = {_toml_list(regimes)}",
        f"horizon = {s.ticks}",
        f"replicates = {s.robustness_replicates}",
        f"seed = {s.seed}",
        "",
        "[design]",
        'method = "lhs"',
        f"samples = {s.robustness_samples}",
        "",
        "[design.factors]",
    ]
    lines += [f"{n} = {{ min = {lo!r}, max = {hi!r} }}" for n, (lo, hi) in factors.items()]
    return "\n".join(lines) + "\n"


def scenarios(s: Settings) -> dict[str, Scenario]:
    """Every sweep of the suite, by its directory relative to the propositions directory."""
    out = {SUITE: parse_scenario(suite_text(s), "<propositions suite>")}
    if s.robustness_samples > 0:
        for tech, regimes in robustness_regimes(load_propositions()).items():
            text = robustness_text(s, tech, regimes)
            out[f"{ROBUSTNESS}/{tech}"] = parse_scenario(text, f"<robustness {tech}>")
    return out | ablation_scenarios(s)


def ablation_horizon(s: Settings) -> int:
    """The ablation's horizon: the primary tau (the horizon itself when shorter).

    The first tau ticks of a run do not depend on its horizon, so the ablation's
    ends are the suite's runs of the same replicates, cut at tau.
    """
    return load_plan().primary_estimand(s.ticks)[0]


def ablation_scenarios(s: Settings) -> dict[str, Scenario]:
    """The ablation sweeps, one per technology type (none with 0 replicates)."""
    if s.ablation_replicates <= 0:
        return {}
    designs: dict[str, dict[abl.Step, list[abl.Coalition]]] = {}
    for step in abl.steps(load_propositions()):
        designs.setdefault(step.technology, {})[step] = abl.design(step)
    return {
        f"{ABLATION}/{tech}": parse_scenario(
            abl.scenario_text(
                tech, d, ablation_horizon(s), s.ablation_replicates, s.seed, float(s.cost_scale)
            ),
            f"<ablation {tech}>",
        )
        for tech, d in designs.items()
    }


# ---------------------------------------------------------------- manifest


DESIGN_SETTINGS = ("replicates", "pilot", "max_replicates", "quick", "ablation_replicates")


class PropositionsDirError(SweepExistsError):
    """The directory holds something other than this proposition suite."""


def new_manifest(s: Settings, sweeps: dict[str, Scenario]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "settings": asdict(s),
        "sweeps": {name: sc.meta()["hash"] for name, sc in sweeps.items()},
        "versions": software_versions(),
        "started": now(),
        "ended": None,
    }


def read_propositions_manifest(out_dir: Path) -> dict[str, Any] | None:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def check_out_dir(out_dir: Path, manifest: dict[str, Any], resume: bool) -> None:
    """Refuse a directory holding anything but this suite (or, without resume, this suite)."""
    if out_dir.exists() and not out_dir.is_dir():  # said as the other --out errors say it
        raise PropositionsDirError(f"{out_dir}: is a file, not a directory")
    try:
        ours = files.check_out_dir(
            out_dir,
            lambda d: read_propositions_manifest(d) is not None,
            "kctsim propositions results",
        )
    except (files.OutputDirError, NotADirectoryError) as exc:
        raise PropositionsDirError(str(exc)) from None
    if not ours:
        return
    old = read_propositions_manifest(out_dir)
    # The extension sweep is added after the pilot: compare the sweeps known up front,
    # and the settings that decide the replicates (a --quick pilot is not the full job's).
    same_design = all(
        old["settings"].get(k) == manifest["settings"].get(k) for k in DESIGN_SETTINGS
    )
    if {k: old["sweeps"].get(k) for k in manifest["sweeps"]} != manifest["sweeps"] or not (
        same_design
    ):
        settings = ", ".join(
            f"{k}={v}" for k, v in old["settings"].items() if k != "cost_scale_source"
        )
        raise PropositionsDirError(
            f"{out_dir}: holds a proposition suite with other settings ({settings}); "
            "choose another --out or remove it"
        )
    if not resume:
        raise PropositionsDirError(
            f"{out_dir}: already holds this proposition suite; pass --resume to finish it "
            f"(or rebuild its report with `kctsim report {out_dir}`)"
        )


# ------------------------------------------------------------------ running


def run_suite(
    out_dir: Path,
    settings: Settings,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) every sweep of the suite into ``out_dir``; return the manifest.

    With replicates chosen for precision the suite sweep is the pilot; its
    runs fix the number of replicates once (recorded in the manifest's
    ``design`` before any further run, and read back on resume, so the rule
    is applied exactly once), and the extension sweep runs the rest.
    """
    from kctsim.experiment.runner import run_sweep

    settings = settings.resolved()
    sweeps = scenarios(settings)
    manifest = new_manifest(settings, sweeps)
    check_out_dir(out_dir, manifest, resume)
    old = read_propositions_manifest(out_dir)
    if old is not None:
        manifest = old | {"ended": None, "resumed": [*old.get("resumed", []), now()]}
    out_dir.mkdir(parents=True, exist_ok=True)
    files.write_json_atomic(out_dir / MANIFEST, jsonable(manifest))

    def run(name: str, specs: list, meta: dict[str, Any]) -> None:
        if progress:
            print(f"{name}: {len(specs)} runs", flush=True)
        sweep_dir = out_dir / name
        run_sweep(
            specs,
            meta,
            sweep_dir,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            resume=resume or (sweep_dir / MANIFEST).exists(),
            progress=progress,
        )

    suite = sweeps.pop(SUITE)
    run(SUITE, suite.runs(), suite.meta())
    if "design" not in manifest:
        manifest["design"] = replicate_design(out_dir, settings)
        files.write_json_atomic(out_dir / MANIFEST, jsonable(manifest))
    extension = extension_scenario(settings, manifest["design"])
    if extension is not None:
        scenario, specs = extension
        manifest["sweeps"][EXTENSION] = scenario.meta()["hash"]
        files.write_json_atomic(out_dir / MANIFEST, jsonable(manifest))
        run(EXTENSION, specs, scenario.meta() | {"name": "propositions_suite_extension"})
    for name, scenario in sweeps.items():
        run(name, scenario.runs(), scenario.meta())
    manifest["ended"] = now()
    files.write_json_atomic(out_dir / MANIFEST, jsonable(manifest))
    return manifest


def replicate_design(out_dir: Path, settings: Settings) -> dict[str, Any]:
    """How many replicates the suite runs, and the rule that chose them (for the manifest)."""
    plan = load_plan()
    if not settings.adaptive:
        n = settings.first_replicates
        how = "pilot only (--quick): not decisive" if settings.quick else "fixed by --replicates"
        return {"rule": how, "replicates": n, "pilot": n, "decisive_by_design": False}
    runs = load_results(out_dir / SUITE, tables=("runs",))["runs"]
    needed = required_replicates(
        runs, plan=dataclasses.replace(plan, max_replicates=settings.max_replicates)
    )
    return {
        "rule": (
            f"pilot of {settings.pilot} replicates per cell; the SD of every paired difference "
            f"of the primary estimand (tau = {needed['tau']}) is replaced by its upper "
            f"{needed['sd_confidence']:.0%} confidence bound and the suite runs the fewest "
            f"replicates that make every primary interval at most delta = {needed['delta']:g} "
            f"quarters wide (half-width delta/2), at most {settings.max_replicates}; the rule "
            "reads SDs only, once, and the verdicts use every replicate. The replicates after "
            "the pilot are run for the cells a verdict compares only; the other cells (the "
            "fit matrix's other presets) keep the pilot's"
        ),
        "replicates": needed["replicates"],
        "pilot": settings.pilot,
        "needed": needed["needed"],
        "capped": needed["capped"],
        "max_replicates": settings.max_replicates,
        "by_test": needed["by_test"],
        "decisive_by_design": not needed["capped"],
    }


def verdict_cells(propositions: list[Proposition]) -> set[tuple[str, str]]:
    """The (technology, regime) cells a verdict compares: every proposition's regimes on
    its type and, for the contingency test, every mode on every type it matches."""
    cells = {(p.technology, r) for p in propositions for r in p.regimes}
    own = own_types(propositions)
    cells |= {(t, mode) for t in own.values() for mode in own}
    return cells


def extension_scenario(
    settings: Settings, design: dict[str, Any]
) -> tuple[Scenario, list[Any]] | None:
    """The extension sweep: replicates pilot..R-1 of the suite with R replicates, of the
    cells a verdict compares only (:func:`verdict_cells`; the other cells, seen in the
    fit matrix and the figures, keep the pilot's replicates).

    Its run ids follow the pilot's, so the two runs tables concatenate.
    """
    total, pilot = int(design["replicates"]), int(design["pilot"])
    if total <= pilot:
        return None
    scenario = parse_scenario(suite_text(settings, total), "<propositions suite extension>")
    offset = len(technology_names()) * len(regime_names()) * pilot
    cells = verdict_cells(load_propositions())
    specs = [
        s for s in scenario.runs() if s.replicate >= pilot and (s.technology, s.regime) in cells
    ]
    return scenario, [dataclasses.replace(s, run_id=offset + j) for j, s in enumerate(specs)]


# ----------------------------------------------------------------- analysis


# Per-tick metrics the report plots (read selectively: the metrics table is large).
PLOTTED_METRICS = (
    "p_breakthrough",
    "spillover_share",
    "free_riding_share",
    "contribution_gap",
    "diversity",
    "lock_in",
    "misallocation_index",
    "chain_blocked",
    *stage_metric_names(max(len(load_technology(t).stages) for t in technology_names())),
)


@dataclass
class Analysis:
    """Everything the report shows, computed from the stored sweeps."""

    out_dir: Path
    manifest: dict[str, Any]
    suite_manifest: dict[str, Any]
    runs: pd.DataFrame
    metrics: pd.DataFrame
    ledger_flows: pd.DataFrame
    verdicts: pd.DataFrame
    mechanisms: pd.DataFrame
    fit: pd.DataFrame
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    worlds: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    ablation: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def settings(self) -> dict[str, Any]:
        return self.manifest["settings"]

    @property
    def design(self) -> dict[str, Any]:
        """The replicate design and its rule (older directories: fixed replicates)."""
        fixed = {"rule": "fixed", "replicates": self.settings.get("replicates")}
        return self.manifest.get("design", fixed)

    @property
    def has_robustness(self) -> bool:
        return len(self.worlds) > 0


def analyse(out_dir: Path) -> Analysis:
    """Read the stored sweeps of a propositions directory and compute every table.

    Raises:
        PropositionsDirError: not a propositions directory, or its suite is incomplete.
    """
    out_dir = Path(out_dir)
    manifest = read_propositions_manifest(out_dir)
    if manifest is None:
        raise PropositionsDirError(
            f"{out_dir}: holds no kctsim propositions results (no {MANIFEST} of format {FORMAT})"
        )
    suite_dir = out_dir / SUITE
    try:
        suite_manifest = read_manifest(suite_dir)
        tables = load_results(suite_dir, tables=("runs", "metrics"), metrics=PLOTTED_METRICS)
        check_sweeps_complete(out_dir, manifest)
    except (FileNotFoundError, ValueError, SweepCorruptError) as exc:
        raise PropositionsDirError(f"{suite_dir}: cannot be read ({exc})") from None
    runs = tables["runs"]
    _check_complete(out_dir, suite_dir, suite_manifest, runs)
    if EXTENSION in manifest["sweeps"]:
        extension_dir = out_dir / EXTENSION
        try:
            extension_runs = load_results(extension_dir, tables=("runs",))["runs"]
            _check_complete(out_dir, extension_dir, read_manifest(extension_dir), extension_runs)
        except (FileNotFoundError, ValueError) as exc:
            raise PropositionsDirError(f"{extension_dir}: cannot be read ({exc})") from None
        # The figures of means over time and the flows are read from the pilot
        # only (plenty for means; the metrics of every replicate would not fit).
        runs = pd.concat([runs, extension_runs], ignore_index=True)
    propositions = load_propositions()
    verdicts = evaluate(runs, propositions)
    analysis = Analysis(
        out_dir=out_dir,
        manifest=manifest,
        suite_manifest=suite_manifest,
        runs=runs,
        metrics=tables["metrics"],
        ledger_flows=ledger_flows(suite_dir, tables["runs"]),
        verdicts=verdicts,
        mechanisms=mechanism_table(runs, propositions),
        fit=fit_matrix(runs, propositions),
        differences=difference_curves(runs, propositions),
    )
    analysis.ablation = ablation(out_dir, runs, propositions)
    robustness_dirs = sorted((out_dir / ROBUSTNESS).glob("*/manifest.json"))
    if robustness_dirs:
        frames = [load_results(p.parent, tables=("runs",))["runs"] for p in robustness_dirs]
        world_runs = pd.concat(frames, ignore_index=True)
        worlds = rob.world_effects(world_runs, propositions)
        factors = [
            c.removeprefix(FACTOR_PREFIX) for c in world_runs.columns if c.startswith(FACTOR_PREFIX)
        ]
        shares = rob.robustness_shares(worlds, verdicts)
        main = verdicts["role"].str.startswith("primary")  # worlds judge the primary verdict
        analysis.verdicts["robustness_share"] = verdicts["proposition"].map(shares).where(main)
        analysis.verdicts["robustness_worlds"] = (
            (verdicts["proposition"].map(worlds.groupby("proposition").size()).where(main))
            .fillna(0)
            .astype(int)
        )
        analysis.worlds = worlds
        analysis.drivers = rob.drivers(worlds, factors)
    else:
        analysis.verdicts["robustness_share"] = float("nan")
        analysis.verdicts["robustness_worlds"] = 0
    return analysis


def ablation(out_dir: Path, runs: pd.DataFrame, propositions: list[Proposition]) -> pd.DataFrame:
    """The ablation attribution (``analysis/ablation.py``) from the stored ablation sweeps
    (empty without them); the binding rival of a proposition is read from the suite."""
    dirs = sorted((out_dir / ABLATION).glob(f"*/{MANIFEST}"))
    if not dirs:
        return pd.DataFrame(columns=list(abl.COLUMNS))
    ablation_runs = pd.concat(
        [load_results(p.parent, tables=("runs",))["runs"] for p in dirs], ignore_index=True
    )
    tau = int(ablation_runs["horizon"].max())
    return abl.ablation_table(
        ablation_runs, propositions, tau, binding=abl.binding_rivals(runs, propositions, tau)
    )


def difference_curves(
    runs: pd.DataFrame, propositions: list[Proposition], seed: int = 0
) -> pd.DataFrame:
    """P_better(t) - P_worse(t) with a 95% simultaneous band, per proposition and
    worse regime (long form: proposition, technology, better, worse, tick,
    difference, low, high)."""
    horizon = max(int(h) for h in runs["horizon"].dropna().unique())
    rng = np.random.default_rng(seed)
    frames = []
    for prop in propositions:
        ticks = times(runs, prop.technology, prop.regimes)
        for worse, row in zip(prop.worse, ticks[1:], strict=True):
            band = st.difference_band(ticks[0], row, horizon, rng)
            frames.append(
                band.assign(
                    proposition=prop.key,
                    technology=prop.technology,
                    better=prop.better,
                    worse=worse,
                )
            )
    return pd.concat(frames, ignore_index=True)


def _check_complete(
    out_dir: Path, sweep_dir: Path, sweep_manifest: dict[str, Any], runs: pd.DataFrame
) -> None:
    if len(runs) < sweep_manifest.get("n_runs", 0):
        raise PropositionsDirError(
            f"{sweep_dir}: holds {len(runs)} of {sweep_manifest['n_runs']} runs; "
            f"finish it with `kctsim propositions --resume --out {out_dir}` and the same options"
        )


def check_sweeps_complete(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Refuse, with the counts, when a sweep the suite ran is missing, incomplete or damaged."""
    for name in manifest.get("sweeps", {}):
        check = check_sweep(out_dir / name) if (out_dir / name / MANIFEST).is_file() else None
        if check is None or not check.ok:
            state = check.line(name) if check else f"{name}: missing"
            raise PropositionsDirError(
                f"{state}; the report reads only complete sweeps: finish them with "
                f"`kctsim propositions --resume --out {out_dir}` and the same options"
            )


def ledger_flows(sweep_dir: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Money moved between agent types per run, averaged over the runs of each
    (technology, regime): columns technology, regime, from_type, to_type, kind, amount.

    The ledger (flows or every transfer) is condensed inside DuckDB and never held whole.
    """
    columns = ["technology", "regime", "from_type", "to_type", "kind", "amount"]
    # Summed inside DuckDB over the checked parts: only the per-run sums are loaded.
    with open_results(sweep_dir) as res:
        if "ledger" not in res.tables:
            return pd.DataFrame(columns=columns)
        per_run = res.sql(
            "SELECT run_id, from_type, to_type, kind, sum(amount) AS amount "
            "FROM ledger GROUP BY ALL ORDER BY ALL"
        )
    for name, categories in (("from_type", ACCOUNT_TYPES), ("to_type", ACCOUNT_TYPES)):
        per_run[name] = pd.Categorical(per_run[name], categories=categories)
    per_run["kind"] = pd.Categorical(per_run["kind"], categories=KINDS)
    per_run = per_run.merge(runs[["run_id", "technology", "regime"]], on="run_id")
    n_runs = runs.groupby(["technology", "regime"]).size().rename("n_runs").reset_index()
    flows = (
        per_run.groupby(columns[:-1], observed=True)["amount"]
        .sum()
        .reset_index()
        .merge(n_runs, on=["technology", "regime"])
    )
    flows["amount"] = flows["amount"] / flows["n_runs"]
    return flows[columns]
