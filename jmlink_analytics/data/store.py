"""``Store``: the local SQLite cache of links and of stats day by day.

The cache is keyed by the app key *and* the base URL (a sandbox's data never mixes with the
real API's), never by the secret, which is not stored. For stats it keeps every
(link, platform, day) that was fetched, zeros included (in blocks of 32 days, see
``_blocks``): a day the API left out is known to be zero and is not asked again. A day that
could still change when it was fetched (today or yesterday in China time) is stored as not
final and is asked again by the next fetch.

The file is an ordinary SQLite database (WAL journal), safe for several threads of one
process (one connection behind a lock) and for several processes (SQLite's own locking).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._sqlite import use_wal
from ..errors import StoreError, StoreVersionError
from ..schema import PLATFORMS as _PLATFORMS  # stored as their index: 0, 1, 2
from . import _blocks
from ._blocks import DayBlock, date_of, day_number
from ._storefile import _SCHEMA, APPLICATION_ID, SCHEMA_VERSION, StoreInfo, check_file, check_max_age, default_path

__all__ = ["SCHEMA_VERSION", "DayBlock", "Store", "StoreInfo", "default_path"]

logger = logging.getLogger("jmlink_analytics")

_CHUNK = 500  # link keys per query (SQLite limits the number of parameters)


class Store:
    """A local SQLite cache of links and daily stats, for ``fetch_links`` / ``fetch_stats``.

    Parameters
    ----------
    path : str or os.PathLike
        The database file (``~`` is expanded, missing folders are created), or ``":memory:"``.
    max_age : float, timedelta or None, default 3600
        How long (seconds) a cached link listing is reused by ``fetch_links``; ``0`` always
        lists again, ``None`` never expires. Stats do not expire: final days are kept for good.
    timeout : float, default 30.0
        Seconds to wait for another process's lock on the file.

    Raises
    ------
    StoreVersionError
        When the file holds another schema version, or is a SQLite database of something else.
    StoreError
        When the file exists and is not a SQLite database, whatever its size (it is left
        untouched), is a folder, or cannot be written (read-only, locked): all found at open,
        not at the first write. Every later SQLite failure is a ``StoreError`` too.

    Examples
    --------
    >>> with jm.Store("jmlink.sqlite3") as store:  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    ...     stats = jm.fetch_stats(client, start="2024-06-01", end="2024-06-30", store=store)  # asks only for new days
    ...     store.info()
    StoreInfo(path='jmlink.sqlite3', size_bytes=..., apps=1, links=12, rows=360,
              first_date=datetime.date(2024, 6, 1), last_date=datetime.date(2024, 6, 30))
    """

    def __init__(self, path: str | os.PathLike[str], *, max_age: float | dt.timedelta | None = 3600.0,
                 timeout: float = 30.0):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}")
        self.max_age = check_max_age(max_age)
        raw = os.fspath(path)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout < float("inf"):
            raise ValueError(f"timeout must be a finite number of seconds >= 0; got {timeout!r}")
        self._lock = threading.RLock()
        self._app_ids: dict[tuple[str, str], int] = {}
        self._key_ids: dict[tuple[int, str], int] = {}
        self._conn: sqlite3.Connection | None = None
        if raw == ":memory:":
            self.path = raw
        else:
            self.path = str(Path(raw).expanduser())
            check_file(self.path)
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the cache {self.path}: {exc}") from None
        try:
            self._open()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    @classmethod
    def default(cls, **kwargs: Any) -> Store:
        """The per-user cache, the same file the command line uses by default.

        Parameters
        ----------
        **kwargs
            ``max_age`` and ``timeout``, as for :class:`Store`.

        Returns
        -------
        Store
            The store at :func:`default_path`: ``~/.cache/jmlink-analytics/cache.sqlite3`` on Linux
            (``$XDG_CACHE_HOME`` honoured), ``~/Library/Caches/jmlink-analytics/`` on macOS,
            ``%LOCALAPPDATA%\\jmlink-analytics\\Cache\\`` on Windows.

        Examples
        --------
        >>> with jm.Store.default() as store:
        ...     stats = jm.fetch_stats(client, start="2024-06-01", end="2024-06-30", store=store)
        >>> len(stats), store.path  # doctest: +ELLIPSIS
        (360, '.../jmlink-analytics/cache.sqlite3')
        """
        return cls(default_path(), **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------
    def _open(self) -> None:
        """Create the schema in a new file, or check an existing one is ours and writable."""
        with self._transaction("open") as conn:  # two processes creating one file: one creates, one waits
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if version == 0 and app_id == 0:
                if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raise StoreVersionError(f"{self.path} is a SQLite database of something else, "
                                            "not a jmlink-analytics cache; choose another path")
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            elif app_id != APPLICATION_ID:
                raise StoreVersionError(f"{self.path} is a SQLite database of something else, "
                                        "not a jmlink-analytics cache; choose another path")
            elif version != SCHEMA_VERSION:
                raise StoreVersionError(
                    f"{self.path} has cache schema version {version}; this jmlink-analytics reads version "
                    f"{SCHEMA_VERSION}. The file is only a cache: delete it (or use another path) and fetch again")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")  # a write: a read-only file fails here
        if self.path != ":memory:":
            with self._reading("open") as conn:
                use_wal(conn)  # another process may be creating the same file this moment

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """The one way to write: under the lock, in ``BEGIN IMMEDIATE`` .. ``COMMIT``, rolled back on any error.

        A SQLite error (locked, read-only, disk full, not a database) becomes :class:`StoreError`.
        """
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(action, exc) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                self._app_ids.clear()  # ids handed out inside the rolled-back transaction are gone
                self._key_ids.clear()
                if isinstance(exc, sqlite3.Error):
                    raise self._error(action, exc) from None
                raise

    @contextlib.contextmanager
    def _reading(self, action: str) -> Iterator[sqlite3.Connection]:
        """Under the lock, with SQLite errors (and undecodable contents) raised as :class:`StoreError`."""
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except (sqlite3.Error, ValueError) as exc:
                raise self._error(action, exc) from None

    def _error(self, action: str, exc: Exception) -> StoreError:
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return StoreError(f"{self.path} is not a usable jmlink-analytics cache ({action}: {exc})")
        return StoreError(f"the cache {self.path} failed ({action}): {exc}")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        return self._conn

    def close(self) -> None:
        """Close the database; using the store afterwards raises :class:`StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = ", closed" if self._conn is None else ""
        return f"Store({self.path!r}, max_age={self.max_age!r}{state})"

    # -- what it holds -----------------------------------------------------------------------
    def info(self) -> StoreInfo:
        """Return the store's size, counts and date span (all apps together)."""
        with self._reading("info") as conn:
            apps = conn.execute("SELECT count(*) FROM apps").fetchone()[0]
            links = conn.execute("SELECT count(*) FROM links").fetchone()[0]
            rows, first, last = conn.execute(
                "SELECT total(fetched), min(first_day), max(last_day) FROM days").fetchone()
            if self.path == ":memory:":
                size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
            else:
                size = sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))
        return StoreInfo(self.path, size, apps, links, int(rows), date_of(first), date_of(last))

    def clear(self) -> None:
        """Delete everything the store holds (every app), and shrink the file."""
        with self._lock:
            with self._transaction("clear") as conn:
                for table in ("days", "keys", "links", "apps"):
                    conn.execute(f"DELETE FROM {table}")
            self._app_ids.clear()
            self._key_ids.clear()
            with self._reading("clear") as conn:
                conn.execute("VACUUM")
        logger.info("cleared the cache %s", self.path)

    # -- ids ---------------------------------------------------------------------------------
    def _app_id(self, app_key: str, base_url: str) -> int:
        scope = (app_key, base_url)
        if scope not in self._app_ids:
            conn = self._connection()
            conn.execute("INSERT OR IGNORE INTO apps (app_key, base_url) VALUES (?, ?)", scope)
            self._app_ids[scope] = conn.execute(
                "SELECT app_id FROM apps WHERE app_key = ? AND base_url = ?", scope).fetchone()[0]
        return self._app_ids[scope]

    def _key_id(self, app_id: int, link_key: str) -> int:
        if (app_id, link_key) not in self._key_ids:
            conn = self._connection()
            conn.execute("INSERT OR IGNORE INTO keys (app_id, link_key) VALUES (?, ?)", (app_id, link_key))
            self._key_ids[app_id, link_key] = conn.execute(
                "SELECT key_id FROM keys WHERE app_id = ? AND link_key = ?", (app_id, link_key)).fetchone()[0]
        return self._key_ids[app_id, link_key]

    # -- links -------------------------------------------------------------------------------
    def load_links(self, app_key: str, base_url: str) -> list[dict[str, Any]] | None:
        """The cached link listing of an app, or ``None`` when there is none younger than ``max_age``."""
        with self._reading("load links") as conn:
            row = conn.execute("SELECT app_id, links_fetched_at FROM apps WHERE app_key = ? AND base_url = ?",
                               (app_key, base_url)).fetchone()
            if row is None or row[1] is None:
                return None
            age = time.time() - row[1]
            if self.max_age is not None and age > self.max_age:
                logger.debug("cached link listing is %.0f s old (max_age %s): listing again", age, self.max_age)
                return None
            records = conn.execute("SELECT record FROM links WHERE app_id = ? ORDER BY position",
                                   (row[0],)).fetchall()
            return [json.loads(record) for (record,) in records]

    def save_links(self, app_key: str, base_url: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Replace the cached link listing of an app with ``records`` (stamped with the current time)."""
        payload = [(i, json.dumps(dict(r), ensure_ascii=False)) for i, r in enumerate(records)]
        with self._transaction("save links") as conn:
            app_id = self._app_id(app_key, base_url)
            conn.execute("DELETE FROM links WHERE app_id = ?", (app_id,))
            conn.executemany("INSERT INTO links (app_id, position, record) VALUES (?, ?, ?)",
                             ((app_id, i, text) for i, text in payload))
            conn.execute("UPDATE apps SET links_fetched_at = ? WHERE app_id = ?", (time.time(), app_id))

    # -- stats -------------------------------------------------------------------------------
    def save_days(self, app_key: str, base_url: str, link_key: str, platform: str, start: dt.date,
                  counters: np.ndarray, final: np.ndarray) -> None:
        """Store consecutive days of one link and platform, starting at ``start``.

        Parameters
        ----------
        app_key, base_url : str
            The app (``client.app_key``, ``client.base_url``).
        link_key, platform : str
            The link and the platform (``"all"``, ``"ios"`` or ``"android"``).
        start : date
            The first day.
        counters : numpy.ndarray
            ``(4, n)`` integers: exposure, click, open, install counts of each day (0 for
            days the API left out).
        final : numpy.ndarray
            ``n`` booleans: ``False`` for days that could still change (asked again next time).
        """
        counters, final = np.asarray(counters), np.asarray(final)
        if (counters.ndim != 2 or counters.shape[0] != 4 or final.shape != (counters.shape[1],)
                or counters.dtype.kind not in "iu" or (counters.size and counters.min() < 0)):
            raise ValueError(f"counters must be a (4, n) array of integers >= 0 and final n booleans; got "
                             f"{counters.dtype} {counters.shape} and {final.shape}")
        if counters.shape[1] == 0:
            return
        first = day_number(start)
        b0, b1 = _blocks.block_span(first, counters.shape[1])
        platform_index = _PLATFORMS.index(platform)
        with self._transaction("save days") as conn:
            key_id = self._key_id(self._app_id(app_key, base_url), link_key)
            existing = conn.execute("SELECT block, counters, state FROM days WHERE key_id = ? AND platform = ? "
                                    "AND block BETWEEN ? AND ?", (key_id, platform_index, b0, b1)).fetchall()
            try:
                rows = _blocks.merge(first, counters, final, existing)
            except ValueError as exc:  # a stored block of the wrong size
                raise self._error("save days", exc) from None
            conn.executemany("INSERT OR REPLACE INTO days (key_id, platform, block, counters, state, fetched, "
                             "first_day, last_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             [(key_id, platform_index, *row) for row in rows])

    def load_days(self, app_key: str, base_url: str, link_keys: Sequence[str], platforms: Sequence[str],
                  start: dt.date, end: dt.date) -> DayBlock:
        """The stored days of ``link_keys`` x ``platforms`` from ``start`` to ``end`` (inclusive).

        Returns
        -------
        DayBlock
            One entry per stored day: the link's index in ``link_keys``, the platform's index
            in ``("all", "ios", "android")``, the day's offset from ``start``, its four counters
            and whether it is final.
        """
        first, last = day_number(start), day_number(end)
        wanted = [_PLATFORMS.index(p) for p in platforms]
        found: list[tuple[int, int, int, bytes, bytes]] = []
        ids: dict[int, int] = {}  # key_id -> index into link_keys
        with self._reading("load days") as conn:
            row = conn.execute("SELECT app_id FROM apps WHERE app_key = ? AND base_url = ?",
                               (app_key, base_url)).fetchone()
            if row is not None:
                known = dict(conn.execute("SELECT link_key, key_id FROM keys WHERE app_id = ?", (row[0],)))
                ids = {known[k]: i for i, k in enumerate(link_keys) if k in known}
                id_list = list(ids)
                for at in range(0, len(id_list), _CHUNK):
                    chunk = id_list[at:at + _CHUNK]
                    query = (f"SELECT key_id, platform, block, counters, state FROM days "
                             f"WHERE key_id IN ({','.join('?' * len(chunk))}) "
                             f"AND platform IN ({','.join('?' * len(wanted))}) AND block BETWEEN ? AND ?")
                    found += conn.execute(query, (*chunk, *wanted, first // _blocks.BLOCK,
                                                  last // _blocks.BLOCK)).fetchall()
            return _blocks.decode(found, ids, first, last)
