"""Solara's browser assets, fetched from the npm registry into the local asset cache.

Solara's front end (the Vuetify app, requirejs, Font Awesome, KaTeX and
mermaid for Markdown) is normally proxied from a public CDN at first use. Where that CDN
is unreachable (CI, these machines) the page stays blank. Solara looks in
``<prefix>/share/solara/cdn/<package>@<version>/`` first, so this module puts
the exact versions the installed Solara asks for there, with ``npm pack``
(the npm registry is reachable where the CDN is not).

Run ``python -m kctsim.dashboard.assets`` (the Makefile does, before the tests).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import resources
from pathlib import Path


def cache_dir() -> Path:
    """Where this Solara looks for proxied CDN files."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def required_packages() -> list[str]:
    """``name@version`` of every npm package the dashboard's pages load through the CDN."""
    import ipyvue

    template = resources.files("solara.server").joinpath("templates/solara.html.j2").read_text()
    app = "solara-vuetify3-app" if ipyvue.__version__.startswith("3") else "solara-vuetify-app"
    found = [
        re.search(rf"@widgetti/{app}@[\w.\-]+", template),
        re.search(r"requirejs@[\w.\-]+", template),
    ]
    packages = [m.group(0) for m in found if m]
    # solara.Markdown loads KaTeX and mermaid through the CDN too.
    markdown = resources.files("solara.components").joinpath("markdown.py").read_text()
    packages += sorted(set(re.findall(r"getCdn\(\)\}/((?:katex|mermaid)@[\d.]+)", markdown)))
    fontawesome = re.search(r"font-awesome@[\w.\-]+", _fontawesome_path())
    if fontawesome:
        packages.append(fontawesome.group(0))
    return packages


def _fontawesome_path() -> str:
    from solara.server import settings

    return settings.assets.fontawesome_path if settings.assets.fontawesome_enabled else ""


def missing(packages: list[str] | None = None) -> list[str]:
    """Packages not yet in the cache."""
    root = cache_dir()
    return [p for p in packages or required_packages() if not (root / p).is_dir()]


def fetch(packages: list[str] | None = None) -> list[str]:
    """Fetch the missing packages into the cache; returns those fetched.

    Raises:
        RuntimeError: npm is not installed or a package cannot be fetched.
    """
    todo = missing(packages)
    if not todo:
        return []
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch Solara's browser assets (apt-get install npm)")
    root = cache_dir()
    for package in todo:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [npm, "pack", "--silent", package],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                raise RuntimeError(f"npm pack {package} failed: {out.stderr.strip()[-500:]}")
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            staging = Path(tmp) / "unpacked"
            with tarfile.open(tarball) as tar:
                tar.extractall(staging, filter="data")
            target = root / package
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staging / "package"), str(target))  # npm packs under package/
    return todo


def main() -> int:
    try:
        fetched = fetch()
    except RuntimeError as exc:
        print(f"kctsim: error: {exc}", file=sys.stderr)
        return 1
    if fetched:
        print(f"fetched Solara assets into {cache_dir()}: {', '.join(fetched)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
