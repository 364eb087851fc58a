"""The bundled font for the paper's Chinese terms (a subset of Noto Sans SC).

Many machines have no CJK font (Debian's chromium without ``fonts-noto-cjk``,
matplotlib's default DejaVu Sans), and the paper's terms then show as empty
boxes. kctsim ships a subset of Noto Sans CJK SC (SIL Open Font Licence 1.1)
holding only the characters kctsim shows: those of ``kctsim/data/names.toml``
and of the propositions' statements. The dashboard serves it with its static
assets (``kctsim/dashboard/public/``, at ``/static/assets/``); the figures register
it with matplotlib.

After adding Chinese text to either file, rebuild the subset from a full Noto
Sans CJK font (Debian: ``apt-get install fonts-noto-cjk``)::

    python -m kctsim.fonts [PATH-TO-NotoSansCJK-Regular.ttc]

``tests/test_names.py`` fails while a character is missing from the subset.
"""

from __future__ import annotations

import sys
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

FAMILY = "Noto Sans SC kctsim"
"""The subset's family name (its own, so it never shadows a full installed Noto)."""

FILE = "noto-sans-sc-kctsim.otf"
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_FACE = "Noto Sans CJK SC"


def font_path() -> Path:
    """The bundled subset, served by the dashboard at ``/static/assets/<FILE>``."""
    return Path(str(resources.files("kctsim").joinpath("dashboard", "public", FILE)))


def needed_characters() -> set[str]:
    """Every CJK character kctsim can show: names.toml and the propositions' statements."""
    from kctsim.names import chinese_characters

    chars = set(chinese_characters())
    text = resources.files("kctsim").joinpath("data", "propositions.toml").read_text("utf-8")
    for prop in tomllib.loads(text).values():
        chars.update(c for c in prop.get("statement", "") if ord(c) > 0x2E7F)
    return chars


def covered_characters(path: Path | None = None) -> set[str]:
    """The characters the font at ``path`` (default: the bundled one) has glyphs for."""
    from fontTools.ttLib import TTFont

    with TTFont(path or font_path()) as font:
        return {chr(c) for c in font.getBestCmap()}


@cache
def register_matplotlib() -> str:
    """Make the subset a fallback family of matplotlib's text; returns the family."""
    from matplotlib import font_manager, rcParams

    font_manager.fontManager.addfont(str(font_path()))
    families = list(rcParams["font.family"])
    if FAMILY not in families:
        # Matplotlib falls back glyph by glyph only across font.family's entries: Latin
        # text keeps the default font, CJK characters come from the subset.
        rcParams["font.family"] = [*families, FAMILY]
    return FAMILY


def build_subset(source: Path = SOURCE, out: Path | None = None) -> Path:
    """Write the subset of ``source`` (a Noto Sans CJK collection or font) to ``out``."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    if source.suffix.lower() == ".ttc":
        fonts = TTCollection(str(source)).fonts
        font = next(f for f in fonts if f["name"].getDebugName(1) == SOURCE_FACE)
    else:
        font = TTFont(str(source))
    chars = (
        needed_characters()
        | {chr(c) for c in range(0x20, 0x7F)}
        | set("“”‘’…、，。：；！？（）①②③④")
    )
    options = subset.Options()
    options.name_IDs = ["*"]
    options.layout_features = []  # no vertical forms or ligatures: short labels only
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(chars)))
    subsetter.subset(font)
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 4, 16):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName(
                FAMILY.replace(" ", ""), 6, record.platformID, record.platEncID, record.langID
            )
    target = out or font_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(target))
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else SOURCE
    if not source.is_file():
        print(f"kctsim: error: no Noto Sans CJK font at {source}", file=sys.stderr)
        return 1
    path = build_subset(source)
    size, count = path.stat().st_size // 1024, len(covered_characters(path))
    print(f"wrote {path} ({size} KiB, {count} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
