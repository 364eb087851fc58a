"""The settings of a proposition suite (light: the CLI reads them to build --help)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Settings:
    """What a proposition suite runs; two suites with equal settings are the same suite."""

    replicates: int = 80
    ticks: int = 80
    seed: int = 2024
    cost_scale: float | None = None  # None: the packaged calibration
    robustness_samples: int = 12
    robustness_replicates: int = 8
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


QUICK = {"replicates": 16, "robustness_samples": 0}
"""What --quick changes: fewer replicates and no robustness sweeps."""
