"""Throughput benchmark: kctsim.KCTModel next to Mesa's Boltzmann wealth example.

Measures agent-steps per second of ``KCTModel`` at the default population and at
10x and 100x every population count, and of Mesa's bundled Boltzmann wealth model
(``mesa.examples.basic.boltzmann_wealth_model``, used as shipped, including its
DataCollector and experimental DataRecorder) at the same agent counts and the
same number of ticks, in the same process. Prints an aligned table, the
kctsim / Boltzmann throughput ratio per scale and the cost-per-tick scaling of
KCTModel.

Only ``model.step()`` is timed (with ``time.perf_counter``); model construction
is excluded from the throughput figures and shown in its own column. Each
measurement is repeated, the two models taking turns, and the best (fastest)
repeat of each is reported.

Definitions:
    agents            mean of ``len(model.agents)``, read after every tick
    agent-steps       sum over ticks of ``len(model.agents)``
    agent-steps/s     agent-steps / seconds spent in ``model.step()``
    ms/tick/1k agents 1000 * step seconds / ticks / (agents / 1000); constant
                      under linear scaling

Run from the repository root:
    .venv/bin/python benchmarks/bench_model.py            # 1x, 10x, 100x
    .venv/bin/python benchmarks/bench_model.py --quick    # 1x and 10x only
    .venv/bin/python benchmarks/bench_model.py --phases   # also ms per tick of each phase

``--phases`` times each line of ``KCTModel.step`` (the mechanism calls, the
metrics and Mesa's DataCollector) at the default size for every technology
type, best of the repeats per phase, and the construction time of each type.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth

import kctsim.model as kct_model
from kctsim import KCTModel, default_parameters, regime_names, technology_names

POPULATION_KEYS = (
    "n_leader_firms",
    "n_smes",
    "n_state_orgs",
    "n_universities",
    "n_scientists",
    "n_users",
)

# (scale, repeats) of a full run and of --quick. This VM's speed swings by up to
# half from second to second, so the two models take turns, repeat by repeat, and the
# cheap default size is repeated often enough for both bests to be near their floors;
# Boltzmann at 100x takes ~25-30 s per repeat, so it gets fewer repeats.
FULL_PLAN = ((1, 15), (10, 3), (100, 2))
QUICK_PLAN = ((1, 7), (10, 1))


@dataclass
class Result:
    model: str
    scale: int
    repeats: int
    ticks: int
    build_s: float  # construction time of the best repeat (not in throughput)
    step_s: float  # best (smallest) total time in model.step() over the repeats
    agent_steps: int  # sum over ticks of len(model.agents), best repeat
    mean_agents: float

    @property
    def steps_per_s(self) -> float:
        return self.agent_steps / self.step_s

    @property
    def ms_per_tick_per_1k(self) -> float:
        return 1000.0 * self.step_s / self.ticks / (self.mean_agents / 1000.0)


def time_run(build: Callable[[], Any], ticks: int) -> tuple[float, float, int]:
    """Build a model, step it ``ticks`` times; return (build s, step s, agent-steps)."""
    gc.collect()
    t0 = time.perf_counter()
    model = build()
    build_s = time.perf_counter() - t0
    agent_steps = 0
    step_s = 0.0
    for _ in range(ticks):
        t = time.perf_counter()
        model.step()
        step_s += time.perf_counter() - t
        agent_steps += len(model.agents)  # counted outside the timed region
    del model
    return build_s, step_s, agent_steps


def warm_up() -> float:
    """Compile or load the kernels first, so that no timed run pays for numba."""
    start = time.perf_counter()
    kct_model.compile_kernels()
    return time.perf_counter() - start


def best(name: str, scale: int, runs: list[tuple[float, float, int]], ticks: int) -> Result:
    """The fastest of ``runs`` (build s, step s, agent-steps) as a Result."""
    build_s, step_s, agent_steps = min(runs, key=lambda r: r[1])
    return Result(
        model=name,
        scale=scale,
        repeats=len(runs),
        ticks=ticks,
        build_s=build_s,
        step_s=step_s,
        agent_steps=agent_steps,
        mean_agents=agent_steps / ticks,
    )


def compare(
    scale: int, ticks: int, repeats: int, tech: str, regime: str, seed: int
) -> tuple[Result, Result, float, float]:
    """Best of ``repeats`` of KCTModel and of Boltzmann at the same size, taking turns,
    and the medians over the turns of the two models' throughput ratio, counting the
    steps only and the whole run (construction included); each turn's runs are
    seconds apart at most, so a slow spell of the machine falls on both."""
    kct_build = kct_builder(scale, ticks, tech, regime, seed)
    kct_runs = [time_run(kct_build, ticks)]
    n = max(1, round(kct_runs[0][2] / ticks))  # the same agent count for Boltzmann
    boltz_build = boltzmann_builder(n, seed)
    boltz_runs = [time_run(boltz_build, ticks)]
    for _ in range(repeats - 1):
        kct_runs.append(time_run(kct_build, ticks))
        boltz_runs.append(time_run(boltz_build, ticks))
    turns = list(zip(kct_runs, boltz_runs, strict=True))
    ratios = [(k_steps / k_s) / (b_steps / b_s) for (_, k_s, k_steps), (_, b_s, b_steps) in turns]
    whole = [
        (k_steps / (k_b + k_s)) / (b_steps / (b_b + b_s))
        for (k_b, k_s, k_steps), (b_b, b_s, b_steps) in turns
    ]
    return (
        best("kctsim", scale, kct_runs, ticks),
        best("boltzmann", scale, boltz_runs, ticks),
        float(np.median(ratios)),
        float(np.median(whole)),
    )


def kct_builder(
    scale: int, ticks: int, tech: str, regime: str, seed: int
) -> Callable[[], KCTModel]:
    population = default_parameters().population
    counts = {key: int(population[key]) * scale for key in POPULATION_KEYS}

    def build() -> KCTModel:
        # horizon = ticks so the model is sized for, and runs through, every timed tick
        return KCTModel(technology=tech, regime=regime, horizon=ticks, rng=seed, **counts)

    return build


def boltzmann_builder(n: int, seed: int) -> Callable[[], BoltzmannWealth]:
    side = math.ceil(math.sqrt(n))  # same density as the example default (100 on 10x10)

    def build() -> BoltzmannWealth:
        return BoltzmannWealth(BoltzmannScenario(n=n, width=side, height=side, rng=seed))

    return build


# The phases of KCTModel.step, in tick order: (label, owner of the function, its name).
PHASES = (
    ("steps 0-5/6/7 (compiled)", kct_model.compiled_tick, "advance"),
    ("people.found_startups", kct_model.people, "found_startups"),
    ("demography.decide", kct_model.demography, "decide"),
    ("demography.exit_and_enter", kct_model.demography, "exit_and_enter"),
    ("measure", kct_model, "measure"),
)
COLLECT = "DataCollector.collect"


def phase_times(tech: str, regime: str, seed: int, repeats: int) -> tuple[dict[str, float], float]:
    """Best-of-``repeats`` ms per tick of each phase of a default-size run, and the
    best construction time in ms. The phases are timed by wrapping the functions
    ``KCTModel.step`` calls; the wrappers are removed again afterwards."""
    spent: dict[str, float] = {}

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            result = fn(*args, **kwargs)
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
            return result

        return wrapper

    originals = [(owner, name, getattr(owner, name)) for _, owner, name in PHASES]
    for (label, owner, name), (_, _, fn) in zip(PHASES, originals, strict=True):
        setattr(owner, name, timed(label, fn))
    best: dict[str, float] = {}
    build_ms = math.inf
    try:
        for _ in range(repeats):
            gc.collect()
            t0 = time.perf_counter()
            model = KCTModel(technology=tech, regime=regime, rng=seed)
            build_ms = min(build_ms, 1000 * (time.perf_counter() - t0))
            model.datacollector.collect = timed(COLLECT, model.datacollector.collect)
            spent.clear()
            t = time.perf_counter()
            while model.running:
                model.step()
            spent["whole tick"] = time.perf_counter() - t
            for label, seconds in spent.items():
                best[label] = min(best.get(label, math.inf), 1000 * seconds / model.steps)
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    return best, build_ms


def print_phases(regime: str, seed: int, repeats: int) -> None:
    techs = technology_names()
    rows = {tech: phase_times(tech, regime, seed, repeats) for tech in techs}
    labels = [label for label, _, _ in PHASES] + [COLLECT, "whole tick"]
    print(f"ms per tick by phase (default size, regime {regime!r}, best of {repeats}):")
    print(f"{'phase':<26}" + "".join(f"{t:>16}" for t in techs))
    for label in labels:
        print(f"{label:<26}" + "".join(f"{rows[t][0].get(label, 0.0):>16.3f}" for t in techs))
    print(f"{'construction (ms)':<26}" + "".join(f"{rows[t][1]:>16.1f}" for t in techs))
    print()


def print_table(results: list[Result]) -> None:
    header = (
        f"{'model':<10} {'scale':>5} {'agents':>9} {'ticks':>5} {'reps':>4} "
        f"{'build s':>8} {'step s':>8} {'agent-steps':>12} {'agent-steps/s':>14} "
        f"{'ms/tick/1k ag':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.model:<10} {f'{r.scale}x':>5} {r.mean_agents:>9.1f} {r.ticks:>5} "
            f"{r.repeats:>4} {r.build_s:>8.3f} {r.step_s:>8.3f} {r.agent_steps:>12,} "
            f"{r.steps_per_s:>14,.0f} {r.ms_per_tick_per_1k:>13.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only 1x and 10x, fewer repeats")
    parser.add_argument("--ticks", type=int, default=80, help="ticks per run (default 80)")
    parser.add_argument("--tech", default="key_generic", choices=technology_names())
    parser.add_argument("--regime", default="spiral", choices=regime_names())
    parser.add_argument("--seed", type=int, default=12345, help="seed for both models")
    parser.add_argument(
        "--phases", action="store_true", help="also time each phase of the tick (default size)"
    )
    args = parser.parse_args(argv)
    if args.ticks < 1:
        parser.error("--ticks must be >= 1")

    plan = QUICK_PLAN if args.quick else FULL_PLAN
    print("kctsim vs Mesa Boltzmann wealth: agent-steps per second")
    print(
        f"python {platform.python_version()}, mesa {mesa.__version__}, numpy {np.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} cpus"
    )
    print(
        f"KCTModel(technology={args.tech!r}, regime={args.regime!r}), seed {args.seed}, "
        f"{args.ticks} ticks; scales: {', '.join(f'{s}x' for s, _ in plan)}"
    )
    print(
        "Timed: model.step() only (construction excluded, shown as 'build s'); "
        "best of 'reps' repeats."
    )
    print(
        "agents = mean len(model.agents) over ticks; Boltzmann n = round(KCTModel agents), "
        "grid side = ceil(sqrt(n))."
    )
    print(flush=True)
    warm_s = warm_up()
    print(f"kernels compiled or loaded from numba's cache (not timed below): {warm_s:.1f} s")
    print(flush=True)
    if args.phases:
        print_phases(args.regime, args.seed, 5 if not args.quick else 3)

    results: list[Result] = []
    pairs: list[tuple[Result, Result, float]] = []
    whole_ratios: list[float] = []
    for scale, repeats in plan:
        kct, boltz, turn_ratio, whole_ratio = compare(
            scale, args.ticks, repeats, args.tech, args.regime, args.seed
        )
        results += [kct, boltz]
        pairs.append((kct, boltz, turn_ratio))
        whole_ratios.append(whole_ratio)
        print(
            f"  done {scale}x: kctsim {kct.steps_per_s:,.0f}/s, "
            f"boltzmann {boltz.steps_per_s:,.0f}/s",
            flush=True,
        )

    print()
    print_table(results)
    print()
    for (kct, boltz, turn_ratio), whole_ratio in zip(pairs, whole_ratios, strict=True):
        print(
            f"ratio kctsim / Boltzmann agent-steps/s at {kct.scale}x: "
            f"best / best {kct.steps_per_s / boltz.steps_per_s:.2f}x, "
            f"median over {kct.repeats} turns {turn_ratio:.2f}x (steps only), "
            f"{whole_ratio:.2f}x (whole run, construction included)"
        )
    kcts = [k for k, _, _ in pairs]
    costs = [k.ms_per_tick_per_1k for k in kcts]
    print(
        "KCTModel ms per tick per 1000 agents: "
        + ", ".join(f"{k.scale}x {c:.3f}" for k, c in zip(kcts, costs, strict=True))
        + f"; largest / smallest: {max(costs) / min(costs):.2f}"
    )
    print()

    kct1, boltz1, turn_ratio1 = pairs[0]
    print(
        "kctsim / Boltzmann agent-steps/s ratio at default size: "
        f"{turn_ratio1:.1f}x steps only, {whole_ratios[0]:.1f}x whole run, medians over the "
        f"turns (best / best steps only {kct1.steps_per_s / boltz1.steps_per_s:.1f}x)"
    )
    last = kcts[-1]
    note = "" if last.scale == 100 else " (100x skipped with --quick)"
    print(
        f"cost per tick per agent, {last.scale}x vs 1x: "
        f"{last.ms_per_tick_per_1k / kct1.ms_per_tick_per_1k:.2f} "
        f"(goal: <= ~1, i.e. linear){note}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
