"""A small document model rendered to Markdown and to self-contained HTML.

The report is a list of blocks (headings, paragraphs, tables, figures); one
list renders to both formats, so report.md and report.html always agree.
Figures are linked from Markdown and embedded (base64 PNG) in HTML.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str  # plain text; `code` spans and **bold** are kept in both formats


@dataclass
class Table:
    frame: pd.DataFrame


@dataclass
class Figure:
    path: Path  # the PNG, relative to the report's directory
    caption: str


@dataclass
class Box:
    """A set-off note (a quote block in Markdown, an aside in HTML)."""

    title: str
    paragraphs: list[str]


Block = Heading | Paragraph | Table | Figure | Box


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Table):
            out.append(_markdown_table(block.frame))
        elif isinstance(block, Box):
            lines = [f"**{block.title}**", *block.paragraphs]
            out.append("\n>\n".join(f"> {line}" for line in lines))
        else:
            out.append(f"![{block.caption}]({block.path.as_posix()})\n\n*{block.caption}*")
        out.append("")
    return "\n".join(out)


def _markdown_table(frame: pd.DataFrame) -> str:
    cells = frame.astype(str).map(lambda s: s.replace("|", "\\|"))
    lines = [
        "| " + " | ".join(map(str, frame.columns)) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; }
figure { margin: 1.5em 0; }
figcaption { font-style: italic; color: #555; }
code { background: #f5f5f5; padding: 0 0.2em; }
aside { border-left: 4px solid #4a7ab0; background: #f4f8fc; padding: 0.4em 1em; margin: 1em 0; }
"""


def _inline(text: str) -> str:
    """Escape, then turn `code` and **bold** into HTML (the only markup used)."""
    escaped = html.escape(text)
    parts = escaped.split("`")
    escaped = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def to_html(blocks: list[Block], title: str, base: Path) -> str:
    """Self-contained HTML: figures are read from ``base / path`` and embedded."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_inline(str(c))}</th>" for c in block.frame.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline(str(v))}</td>" for v in row) + "</tr>"
                for row in block.frame.itertuples(index=False)
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Box):
            paragraphs = "".join(f"<p>{_inline(p)}</p>" for p in block.paragraphs)
            body.append(f"<aside><h3>{_inline(block.title)}</h3>{paragraphs}</aside>")
        else:
            data = base64.b64encode((base / block.path).read_bytes()).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(block.caption)}" '
                f'src="data:image/png;base64,{data}"><figcaption>'
                f"{_inline(block.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
