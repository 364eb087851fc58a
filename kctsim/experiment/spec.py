"""One run of a sweep, fully specified: what the runner executes and the store records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kctsim.config import Levers, TechnologyType
from kctsim.results import RunResults, collect_results


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

    def execute(self) -> RunResults:
        """Build, run to the horizon and collect the results of this run."""
        model = self.build_model()
        while model.running:
            model.step()
        return collect_results(model, seed=None)
