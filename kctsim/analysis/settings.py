"""The settings of a proposition suite (light: the CLI reads them to build --help)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources

_DESIGN = tomllib.loads(
    resources.files("kctsim").joinpath("data/propositions.toml").read_text("utf-8")
)["design"]


@dataclass(frozen=True)
class Settings:
    """What a proposition suite runs; two suites with equal settings are the same suite.

    ``replicates`` None (the default) chooses them for precision: a pilot of
    ``pilot`` replicates per cell, then as many more as make every primary
    interval decisive, at most ``max_replicates`` (``data/propositions.toml``,
    ``[design]``). A number fixes them by hand.
    """

    replicates: int | None = None
    pilot: int = int(_DESIGN["pilot"])
    max_replicates: int = int(_DESIGN["max_replicates"])
    ticks: int = 80
    seed: int = 2024
    cost_scale: float | None = None  # None: the packaged calibration
    robustness_samples: int = 12
    robustness_replicates: int = 8
    # Replicates of every coalition regime of the ablation (0: none; analysis/ablation.py).
    ablation_replicates: int = 100
    quick: bool = False
    cost_scale_source: str = field(default="", compare=False)

    def resolved(self) -> Settings:
        """The settings with the cost scale filled in (from the calibration if unset)."""
        if self.cost_scale is not None:
            return Settings(
                **(asdict(self) | {"cost_scale_source": self.cost_scale_source or "--cost-scale"})
            )
        from kctsim.analysis.calibration import calibration_record  # numpy, pandas: lazily

        record = calibration_record()
        return Settings(
            **(
                asdict(self)
                | {
                    "cost_scale": float(record["cost_scale"]),
                    "cost_scale_source": (
                        f"calibration ({record['scenario']}, {record['created']}): "
                        f"{record['cost_scale']:.4g} "
                        f"[{record['ci_low']:.4g}, {record['ci_high']:.4g}]"
                    ),
                }
            )
        )

    @property
    def adaptive(self) -> bool:
        """Replicates chosen for precision after the pilot (not fixed, not --quick)."""
        return self.replicates is None and not self.quick

    @property
    def first_replicates(self) -> int:
        """Replicates of the first suite sweep: the fixed number, else the pilot."""
        return self.replicates if self.replicates is not None else self.pilot


QUICK = {"pilot": 16, "robustness_samples": 0, "ablation_replicates": 5}
"""What --quick changes: a pilot of 16 replicates only (not decisive), no robustness sweeps,
an ablation of 5 replicates per coalition (a look at the pipeline, not an attribution)."""
