"""Writing a user's file: atomically, with every file error naming the user's path.

:func:`writing` wraps :func:`jmlink_analytics._files.atomic_path` (a temporary file beside
the target, moved over it on success, deleted on failure) and turns an ``OSError`` that names
the temporary file, or none (a full disk: ``[Errno 28] No space left on device``), into one
that names the file the user asked for, with the same errno (so ``except FileNotFoundError``
and ``e.errno == errno.ENOSPC`` keep working).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .._files import atomic_path

__all__ = ["named_os_error", "writing"]


def named_os_error(error: BaseException, target: Path) -> OSError:
    """An ``OSError`` like ``error`` (or the ``OSError`` it wraps) whose message and filename are ``target``."""
    cause: BaseException = error
    if not isinstance(error, OSError):  # XlsxWriter's FileCreateError(OSError)
        cause = next((c for c in (*error.args[:1], error.__cause__, error.__context__) if isinstance(c, OSError)),
                     error)
    reason = (cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)) or type(cause).__name__
    number = cause.errno if isinstance(cause, OSError) else None
    if number is None:
        return OSError(f"could not write {target}: {reason}")
    return OSError(number, f"could not write {target}: {reason}", str(target))


@contextlib.contextmanager
def writing(path: str | os.PathLike[str], *, also: tuple[type[BaseException], ...] = ()) -> Iterator[Path]:
    """Yield a temporary path for ``path`` (see ``atomic_path``); file errors name ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The user's file.
    also : tuple of exception types
        Other errors that mean "the file could not be written" (XlsxWriter's
        ``XlsxFileError``), turned into an ``OSError`` naming ``path`` too.
    """
    target = Path(path).expanduser()
    caught: tuple[type[BaseException], ...] = (OSError, *also)
    try:
        with atomic_path(target) as temp:
            yield temp
    except caught as error:
        if isinstance(error, OSError) and error.filename == str(target) and str(target) in str(error):
            raise
        raise named_os_error(error, target) from error
