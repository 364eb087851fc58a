"""Provenance of a sweep: digests of everything that determines its runs.

The manifest of a sweep records the SHA-256 of the scenario text, of every data file
the scenario reads (a ``[cells]`` CSV), of the package's data files (regime presets,
technology types, defaults, calibration) and of the model's code, file by file, so
that ``--resume`` can refuse to mix runs of two versions and name what changed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kctsim
from kctsim import files

# Everything a run's numbers depend on besides the scenario and its data files:
# the package's data and the code of the model (not the CLI, analysis, report or
# dashboard, which only read results).
PACKAGE = Path(kctsim.__file__).resolve().parent
_DATA_PATTERNS = ("data/**/*.toml", "data/**/*.csv")
_CODE_PATTERNS = ("*.py", "mechanisms/**/*.py", "experiment/spec.py")
_NOT_MODEL_CODE = ("__init__.py", "__main__.py", "cli.py", "files.py")


def provenance(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Digests of everything that determines a run: the scenario text, the data files
    it reads, the package's data files and the model's code (per file)."""
    code = {
        k: v
        for k, v in files.sha256_tree(PACKAGE, _CODE_PATTERNS).items()
        if k not in _NOT_MODEL_CODE
    }
    return {
        "scenario": meta.get("hash"),
        "data_files": dict(meta.get("data_files") or {}),
        "package_data": files.sha256_tree(PACKAGE, _DATA_PATTERNS),
        "model_code": code,
    }


def provenance_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """What differs between two provenance records, in a few words (None if nothing)."""
    if old.get("scenario") != new.get("scenario"):
        return "the scenario text"
    labels = {
        "data_files": "the data file {}",
        "package_data": "the package data file kctsim/{}",
        "model_code": "the model code kctsim/{}",
    }
    for key, label in labels.items():
        before, after = old.get(key, {}), new.get(key, {})
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        if changed:
            more = f" and {len(changed) - 3} more files" if len(changed) > 3 else ""
            return ", ".join(label.format(k) for k in changed[:3]) + more
    return None


def git_state() -> tuple[str | None, bool | None]:
    """The commit of the kctsim source tree and whether it has local changes (None if no git)."""
    where = PACKAGE
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return commit.stdout.strip(), dirty
