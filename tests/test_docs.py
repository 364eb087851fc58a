"""The documentation cannot go stale: CLI reference, links, scenario keys.

* README.md's command-line reference is exactly what ``docs/cli_reference.py``
  renders from the live ``--help`` of every subcommand;
* every relative link in the README files and docs resolves to a file in the
  repository (and, for a link to a Markdown heading, to that heading);
* every key a scenario file may hold is named in README.md's scenario table.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kctsim.experiment import scenario as scenario_module

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = sorted(
    {
        README,
        *ROOT.glob("docs/*.md"),
        *(
            ROOT / name
            for name in (
                "scenarios/README.md",
                "notebooks/README.md",
                "benchmarks/README.md",
                "results/README.md",
            )
            if (ROOT / name).is_file()
        ),
    }
)


def _cli_reference():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "docs/cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------ CLI reference


def test_readme_cli_reference_matches_live_help():
    ref = _cli_reference()
    block = ref.current_block(README.read_text(encoding="utf-8"))
    assert block == ref.render(), (
        "README.md's command-line reference differs from `kctsim ... --help`; "
        f"regenerate it with: {ref.REFRESH}"
    )


def test_cli_reference_has_every_subcommand():
    ref = _cli_reference()
    from kctsim.cli import build_parser

    names = list(ref.subcommands(build_parser()))
    assert {"run", "sweep", "export"} <= set(names)
    block = ref.current_block(README.read_text(encoding="utf-8"))
    for name in names:
        assert f"### `kctsim {name} --help`" in block, (
            f"README.md lacks `kctsim {name} --help`; regenerate it with: {ref.REFRESH}"
        )


def test_rendered_help_is_what_the_command_prints():
    """The in-process rendering equals the real command's output at the same width."""
    ref = _cli_reference()
    env = {**os.environ, "COLUMNS": str(ref.WIDTH), "NO_COLOR": "1", "PYTHON_COLORS": "0"}
    printed = subprocess.run(
        [sys.executable, "-m", "kctsim", "run", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    ).stdout
    assert printed == ref.help_texts()["kctsim run"]


def test_stale_reference_is_detected(tmp_path):
    ref = _cli_reference()
    text = f"# x\n\n{ref.START}\nold text\n{ref.END}\n"
    assert ref.updated(text) != text
    assert ref.updated(ref.updated(text)) == ref.updated(text)
    with pytest.raises(ValueError):
        ref.current_block("# no markers\n")


# ------------------------------------------------------------------ links

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def _links(markdown: str) -> list[str]:
    text = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return _INLINE_LINK.findall(text) + _REFERENCE.findall(text)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: link text kept, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    for line in text.splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = github_slug(match.group(1))
            unique, n = slug, 1
            while unique in anchors:  # GitHub numbers repeated headings
                unique, n = f"{slug}-{n}", n + 1
            anchors.add(unique)
    return anchors


def test_github_slug_matches_githubs_rules():
    assert github_slug("Notes on README.md") == "notes-on-readmemd"
    assert github_slug("2.5 Levers (regimes)") == "25-levers-regimes"
    assert (
        github_slug("7.2 Funding — [`mechanisms/funding.py`](x.py)")
        == "72-funding--mechanismsfundingpy"
    )


def test_link_extraction_skips_code_and_external_targets():
    text = (
        "[a](x.md) `[b](y.md)` [c](https://e.org) ![d](img.png#top)\n"
        "```\n[e](z.md)\n```\n[r]: ref.md\n"
    )
    assert _links(text) == ["x.md", "https://e.org", "img.png#top", "ref.md"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path):
    broken = []
    for target in _links(document.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        path = (document.parent / path_part).resolve() if path_part else document
        if not path.exists() or not path.is_relative_to(ROOT):
            broken.append(f"{target} (no such file in the repository)")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target} (no heading with anchor #{anchor} in {path.name})")
    assert not broken, f"{document.relative_to(ROOT)}: broken links: {broken}"


# ---------------------------------------------------------- scenario keys


def test_readme_names_every_scenario_key():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Scenario files", 1)[1].split("\n## ", 1)[0]
    keys = {
        *scenario_module.TOP_KEYS,
        *scenario_module.DESIGN_KEYS,
        *scenario_module.CELLS_KEYS,
        *scenario_module.CUSTOM_TECHNOLOGY_KEYS,
    }
    missing = sorted(k for k in keys if f"`{k}`" not in section and f"[{k}" not in section)
    assert not missing, f"README.md's scenario table does not name: {missing}"
