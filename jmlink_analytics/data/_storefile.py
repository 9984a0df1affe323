"""The cache file itself: its SQLite schema, what is checked before SQLite opens it, and its summary.

Split from :mod:`.store` (which reads and writes the file) to keep each module to one job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StoreError

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "StoreInfo", "check_file", "check_max_age", "default_path"]

#: The schema this code reads and writes (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of our files: "JMLK".
APPLICATION_ID = 0x4A4D4C4B
_SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE apps (
    app_id INTEGER PRIMARY KEY,
    app_key TEXT NOT NULL,
    base_url TEXT NOT NULL,
    links_fetched_at REAL,                 -- unix time of the last full link listing, NULL = never
    UNIQUE (app_key, base_url)
);
CREATE TABLE links (                       -- the last link listing, as the API sent it
    app_id INTEGER NOT NULL REFERENCES apps (app_id),
    position INTEGER NOT NULL,
    record TEXT NOT NULL,                  -- the record as JSON
    PRIMARY KEY (app_id, position)
) WITHOUT ROWID;
CREATE TABLE keys (
    key_id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps (app_id),
    link_key TEXT NOT NULL,
    UNIQUE (app_id, link_key)
);
CREATE TABLE days (                        -- the fetched days of one link and platform, 32 days per row
    key_id INTEGER NOT NULL REFERENCES keys (key_id),
    platform INTEGER NOT NULL CHECK (platform IN (0, 1, 2)),   -- 0 all, 1 ios, 2 android
    block INTEGER NOT NULL,                -- days since 1970-01-01 // 32: the row holds days block*32 .. +31
    counters BLOB NOT NULL,                -- int64 little-endian [4][32]: exposure, click, open, install per day
    state BLOB NOT NULL,                   -- uint8 [32]: 0 never fetched, 1 fetched while it could still change
                                           --   (today/yesterday UTC+8), 2 final. Fetched days the API left out hold 0s
    fetched INTEGER NOT NULL,              -- fetched days in the row (state > 0)
    first_day INTEGER,                     -- the first and last fetched day (days since 1970-01-01)
    last_day INTEGER,
    UNIQUE (key_id, platform, block)       -- a rowid table: rows of 1 KB fit pages badly WITHOUT ROWID
);
"""


@dataclass(frozen=True)
class StoreInfo:
    """What a :class:`Store` holds (:meth:`Store.info`).

    Attributes
    ----------
    path : str
        The database file (``":memory:"`` for an in-memory store).
    size_bytes : int
        Bytes on disk (database and write-ahead log).
    apps : int
        Distinct (app key, base URL) pairs.
    links : int
        Cached link records.
    rows : int
        Stored (link, platform, day) entries: every fetched day, the zeros included.
    first_date, last_date : date or None
        The span of stored days; ``None`` when there are none.
    """

    path: str
    size_bytes: int
    apps: int
    links: int
    rows: int
    first_date: dt.date | None
    last_date: dt.date | None


def check_max_age(max_age: Any) -> float | None:
    if max_age is None:
        return None
    if isinstance(max_age, dt.timedelta):
        max_age = max_age.total_seconds()
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)):
        raise TypeError(f"max_age must be seconds (a number >= 0), a timedelta or None; got {type(max_age).__name__}")
    if not max_age >= 0:
        raise ValueError(f"max_age must be >= 0 seconds; got {max_age!r}")
    return float(max_age)


def default_path() -> Path:
    """The per-user cache file of :meth:`Store.default` and the command line (``platformdirs``' user cache dir)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("jmlink-analytics", appauthor=False)) / "cache.sqlite3"




def check_file(path: str) -> None:
    """Refuse an existing file that is not a SQLite database, whatever its size, before SQLite sees it.

    SQLite would take a short file of anything for an empty database and write over it. An
    empty file holds nothing to lose (and is what another process creating the cache at this
    moment leaves for an instant), so it is taken; anything else must be SQLite. Missing
    parent folders are created.
    """
    file = Path(path)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        if not file.exists():
            return
        if not file.is_file():
            raise StoreError(f"cannot open the cache {path}: it is not a file")
        with open(file, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot open the cache {path}: {exc}") from None
    if header and header != _SQLITE_HEADER:
        raise StoreError(f"{path} is not a jmlink-analytics cache (not a SQLite database); it is left untouched: "
                         "choose another path")
