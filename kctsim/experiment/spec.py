"""One run of a sweep, fully specified: what the runner executes and the store records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kctsim.config import Levers, TechnologyType
from kctsim.results import RunArrays, RunResults, collect_results, run_arrays

METRICS_CHOICES = ("all", "none")
LEDGER_CHOICES = ("flows", "full", "none")


@dataclass(frozen=True)
class Output:
    """What a sweep records of each run (a scenario's ``[output]`` section).

    Args:
        metrics: ``"all"``, ``"none"`` or a tuple of per-tick metric names.
        metrics_every: keep every k-th tick of the per-tick metrics (and the last tick).
        ledger: ``"flows"``: money summed per tick by payer type, payee type, kind
            and stage (a few hundred rows a run); ``"full"``: every transfer;
            ``"none"``: no ledger (the summary keeps the totals by kind).
        spillover: record the source x receiver spillover matrix of each run.
    """

    metrics: str | tuple[str, ...] = "all"
    metrics_every: int = 1
    ledger: str = "flows"
    spillover: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.metrics, str) and self.metrics not in METRICS_CHOICES:
            raise ValueError(f"output.metrics: {self.metrics!r}; allowed: all, none, or a list")
        if self.ledger not in LEDGER_CHOICES:
            raise ValueError(
                f"output.ledger: {self.ledger!r}; allowed: {', '.join(LEDGER_CHOICES)}"
            )
        if int(self.metrics_every) < 1:
            raise ValueError(
                f"output.metrics_every: {self.metrics_every}; allowed: an integer >= 1"
            )

    def record(self) -> dict[str, Any]:
        """The choice as plain data (for the manifest)."""
        metrics = self.metrics if isinstance(self.metrics, str) else list(self.metrics)
        return {
            "metrics": metrics,
            "metrics_every": int(self.metrics_every),
            "ledger": self.ledger,
            "spillover": bool(self.spillover),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> Output:
        """The inverse of :meth:`record` (None: the defaults)."""
        if not record:
            return cls()
        metrics = record.get("metrics", "all")
        return cls(
            metrics=metrics if isinstance(metrics, str) else tuple(metrics),
            metrics_every=int(record.get("metrics_every", 1)),
            ledger=str(record.get("ledger", "flows")),
            spillover=bool(record.get("spillover", True)),
        )


FULL_OUTPUT = Output(ledger="full")
"""Everything, as ``kctsim run`` writes it for one run."""


@dataclass(frozen=True)
class RunSpec:
    """Everything one run depends on; picklable, so it travels to any worker.

    Args:
        run_id: position of the run in the expanded design (0-based, stable).
        technology: label of the technology type (a shipped name or the scenario's).
        regime: label of the regime (a preset name or the scenario's custom name).
        point: index of the design point.
        replicate: replicate index; replicate i of every cell shares a seed
            (common random numbers).
        tech_spec: the full technology type (validated).
        levers: the full set of levers (validated).
        overrides: parameter and population values for ``KCTModel`` (validated),
            including ``horizon``.
        factors: the design point's values, by name (levers or parameters), for the runs table.
        seed_entropy: root entropy of the run's SeedSequence.
        spawn_key: spawn key of the run's SeedSequence under the root.
    """

    run_id: int
    technology: str
    regime: str
    point: int
    replicate: int
    tech_spec: TechnologyType
    levers: Levers
    overrides: dict[str, Any] = field(default_factory=dict)
    factors: dict[str, Any] = field(default_factory=dict)
    seed_entropy: int = 0
    spawn_key: tuple[int, ...] = ()

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed_entropy, spawn_key=self.spawn_key)

    def build_model(self):
        """The KCTModel of this run (not yet stepped)."""
        from kctsim.model import KCTModel

        return KCTModel(
            technology=self.tech_spec,
            regime=self.levers,
            rng=self.seed_sequence(),
            **self.overrides,
        )

    def run(self):
        """The model of this run, stepped to its horizon."""
        model = self.build_model()
        while model.running:
            model.step()
        return model

    def execute(self) -> RunResults:
        """Build, run to the horizon and collect the results of this run as tables."""
        return collect_results(self.run(), seed=None)

    def execute_arrays(self) -> RunArrays:
        """Build, run to the horizon and collect the results of this run as arrays."""
        return run_arrays(self.run(), seed=None)
