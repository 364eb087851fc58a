"""Every notebook runs top to bottom in a fresh kernel on its small setting.

The notebooks' source of truth is the jupytext percent script ``notebooks/NN_name.py``
(notebooks/README.md). Each is read with jupytext, its cell tagged ``parameters``
is followed by an injected cell (as papermill does) that sets ``SETTING = "small"``
and sends the output to a temporary directory, and it is executed with nbclient
in a new kernel of this interpreter, from the ``notebooks/`` folder as Jupyter
would. A notebook passes when no cell raises and it wrote its figures, PNG and
SVG, under ``<results>/figures/<notebook>/``. New notebooks are picked up by name.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_FILES = sorted(p for p in NOTEBOOKS.glob("*.py") if re.match(r"\d\d_\w+\.py$", p.name))
KERNEL = "kctsim-test-python"
CELL_TIMEOUT = 600  # seconds per cell: a hung cell fails instead of stalling the suite


def _parameter_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    ]


def _with_parameters(nb: nbformat.NotebookNode, **values: object) -> nbformat.NotebookNode:
    """The notebook with a cell setting ``values`` right after its parameters cell."""
    (index,) = _parameter_cells(nb)
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
    return nb


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A kernel spec for this very interpreter (not whatever 'python3' a user installed)."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kctsim test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))  # searched before user and system paths
        yield KERNEL


def test_notebooks_are_discovered():
    assert [p.stem for p in NOTEBOOK_FILES][:1] == ["01_quickstart"]
    assert len(NOTEBOOK_FILES) >= 4


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_notebook_has_one_parameters_cell_with_setting(path: Path):
    nb = jupytext.read(path)
    cells = _parameter_cells(nb)
    assert len(cells) == 1, f"{path.name}: exactly one code cell must be tagged 'parameters'"
    source = nb.cells[cells[0]].source
    for name in ("SETTING", "RESULTS_DIR"):
        assert re.search(rf"^{name} = ", source, re.M), f"{path.name}: no {name} in parameters"


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_notebook_runs_on_small_setting_and_writes_figures(path: Path, tmp_path, kernel_name):
    nb = _with_parameters(jupytext.read(path), SETTING="small", RESULTS_DIR=str(tmp_path))
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell that failed
    elapsed = time.perf_counter() - started

    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    figures = tmp_path / "figures" / path.stem
    pngs = sorted(figures.glob("*.png"))
    assert pngs, f"{path.name} wrote no figures to {figures}"
    for png in pngs:
        assert png.stat().st_size > 0
        assert png.with_suffix(".svg").is_file(), f"{png.name} has no SVG twin"
    print(f"{path.stem}: {elapsed:.1f} s on the small setting, {len(pngs)} figures")
