"""MkDocs hooks: the repository's own Markdown as the documentation site.

The pages a reader of the repository already has (README.md, scenarios/README.md,
results/README.md, the CLI reference) are added to the site as they are, without
copies in docs/; the notebooks are mounted by mkdocs-jupyter (mkdocs.yml). Their
links are written for GitHub, relative to where each file lives in the
repository, so every relative link is pointed again:

* at the site's page when the target is one of the site's pages;
* at nothing when the target is a repository file that is not a page (a source
  file, a data folder): the link becomes its path in code type, which a reader
  can open in the checkout;
* it is left alone when the target does not exist, so ``mkdocs build --strict``
  fails on it, as it should.

The bundled Noto Sans SC subset goes into the site too (docs/assets/site.css uses
it), so the paper's Chinese terms are drawn on machines without a CJK font.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]

# Repository path -> the site's page for it; docs/*.md are pages under their own names.
PAGES = {
    "README.md": "index.md",
    "scenarios/README.md": "scenarios.md",
    "results/README.md": "results.md",
}
CLI_PAGE = "cli.md"
FONT = ROOT / "kctsim" / "dashboard" / "public" / "noto-sans-sc-kctsim.otf"
ARCHITECTURE = "ARCHITECTURE.md"

LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)")


def on_config(config):
    # docs/ARCHITECTURE.md is the lead's to write: its nav entry shows once it exists.
    if not (ROOT / "docs" / ARCHITECTURE).is_file():
        config["nav"] = _without(config["nav"], ARCHITECTURE)
    return config


def _without(nav, page: str):
    out = []
    for item in nav:
        if isinstance(item, dict):
            ((title, value),) = item.items()
            if value == page:
                continue
            out.append({title: _without(value, page)} if isinstance(value, list) else item)
        elif item != page:
            out.append(item)
    return out


def on_files(files: Files, config) -> Files:
    for source, page in PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / source)))
    files.append(File.generated(config, CLI_PAGE, content=_cli_page()))
    files.append(File.generated(config, "assets/" + FONT.name, abs_src_path=str(FONT)))
    # The notebooks' folder is mounted whole: its helper module, the jupytext settings
    # and any local .ipynb copies are not pages.
    for file in list(files):
        if file.src_uri.startswith("notebooks/") and (
            file.src_uri.endswith((".ipynb", ".toml")) or file.src_uri == "notebooks/nbtools.py"
        ):
            files.remove(file)
    return files


def _cli_page() -> str:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import cli_reference
    finally:
        sys.path.pop(0)
    return "# Command-line reference\n" + cli_reference.render()


def _repo_path(file: File) -> str | None:
    """Where the page's Markdown lives in the repository (POSIX, relative to it)."""
    if file.abs_src_path:
        try:
            return Path(file.abs_src_path).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            return None
    return "docs/" + file.src_uri


def _site_page(repo_path: str) -> str | None:
    if repo_path in PAGES:
        return PAGES[repo_path]
    if repo_path.startswith("docs/") and repo_path.endswith(".md"):
        return repo_path.removeprefix("docs/")
    if repo_path.startswith("notebooks/") and (
        repo_path.endswith(".md") or re.match(r"notebooks/\d\d_\w+\.py$", repo_path)
    ):
        return repo_path
    return None


def on_page_markdown(markdown: str, page, config, files):
    here = _repo_path(page.file)
    if here is None:
        return markdown
    here_dir = posixpath.dirname(here)
    page_dir = posixpath.dirname(page.file.src_uri)

    def repoint(match: re.Match) -> str:
        text, target = match["text"], match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
            return match[0]  # absolute URL, same-page anchor or site-absolute: as written
        path, _, anchor = target.partition("#")
        repo = posixpath.normpath(posixpath.join(here_dir, path)).rstrip("/")
        page_for = _site_page(repo)
        if page_for is not None:
            link = posixpath.relpath(page_for, page_dir or ".")
            return f"[{text}]({link}{'#' + anchor if anchor else ''})"
        if (ROOT / repo).exists():
            bare = text.strip("`").rstrip("/")
            return f"`{repo}`" if bare in (repo, path.rstrip("/")) else f"{text} (`{repo}`)"
        return match[0]  # a broken link: left for MkDocs to report

    return LINK.sub(repoint, markdown)


MATHJAX_LOADER = re.compile(r'<script data-mkdocs-jupyter-mathjax="[^"]*">.*?</script>\n?', re.S)


def on_post_page(output: str, page, config) -> str:
    # mkdocs-jupyter adds a MathJax loader to every page, which fetches MathJax from a CDN
    # once a notebook is shown; the notebooks hold no LaTeX, and the site must work offline.
    return MATHJAX_LOADER.sub("", output)
