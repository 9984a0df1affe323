"""The dataset's writer lock: one ``fcntl`` record lock on a file inside the dataset.

Every read-merge-write of the dataset (its days, its manifest, its links table) runs while
holding :func:`dataset_lock` on ``ROOT/_jmlink/lock``. The lock is a POSIX record lock
(``fcntl.lockf``), which the kernel releases when the holder dies (a SIGKILL leaves no stale
lock behind) and which NFS (v4, or v3 with lockd) carries between machines sharing the
folder. The file stays EMPTY (no holder's name in it): Polars refuses to scan a tree holding a
non-empty file that is not Parquet. POSIX locks belong to a process, not a thread, and closing *any* descriptor of the
file drops them, so the threads of one process first take an in-process mutex for that file
and only the holder of the mutex ever opens it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import DatasetLockError

__all__ = ["DEFAULT_LOCK_TIMEOUT", "dataset_lock"]

logger = logging.getLogger("jmlink_analytics")

#: Seconds a writer waits for another writer before giving up (loudly): a year of 5,000 links
#: is written in well under a minute, so ten minutes means a stuck or very slow writer.
DEFAULT_LOCK_TIMEOUT = 600.0
_POLL = 0.05  # seconds between two tries; fcntl has no timed wait

_mutexes: dict[str, threading.Lock] = {}
_mutexes_guard = threading.Lock()


def _mutex(path: Path) -> threading.Lock:
    key = os.path.realpath(path)
    with _mutexes_guard:
        return _mutexes.setdefault(key, threading.Lock())


def check_timeout(timeout: object) -> float:
    """``timeout`` as seconds >= 0, or a ValueError naming it."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ValueError(f"lock_timeout must be a number of seconds >= 0; got {timeout!r}")
    return float(timeout)


@contextlib.contextmanager
def dataset_lock(path: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the exclusive writer lock of the file ``path`` (created when missing).

    Parameters
    ----------
    path : pathlib.Path
        The lock file (its folder must exist).
    timeout : float
        Seconds to wait for another holder (thread, process or machine).

    Raises
    ------
    DatasetLockError
        When the lock is still held by another writer after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    mutex = _mutex(path)
    if not mutex.acquire(timeout=max(timeout, 0.0)):
        raise DatasetLockError(f"another writer of this process held the dataset lock {path} for more than "
                                 f"{timeout:g} s; nothing was written")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            waited = False
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EACCES, errno.EAGAIN):
                        raise
                if time.monotonic() >= deadline:
                    raise DatasetLockError(f"could not lock the dataset {path.parent.parent} within {timeout:g} s: "
                                             f"another writer holds {path}; nothing was written")
                if not waited:
                    logger.info("waiting for the dataset lock %s", path)
                    waited = True
                time.sleep(_POLL)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        mutex.release()
