"""kctsim.jit: numba's disk cache keyed by the kernel sources' digest, via NUMBA_CACHE_DIR."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kctsim import jit


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A temporary copy of the kctsim package's Python files."""
    copy = tmp_path / "kctsim"
    shutil.copytree(
        jit.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data")
    )
    return copy


def test_digest_covers_kernel_modules_only():
    names = {p.relative_to(jit.PACKAGE).as_posix() for p in jit.kernel_sources()}
    assert {"streams.py", "_ziggurat.py", "jit.py", "kernels.py", "__init__.py"} <= names
    assert any(name.startswith("mechanisms/") for name in names)
    for name in names:
        assert name.split("/")[0] not in jit.EXCLUDED
        assert name.endswith(".py")


def test_digest_of_a_copy_is_the_packages(package):
    assert jit.sources_digest(package) == jit.sources_digest()


@pytest.mark.parametrize("name", ["streams.py", "_ziggurat.py", "kernels.py", "mechanisms"])
def test_digest_changes_with_any_included_module(package, name):
    before = jit.sources_digest(package)
    path = package / name
    if path.is_dir():
        path = sorted(path.glob("*.py"))[-1]
    path.write_text(path.read_text() + "\n# changed\n")
    assert jit.sources_digest(package) != before


def test_digest_changes_with_a_new_or_renamed_module(package):
    before = jit.sources_digest(package)
    (package / "helpers_new.py").write_text("X = 1\n")
    added = jit.sources_digest(package)
    assert added != before
    (package / "helpers_new.py").rename(package / "helpers_other.py")
    assert jit.sources_digest(package) not in (before, added)


@pytest.mark.parametrize("name", ["cli.py", "dashboard", "report", "analysis", "experiment"])
def test_digest_ignores_excluded_parts(package, name):
    before = jit.sources_digest(package)
    path = package / name
    if path.is_dir():
        path = path / "anything_new.py"
        path.write_text("Y = 2\n")
    else:
        path.write_text(path.read_text() + "\n# changed\n")
    assert jit.sources_digest(package) == before


def test_default_cache_dir_is_per_user_and_keyed(monkeypatch, tmp_path, package):
    for name in ("XDG_CACHE_HOME", "LOCALAPPDATA", "HOME"):
        monkeypatch.setenv(name, str(tmp_path / "xdg"))
    path = jit.default_cache_dir(package)
    assert path.name.endswith("-" + jit.sources_digest(package)[:16])
    assert path.is_relative_to(tmp_path / "xdg")
    assert not path.is_relative_to(jit.PACKAGE)


def test_configure_cache_respects_a_user_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert jit.configure_cache() == tmp_path / "mine"
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")
    assert jit.cache_dir() == tmp_path / "mine"


def test_configure_cache_sets_the_keyed_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    for name in ("XDG_CACHE_HOME", "LOCALAPPDATA", "HOME"):
        monkeypatch.setenv(name, str(tmp_path))
    with pytest.warns(RuntimeWarning, match="before kctsim set NUMBA_CACHE_DIR"):
        path = jit.configure_cache()  # numba is already imported in this process
    assert path == jit.default_cache_dir() == jit.cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(path)
    assert path.is_dir() and path.is_relative_to(tmp_path)


_SCRIPT = """
import os, sys, warnings
sys.path.insert(0, {modules!r})
import importlib.util
spec = importlib.util.spec_from_file_location("kctsim_jit", {jit_file!r})
jit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jit)
warnings.simplefilter("error")
print(jit.configure_cache())
import cached_module
assert cached_module.f(2) == 3
"""


@pytest.mark.parametrize("user_set", [False, True])
def test_numba_caches_there(tmp_path, user_set):
    """End to end, in a fresh process: configure_cache before numba is imported, then a
    cache=True function is cached in that folder (or in the user's), not beside its
    source."""
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "cached_module.py").write_text(
        textwrap.dedent(
            """
            from numba import njit

            @njit(cache=True)
            def f(x):
                return x + 1
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    for name in ("XDG_CACHE_HOME", "LOCALAPPDATA", "HOME"):
        env[name] = str(tmp_path / "user-cache")
    if user_set:
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "users-own")
    script = _SCRIPT.format(modules=str(modules), jit_file=str(jit.PACKAGE / "jit.py"))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    where = Path(done.stdout.strip().splitlines()[-1])
    if user_set:
        assert where == tmp_path / "users-own"
    else:
        assert where.name.endswith("-" + jit.sources_digest()[:16])
        assert where.is_relative_to(tmp_path / "user-cache")
    assert list(where.rglob("cached_module.f-*.nbi"))
    assert not (modules / "__pycache__").exists() or not list(
        (modules / "__pycache__").glob("*.nbi")
    )
