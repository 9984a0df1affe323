"""The shared rate-limit files: where they live, opening one (a corrupt one replaced), sweeping stale ones.

One file per appKey and base URL, in the user cache folder. Each holds only what the last
window needs (slots expire one window after their answer, a learned pace fades within
seconds), so a file nobody touched for :data:`STALE_AFTER_S` (one hour) holds nothing a
client still needs: opening any rate-limit file removes those of the folder. A client that
kept its connection to a removed file notices at its next request and opens the path again.
A file that is not a database (or a damaged one) is replaced by an empty one, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from pathlib import Path

from .._sqlite import is_corrupt, last_touched, remove_database, use_wal

__all__ = ["STALE_AFTER_S", "connect", "file_id", "shared_limits_path", "sweep_stale"]

logger = logging.getLogger("jmlink_analytics")

#: A rate-limit file untouched (with its -wal and -shm) for this long is removed.
STALE_AFTER_S = 3600.0
_PATTERN = "ratelimit-*.sqlite"


def shared_limits_path(app_key: str, base_url: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """The file holding the shared slots of ``app_key`` at ``base_url``.

    Named after a SHA-256 of the appKey and base URL (never the secret), in ``folder`` or the
    user cache directory (``platformdirs.user_cache_dir("jmlink-analytics")``).
    """
    if folder is None:
        from platformdirs import user_cache_dir

        folder = user_cache_dir("jmlink-analytics", appauthor=False)  # where Store.default() lives too
    digest = hashlib.sha256(f"{app_key}\n{base_url}".encode()).hexdigest()[:32]
    return Path(folder) / f"ratelimit-{digest}.sqlite"


def sweep_stale(folder: Path, keep: Path, *, now: float | None = None) -> list[Path]:
    """Remove the rate-limit files of ``folder`` untouched for :data:`STALE_AFTER_S` (never ``keep``)."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        candidates = sorted(folder.glob(_PATTERN))
    except OSError:
        return removed
    for path in candidates:
        touched = last_touched(path)
        if path == keep or touched is None or now - touched <= STALE_AFTER_S:
            continue
        try:
            remove_database(path)
        except OSError as exc:
            logger.debug("could not remove the stale rate-limit file %s: %s", path, exc)
            continue
        removed.append(path)
    if removed:
        logger.debug("removed %d rate-limit file(s) untouched for over %.0f s in %s", len(removed),
                     STALE_AFTER_S, folder)
    return removed


def file_id(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of ``path``, or None when it is gone."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """Open (creating) the shared file ``path`` in WAL mode with ``schema``; a corrupt file is replaced.

    Raises
    ------
    OSError, sqlite3.Error
        When the folder cannot hold the file, or it fails for another reason than corruption.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        before = file_id(path)
        conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            use_wal(conn)
            conn.executescript(schema)
            return conn
        except sqlite3.Error as exc:
            conn.close()
            if attempt == 2 or not is_corrupt(exc):
                raise
            if file_id(path) == before:  # not already replaced by another process meanwhile
                remove_database(path)
            logger.warning("the shared rate-limit file %s was not a usable database (%s); replaced it with an "
                           "empty one", path, exc)
    raise AssertionError("unreachable")
