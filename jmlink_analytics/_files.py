"""Files written whole or not at all: a temporary file beside the target, flushed, then moved over it.

Every room that writes a user's file (CSV, the workbook, Parquet, the dataset, the report, the
digest's memory) writes it through :func:`atomic_path`, so a reader sees the old file or the
whole new one, never half of one, and a failed write leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "fsync"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``, else delete it.

    The parent folders are created. The move (:func:`os.replace`) is atomic on one file
    system, so readers see either the old file or the whole new one, never a half file.
    An existing folder, FIFO or device at ``path`` is refused with ``ValueError`` (the move
    would replace it, and as root that includes ``/dev/null``).
    """
    target = Path(path).expanduser()
    if target.exists() and not target.is_file():  # renaming over a FIFO or a device (e.g. /dev/null as root)
        raise ValueError(f"path must be a regular file to write or replace; {str(path)!r} exists and is "
                         f"{'a folder' if target.is_dir() else 'not a regular file'}")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        yield temp
        fsync(temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def fsync(path: Path) -> None:
    """Flush ``path`` to disk before it replaces a good file (best effort: not every OS allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
