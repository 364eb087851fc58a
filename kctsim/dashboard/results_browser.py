"""Reading stored results for the results page: sweep and propositions directories.

:func:`open_results` recognises a directory by the ``format`` in its
``manifest.json`` and returns what the page shows; anything else (a missing
path, a file, a single-run directory, a foreign or broken manifest) raises
:class:`ResultsError` with a message meant for the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kctsim.analysis.suite import (
    ABLATION,
    ROBUSTNESS,
    SUITE,
    PropositionsDirError,
    check_sweeps_complete,
)
from kctsim.analysis.suite import FORMAT as PROPOSITIONS_FORMAT
from kctsim.experiment.store import FORMAT as SWEEP_FORMAT
from kctsim.experiment.store import MANIFEST, load_results, metrics_wide, sweep_status

VERDICT_COLUMNS = (
    "proposition",
    "claim",
    "technology",
    "comparison",
    "effect",
    "ci_low",
    "ci_high",
    "p_logrank",
    "p_value",
    "p_adjusted",
    "verdict",
    "robustness_share",
)


class ResultsError(ValueError):
    """The directory cannot be shown; the message says why, for the page."""


@dataclass
class SweepView:
    """A sweep directory: its manifest, progress and tables."""

    path: Path
    manifest: dict[str, Any]
    status: dict[str, Any]
    runs: pd.DataFrame
    metrics: pd.DataFrame

    @property
    def name(self) -> str:
        return str(self.status.get("scenario") or self.path.name)

    def cells(self) -> pd.DataFrame:
        """One row per technology type and regime: runs, failures, breakthrough share."""
        runs = self.runs
        if runs.empty:
            return pd.DataFrame(columns=["technology", "regime", "runs"])
        grouped = runs.groupby(["technology", "regime"], sort=True, observed=True)
        out = grouped.size().rename("runs").to_frame()
        out["failed"] = grouped["status"].agg(lambda s: int((s != "ok").sum()))
        for column in ("broke_through", "p_breakthrough", "best_fitness", "spillover_share"):
            if column in runs:
                out[column] = grouped[column].mean().round(3)
        return out.reset_index()

    def run_metrics(self, run_id: int) -> pd.DataFrame:
        """Per-tick metrics of one run, one column per metric."""
        return metrics_wide(self.metrics[self.metrics["run_id"] == run_id])


@dataclass
class PropositionsView:
    """A propositions directory: verdicts, report, figures and its sweeps."""

    path: Path
    manifest: dict[str, Any]
    verdicts: pd.DataFrame
    report_md: str
    figures: list[Path]
    sweeps: dict[str, SweepView] = field(default_factory=dict)


def read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not file.is_file():
        raise ResultsError(
            f"{path} is not a kctsim results directory: it has no {MANIFEST}. "
            "Open a sweep directory (kctsim sweep) or a propositions results directory."
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{file} cannot be read as JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ResultsError(f"{file} is not a kctsim manifest (not a JSON object)")
    return manifest


def open_results(path: str | Path) -> SweepView | PropositionsView:
    """Open a sweep or propositions results directory.

    Raises:
        ResultsError: the path is missing, not a directory, or not one of the two kinds.
    """
    text = str(path).strip()
    if not text:
        raise ResultsError("Give the path of a results directory.")
    directory = Path(text).expanduser()
    if not directory.exists():
        raise ResultsError(f"No such directory: {directory}")
    if not directory.is_dir():
        raise ResultsError(f"{directory} is a file; give a results directory")
    manifest = read_manifest(directory)
    kind = manifest.get("format")
    if kind == SWEEP_FORMAT:
        return open_sweep(directory)
    if kind == PROPOSITIONS_FORMAT:
        return open_propositions(directory, manifest)
    if kind is None and "technology" in manifest:
        raise ResultsError(
            f"{directory} holds a single run (kctsim run); the results page opens sweep "
            "and propositions directories"
        )
    raise ResultsError(
        f"{directory}: unknown results format {kind!r}; expected {SWEEP_FORMAT!r} or "
        f"{PROPOSITIONS_FORMAT!r}"
    )


def open_sweep(directory: Path) -> SweepView:
    try:
        # The ledger (tens of thousands of rows per run) is not shown: not read.
        tables = load_results(directory, tables=("runs", "metrics"))
        status = sweep_status(directory)
    except Exception as exc:  # a corrupt or half-copied sweep: say so, do not crash
        raise ResultsError(f"{directory}: cannot read the sweep ({exc})") from exc
    return SweepView(directory, read_manifest(directory), status, tables["runs"], tables["metrics"])


def open_propositions(directory: Path, manifest: dict[str, Any]) -> PropositionsView:
    try:  # as `kctsim report`: only complete, intact sweeps are shown
        check_sweeps_complete(directory, manifest)
    except PropositionsDirError as exc:
        raise ResultsError(f"{directory}: {exc}") from exc
    verdict_file = directory / "verdicts.csv"
    if not verdict_file.is_file():
        raise ResultsError(f"{directory}: propositions directory without verdicts.csv")
    try:
        verdicts = pd.read_csv(verdict_file)
    except Exception as exc:
        raise ResultsError(f"{verdict_file} cannot be read: {exc}") from exc
    missing = [c for c in VERDICT_COLUMNS if c not in verdicts.columns]
    if missing:
        raise ResultsError(f"{verdict_file}: missing columns {', '.join(missing)}")
    report = directory / "report.md"
    report_md = report.read_text(encoding="utf-8") if report.is_file() else ""
    figures = sorted((directory / "figures").glob("*.png"))
    if not (directory / SUITE / MANIFEST).is_file():
        raise ResultsError(f"{directory}: propositions directory without its {SUITE}/ sweep")
    sweeps = {SUITE: open_sweep(directory / SUITE)}
    for manifest_file in sorted((directory / ROBUSTNESS).glob(f"*/{MANIFEST}")):  # one per type
        sub = manifest_file.parent
        sweeps[f"{ROBUSTNESS}/{sub.name}"] = open_sweep(sub)
    for manifest_file in sorted((directory / ABLATION).glob(f"*/{MANIFEST}")):  # one per type
        sweeps[f"{ABLATION}/{manifest_file.parent.name}"] = open_sweep(manifest_file.parent)
    return PropositionsView(directory, manifest, verdicts, report_md, figures, sweeps)


DEFAULT_RESULTS = Path("results/propositions")
"""What ``make run`` writes: the Results page opens it when it is there."""


def default_results_dir(candidate: str | Path = DEFAULT_RESULTS) -> str:
    """``candidate`` if it holds a finished propositions directory, else ``""`` (nothing)."""
    try:
        manifest = json.loads((Path(candidate) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    is_propositions = isinstance(manifest, dict) and manifest.get("format") == PROPOSITIONS_FORMAT
    return str(candidate) if is_propositions else ""


def find_result_dirs(root: str | Path = "results") -> list[str]:
    """Sweep and propositions directories under ``root`` (two levels deep), for a quick pick."""
    root = Path(root)
    found: list[tuple[Path, str]] = []
    if not root.is_dir():
        return found
    for manifest in sorted([*root.glob("*/manifest.json"), *root.glob("*/*/manifest.json")]):
        try:
            kind = json.loads(manifest.read_text(encoding="utf-8")).get("format")
        except (OSError, ValueError, AttributeError):
            continue
        if kind in (SWEEP_FORMAT, PROPOSITIONS_FORMAT):
            found.append((manifest.parent, kind))
    # A propositions directory's own sweeps (suite/, robustness/) are browsed from it.
    parents = {path for path, kind in found if kind == PROPOSITIONS_FORMAT}
    return [str(path) for path, _ in found if path.parent not in parents]
