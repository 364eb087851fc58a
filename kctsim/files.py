"""File helpers every writer of results shares: atomic writes, the time stamp, the
output-directory check, and file digests.

One copy of each, so that ``kctsim run``, ``sweep``, ``propositions`` and
``calibrate`` write and refuse in the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


class OutputDirError(FileExistsError):
    """The output directory holds files that this kctsim writer did not write there."""


def now() -> str:
    """The current UTC time, ISO 8601 to the millisecond (manifests and logs)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (a no-op where directories cannot be opened)."""
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str, write: Callable[[Any], None] | None = None) -> None:
    """Write ``path`` as a whole or not at all: a hidden temporary file in the same
    directory, fsynced, then renamed over ``path`` (atomic on POSIX), and the
    directory fsynced so that the rename survives a power cut.

    Args:
        path: the file to write.
        data: its contents (text is written as UTF-8); ignored when ``write`` is given.
        write: instead of ``data``, a function that writes into the open binary file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            if write is not None:
                write(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, data: Any) -> None:
    """:func:`write_atomic` of ``data`` as indented, strict JSON (no NaN)."""
    write_atomic(path, json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(root: Path, patterns: Iterable[str]) -> dict[str, str]:
    """SHA-256 of every file under ``root`` matching one of ``patterns``, by relative path."""
    root = Path(root)
    found = {p for pattern in patterns for p in root.glob(pattern) if p.is_file()}
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(found)}


def check_out_dir(
    out_dir: Path,
    ours: Callable[[Path], bool],
    what: str,
    scratch: Callable[[str], bool] = lambda name: False,
) -> bool:
    """Refuse an output directory that kctsim did not create; writes nothing.

    A directory may be written when it does not exist, is empty (scratch files
    aside), or ``ours(out_dir)`` says it holds results of this writer (the
    caller then decides about overwrite or resume).

    Args:
        out_dir: the directory.
        ours: whether the directory holds this writer's results (e.g. its manifest).
        what: what the writer writes, for the message (``a kctsim sweep``).
        scratch: names a crashed writer may leave before its manifest (ignored).

    Returns:
        True when the directory holds this writer's results.

    Raises:
        NotADirectoryError: ``out_dir`` or a parent of it is a file.
        OutputDirError: ``out_dir`` holds other files.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: is an existing file, not a directory")
    for parent in out_dir.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{out_dir}: parent {parent} is a file, not a directory")
            break
    if not out_dir.is_dir():
        return False
    if ours(out_dir):
        return True
    others = sorted(p.name for p in out_dir.iterdir() if not scratch(p.name))
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise OutputDirError(
            f"{out_dir}: is not empty ({shown}) and holds no {what}; "
            "choose another --out or remove it"
        )
    return False
