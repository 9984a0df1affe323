"""Excel-safe CSV: UTF-8 with a BOM, formula neutralization, plain dates, atomic replacement.

Reports go to colleagues who open them in Excel, often on Chinese Windows. Excel reads a
CSV as UTF-8 only when it starts with a byte-order mark, and it runs a cell that begins
with ``=``, ``+``, ``-`` or ``@`` as a formula (CSV injection). :func:`to_csv` writes what
Excel shows as text and numbers, and never leaves a half-written file over a good one.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENCODINGS", "FORMULA_TRIGGERS", "atomic_path", "check_encoding", "prepare_frame", "to_csv"]

logger = logging.getLogger("jmlink_analytics")

#: The encodings :func:`to_csv` writes: with a byte-order mark (Excel) or without.
ENCODINGS = ("utf-8-sig", "utf-8")
#: A text cell starting with one of these is prefixed with ``'`` (OWASP "CSV injection").
#: The full-width forms of ``= + - @`` are included as a precaution: IMEs and Excel in CJK
#: locales may turn them into their ASCII forms.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_LINE_END = "\r\n"  # RFC 4180, and what Excel itself writes


def check_encoding(encoding: Any) -> str:
    """Return the canonical name of ``encoding`` if it is ``"utf-8-sig"`` or ``"utf-8"``.

    Aliases Python knows (``"UTF8"``, ``"utf_8_sig"``) are accepted.

    Raises
    ------
    ValueError
        For any other encoding, naming the allowed values.
    """
    allowed = "'utf-8-sig' (UTF-8 with a byte-order mark, for Excel) or 'utf-8' (no BOM)"
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be {allowed}; got {type(encoding).__name__} {encoding!r}")
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = None
    if name not in ENCODINGS:
        raise ValueError(f"encoding must be {allowed}; got {encoding!r}")
    return name


def _neutralize(value: Any) -> Any:
    """``'`` + ``value`` when it is a string a spreadsheet would read as a formula; else ``value``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _format_time(value: dt.datetime) -> str:
    if value.hour == value.minute == value.second == 0 and not value.microsecond:
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _object_cell(value: Any, sanitize: bool) -> Any:
    if isinstance(value, dt.datetime):  # pandas.Timestamp included; NaT is not a datetime instance here
        return None if value != value else _format_time(value)
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    return _neutralize(value) if sanitize else value


def _date_column(column: pd.Series) -> pd.Series:
    """``yyyy-MM-dd``, or ``yyyy-MM-dd HH:MM:SS`` when any value of the column has a time of day."""
    present = column.dropna()
    has_time = bool(len(present)) and bool((present != present.dt.normalize()).any())
    return column.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d").astype(object)


def prepare_frame(df: pd.DataFrame, *, sanitize: bool = True) -> pd.DataFrame:
    """The frame as it is written: dates as text, text cells neutralized, a named index as columns.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame to write; it is not modified.
    sanitize : bool, default True
        Prefix ``'`` to text cells (and column names) that begin with a formula trigger
        (:data:`FORMULA_TRIGGERS`). Only text columns (object, string, category) are
        touched: numbers, booleans and dates never are.

    Returns
    -------
    pandas.DataFrame
        A new frame with a RangeIndex. A named index (any level with a name, e.g. after a
        ``groupby``) carries data and becomes leading columns; an unnamed one is dropped.
    """
    import pandas as pd
    from pandas.api import types

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame; got {type(df).__name__}")
    if any(name is not None for name in df.index.names):
        df = df.reset_index(allow_duplicates=True)
    columns: dict[int, Any] = {}
    for position in range(df.shape[1]):
        column = df.iloc[:, position]
        dtype = column.dtype
        if types.is_datetime64_any_dtype(dtype):
            column = _date_column(column)
        elif isinstance(dtype, pd.CategoricalDtype):
            categories = [_object_cell(v, sanitize) for v in dtype.categories]
            codes = column.cat.codes.to_numpy()
            column = pd.Series([categories[c] if c >= 0 else None for c in codes], index=df.index, dtype=object)
        elif types.is_object_dtype(dtype) or types.is_string_dtype(dtype):
            column = pd.Series([_object_cell(v, sanitize) for v in column.to_numpy(dtype=object)],
                               index=df.index, dtype=object)
        columns[position] = column
    out = pd.DataFrame(columns, index=df.index)
    names = list(df.columns)
    if isinstance(df.columns, pd.MultiIndex):  # each level's label is a header cell of its own row
        if sanitize:
            names = [tuple(_neutralize(part) for part in name) for name in names]
        out.columns = pd.MultiIndex.from_tuples(names, names=[_neutralize(n) if sanitize else n
                                                               for n in df.columns.names])
    else:
        out.columns = [_neutralize(name) for name in names] if sanitize else names
    return out.reset_index(drop=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``, else delete it.

    The parent folders are created. The move (:func:`os.replace`) is atomic on one file
    system, so readers see either the old file or the whole new one, never a half file.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        yield temp
        _fsync(temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _fsync(path: Path) -> None:
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


def to_csv(df: pd.DataFrame, path: str | os.PathLike[str], *, encoding: str = "utf-8-sig",
           sanitize: bool = True) -> Path:
    """Write ``df`` as a CSV file that Excel opens correctly and safely.

    Parameters
    ----------
    df : pandas.DataFrame
        The table. A named index (e.g. a ``groupby`` result) is written as leading
        columns; an unnamed index (row numbers) is not written.
    path : str or os.PathLike
        The file to write; missing parent folders are created, ``~`` is expanded.
    encoding : {"utf-8-sig", "utf-8"}, default "utf-8-sig"
        ``"utf-8-sig"`` starts the file with a byte-order mark, so that Excel shows Chinese
        text correctly; ``"utf-8"`` leaves it out, for tools that dislike a BOM.
    sanitize : bool, default True
        Neutralize text cells that begin with ``=``, ``+``, ``-``, ``@``, a tab or a
        carriage return (and their full-width forms) by prefixing a single quote ``'``, as
        OWASP recommends against CSV injection; the rest of the text is kept. Numeric,
        boolean and datetime columns are never touched (a negative number stays a number).

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Datetime columns are written as ``yyyy-MM-dd``, or ``yyyy-MM-dd HH:MM:SS`` when any value
    of the column has a time of day; missing values as empty cells. Lines end with CRLF
    (RFC 4180). The file is written under a temporary name in the same folder and moved
    into place, so an interrupted write never leaves a half file over a good one.

    Examples
    --------
    >>> to_csv(summarize(stats, by="channel", links=links), "report/channels.csv")  # doctest: +SKIP
    PosixPath('report/channels.csv')
    """
    encoding = check_encoding(encoding)
    if not isinstance(sanitize, bool):
        raise TypeError(f"sanitize must be True or False; got {sanitize!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}")
    frame = prepare_frame(df, sanitize=sanitize)
    target = Path(path).expanduser()
    with atomic_path(target) as temp, open(temp, "x", encoding=encoding, newline="") as handle:
        frame.to_csv(handle, index=False, lineterminator=_LINE_END)
    logger.info("wrote %s (%d rows, %s)", target, len(frame), encoding)
    return target
