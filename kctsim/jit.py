"""numba options of kctsim's kernels, and numba's disk cache through documented means only.

Every kernel is compiled with :data:`JIT` (``cache=True``: compiled once per machine and
kept on disk). numba's documentation names two limits of that cache which matter here:
a cached function is invalidated only by a change to *its own* source file, not to the
helpers it compiles in from other modules, and global constants are frozen at compile
time. A kctsim kernel compiles in helpers and constants from several modules
(``kctsim.streams``, ``kctsim._ziggurat``, ``kctsim.kernels``, the mechanisms ...), so
after a change to a helper alone numba would go on loading the old machine code.

Instead of numba's private locator classes, :func:`configure_cache` sets numba's
documented ``NUMBA_CACHE_DIR`` to a per-user folder keyed by a digest of the source of
every kctsim module that can reach a kernel (:func:`kernel_sources`): any change to one
of them selects a new, empty folder, so nothing stale can be loaded. It also keeps the
cache out of the installed package (numba's default is ``__pycache__`` beside the
source).

**Constraint: call it before numba is imported.** numba reads ``NUMBA_CACHE_DIR`` when
it is imported (its configuration module) and then again only at the start of a
compilation, while a function's cache folder is fixed when its ``@njit(cache=True)``
decorator runs. Setting the variable after ``import numba`` therefore does not move the
cache of functions defined before the next compilation (checked on numba 0.68: they go
on to ``__pycache__``). ``kctsim/__init__.py`` calls it first thing, before any import
that imports numba. This module itself never imports numba.

A ``NUMBA_CACHE_DIR`` set by the user is left as it is (it is process-wide, and another
library's cache may live there); kctsim's kernels are then cached there without the
digest key, so clear that folder after changing kctsim's code.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

JIT = {"cache": True, "nogil": True}
"""Options of every kctsim kernel: compiled once per machine and cached on disk."""

PACKAGE = Path(__file__).resolve().parent
"""The kctsim package folder whose modules are digested."""

EXCLUDED = frozenset({"analysis", "dashboard", "experiment", "report", "cli.py", "__main__.py"})
"""Top-level parts of the package left out of the digest: the dashboard, reports,
analyses, experiment runner and command line only drive runs and read results; no kernel
calls or compiles their code, so a change there must not throw the compiled kernels
away. Every other ``.py`` file counts, whether or not it defines a kernel today (a
constant or helper that reaches a kernel can live in any of them). The package data
(``kctsim/data/**/*.toml``) are not digested: they are runtime inputs that kernels
receive as arguments, never constants compiled into them."""

CACHE_ENV = "NUMBA_CACHE_DIR"


def kernel_sources(package: Path = PACKAGE) -> list[Path]:
    """Every ``.py`` file of ``package`` that can reach a kernel (all but :data:`EXCLUDED`),
    in a platform-independent order."""
    paths = [
        path
        for path in package.rglob("*.py")
        if path.relative_to(package).parts[0] not in EXCLUDED
        and "__pycache__" not in path.relative_to(package).parts
    ]
    return sorted(paths, key=lambda path: path.relative_to(package).as_posix())


def sources_digest(package: Path = PACKAGE) -> str:
    """SHA-256 (hex) of the names and bytes of :func:`kernel_sources`."""
    digest = hashlib.sha256()
    for path in kernel_sources(package):
        data = path.read_bytes()
        name = path.relative_to(package).as_posix()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def user_cache_root() -> Path:
    """The per-user cache folder of kctsim: ``%LOCALAPPDATA%\\kctsim`` on Windows,
    ``~/Library/Caches/kctsim`` on macOS, else ``$XDG_CACHE_HOME/kctsim`` (an absolute
    XDG_CACHE_HOME) or ``~/.cache/kctsim``."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "kctsim"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "kctsim"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "kctsim"


def default_cache_dir(package: Path = PACKAGE) -> Path:
    """``<user cache>/numba/<numba version>-<first 16 hex digits of sources_digest>``:
    two numba releases on one machine do not overwrite each other's kernels."""
    try:
        numba = metadata.version("numba")  # read without importing numba (see above)
    except metadata.PackageNotFoundError:
        numba = "unknown"
    return user_cache_root() / "numba" / f"{numba}-{sources_digest(package)[:16]}"


def cache_dir() -> Path:
    """The folder numba caches kctsim's kernels in: a user's ``NUMBA_CACHE_DIR``, or
    :func:`default_cache_dir` (what :func:`configure_cache` sets)."""
    user = os.environ.get(CACHE_ENV, "")
    return Path(user) if user else default_cache_dir()


def configure_cache() -> Path:
    """Set ``NUMBA_CACHE_DIR`` to :func:`default_cache_dir` unless it is already set, and
    return the folder in force. Call before numba is imported (see the module's notes).

    If the per-user folder cannot be created (a read-only home), a folder of the same
    name under the system's temporary folder is used, so that numba never falls back to
    writing into the installed package."""
    user = os.environ.get(CACHE_ENV, "")
    if user:
        return Path(user)
    path = default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"kctsim-{_user_tag()}" / "numba" / path.name
    os.environ[CACHE_ENV] = str(path)
    if "numba" in sys.modules:
        warnings.warn(
            "numba was imported before kctsim set NUMBA_CACHE_DIR; numba reads it at "
            "import, so kctsim's kernels may be cached beside their sources instead "
            f"of in {path} (import kctsim before anything that imports numba)",
            RuntimeWarning,
            stacklevel=2,
        )
    return path


def _user_tag() -> str:
    """A name for the current user, for a shared temporary folder."""
    try:
        return str(os.getuid())
    except AttributeError:  # Windows
        return os.environ.get("USERNAME", "user")
