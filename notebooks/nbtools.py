"""Small helpers shared by the notebooks: where output goes, figures, derived scenarios.

The notebooks call kctsim's own functions (``run_model``, ``load_scenario``,
``run_sweep``, ``load_results``), the same ones the command line uses; this
module only holds what is particular to a notebook: finding the repository,
saving figures as PNG and SVG under ``results/figures/<notebook>/``, writing a
shipped scenario back as TOML text with a few values changed (so the sweep's
manifest records exactly what ran), and running a sweep into a directory of
its own.
"""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd

from kctsim.experiment.runner import run_sweep
from kctsim.experiment.scenario import Scenario, parse_scenario
from kctsim.experiment.store import FORMAT, MANIFEST, OLD_FORMATS, load_results

FIGURE_FORMATS = ("png", "svg")


def repo_root(start: str | Path | None = None) -> Path:
    """The kctsim checkout that holds ``start`` (default: the current directory).

    A notebook runs with its own folder as the current directory, a script
    from wherever it is called; both find the repository by walking up to the
    ``pyproject.toml`` next to ``scenarios/``.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "scenarios").is_dir():
            return folder
    raise FileNotFoundError(f"no kctsim checkout (pyproject.toml + scenarios/) above {here}")


def results_dir(value: str | Path | None = None) -> Path:
    """``value`` as a directory path, or the repository's ``results/`` when it is None."""
    return Path(value) if value is not None else repo_root() / "results"


def figure_saver(results: Path, notebook: str) -> Callable[[Any, str], None]:
    """A function ``save(fig, name)`` writing ``<results>/figures/<notebook>/<name>.png|svg``."""
    folder = Path(results) / "figures" / notebook
    folder.mkdir(parents=True, exist_ok=True)

    def save(fig: Any, name: str) -> None:
        # Returns nothing: a notebook cell ending in save(...) shows the figure, not a path list.
        paths = [folder / f"{name}.{ext}" for ext in FIGURE_FORMATS]
        # Text stays text in the SVG: smaller, editable, and several times faster to write.
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            for path in paths:
                fig.savefig(path, dpi=120 if path.suffix == ".png" else None)

    return save


# ------------------------------------------------------------ derived scenarios


def read_toml(path: str | Path) -> dict[str, Any]:
    """A scenario file as plain data (``tomllib``)."""
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def toml_dumps(data: Mapping[str, Any]) -> str:
    """TOML text for plain scenario data: strings, numbers, booleans, arrays, tables.

    Enough for scenario files (tables, arrays of scalars or of arrays, arrays
    of tables); comments of the original file are not kept.
    """
    lines: list[str] = []
    _write_table(lines, data, ())
    return "\n".join(lines).strip() + "\n"


def _write_table(lines: list[str], table: Mapping[str, Any], path: tuple[str, ...]) -> None:
    scalars = {k: v for k, v in table.items() if not _is_table(v) and not _is_table_array(v)}
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if _is_table(value):
            lines += ["", f"[{'.'.join(_key(k) for k in (*path, key))}]"]
            _write_table(lines, value, (*path, key))
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{'.'.join(_key(k) for k in (*path, key))}]]"]
                _write_table(lines, item, (*path, key))


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML scenario values must be finite, got {value}")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML scenario value")


def derived_scenario(path: str | Path, data: Mapping[str, Any], name: str) -> Scenario:
    """Validate ``data`` (a changed copy of the file at ``path``) as a scenario called ``name``.

    Relative data files (``[cells] file``) are read next to the original file.
    """
    data = {**data, "name": name}
    path = Path(path)
    return parse_scenario(toml_dumps(data), f"{name} (from {path.name})", base_dir=path.parent)


# ------------------------------------------------------------------ sweeps


def sweep(
    scenario: Scenario,
    out_dir: str | Path,
    workers: int = 1,
    resume: bool = False,
    progress: bool = False,
    tables: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run every run of ``scenario`` into ``out_dir`` and return :func:`load_results`
    of ``tables`` (default: every table the sweep records; large sweeps: read only
    what is needed, or query with ``kctsim.open_results``).

    With ``resume`` an unfinished (or finished) sweep of the same scenario text
    in ``out_dir`` is continued (only missing runs run); without it an earlier
    kctsim sweep there is removed first, so the tables always come from the
    code as it is now. A directory that is not a kctsim sweep is never removed.
    ``workers == 1`` runs in this process; more use a local process pool.
    ``progress`` shows the sweep's progress bar (worth it for long sweeps).
    """
    out_dir = Path(out_dir)
    manifest = out_dir / MANIFEST
    if not resume and manifest.is_file():
        if json.loads(manifest.read_text(encoding="utf-8")).get("format") not in (
            FORMAT,
            *OLD_FORMATS,
        ):
            raise FileExistsError(f"{out_dir} holds something other than a kctsim sweep")
        shutil.rmtree(out_dir)
    report = run_sweep(
        scenario.runs(),
        scenario.meta(),
        out_dir,
        executor="sequential" if workers == 1 else "processes",
        workers=workers,
        resume=True,
        progress=progress,
    )
    if report.failed:
        raise RuntimeError(f"{report.n_failed} runs failed:\n{report.summary()}")
    return load_results(out_dir, tables=tables)
