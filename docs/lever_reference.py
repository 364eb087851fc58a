"""Generate docs/levers.md from the lever table and the regime presets.

The levers are described once, in ``kctsim/data/levers.toml``; the presets set them in
``kctsim/data/regimes/``. This page shows both side by side. ``tests/test_docs.py``
fails when the page is stale:

    .venv/bin/python docs/lever_reference.py           # rewrite docs/levers.md
    .venv/bin/python docs/lever_reference.py --check   # exit 1 if docs/levers.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from kctsim.config import LEVER_GROUPS, LEVERS, load_regime, regime_names

PAGE = Path(__file__).resolve().parent / "levers.md"


def _value(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(f"{v:g}" for v in value) if value else "even"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _allowed(name: str) -> str:
    lever = LEVERS[name]
    if lever.kind == "number":
        return f"{lever.range[0]:g} to {lever.range[1]:g}"
    if lever.kind == "choice":
        return ", ".join(lever.choices)
    return "weights per stage (normalised)"


def page() -> str:
    """The whole page, as Markdown."""
    regimes = regime_names()
    presets = {r: load_regime(r).as_dict() for r in regimes}
    lines = [
        "# Levers",
        "",
        "Generated from [`kctsim/data/levers.toml`](../kctsim/data/levers.toml) and the",
        "presets in [`kctsim/data/regimes/`](../kctsim/data/regimes/) by",
        "`docs/lever_reference.py`; do not edit by hand. A regime that does not set a lever",
        "takes its default, which switches the lever off. Why each preset has its values:",
        "[the ODD, section 2.5](ODD.md#25-levers-regimes).",
        "",
    ]
    for group, names in LEVER_GROUPS.items():
        lines += [f"## {group}", ""]
        for name in names:
            lever = LEVERS[name]
            unit = f" ({lever.unit})" if lever.unit else ""
            lines += [
                f"**{lever.label}** (`{name}`){unit}: {lever.description}",
                f"Allowed: {_allowed(name)}; default {_value(lever.default)}.",
                "",
            ]
        lines += ["| lever | " + " | ".join(regimes) + " |"]
        lines += ["|---|" + "---|" * len(regimes)]
        for name in names:
            row = " | ".join(_value(tuple(v) if isinstance(v := presets[r][name], list) else v)
                             for r in regimes)  # fmt: skip
            lines += [f"| `{name}` | {row} |"]
        lines += [""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = page()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text("utf-8") != text:
            print(f"{PAGE.name} is stale: run .venv/bin/python docs/lever_reference.py")
            return 1
        print(f"{PAGE.name} is current")
        return 0
    PAGE.write_text(text, "utf-8")
    print(f"{PAGE.name}: written ({len(LEVERS)} levers)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
