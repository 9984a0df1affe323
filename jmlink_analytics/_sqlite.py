"""SQLite files several processes open at once: the rate-limit slots and the cache.

Switching a file to WAL answers "database is locked" at once, without SQLite's busy wait,
while another connection is creating the same file; :func:`use_wal` waits that out.
"""

from __future__ import annotations

import sqlite3
import time

__all__ = ["use_wal"]

#: How long opening a file waits for another connection that is creating it.
SETUP_WAIT_S = 30.0


def use_wal(conn: sqlite3.Connection, *, wait: float = SETUP_WAIT_S) -> None:
    """Put ``conn``'s file in WAL mode (``synchronous=NORMAL``), retrying while another connection holds it.

    Measured before this retry: of 300 rounds of four clients opening one new rate-limit file at
    the same moment, 27 failed; of 200 rounds of four ``Store`` objects, 19.

    Raises
    ------
    sqlite3.OperationalError
        Any other failure, or a lock still held after ``wait`` seconds.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
