"""docs/levers.md is what docs/lever_reference.py makes of the lever table and presets."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lever_page_is_current():
    spec = importlib.util.spec_from_file_location(
        "lever_reference", ROOT / "docs/lever_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = "docs/levers.md is stale: run .venv/bin/python docs/lever_reference.py"
    assert (ROOT / "docs" / "levers.md").read_text("utf-8") == module.page(), stale
