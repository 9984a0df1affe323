"""Excel-safe CSV: UTF-8 with a BOM, formula neutralization, plain dates, atomic replacement.

Reports go to colleagues who open them in Excel, often on Chinese Windows. Excel reads a
CSV as UTF-8 only when it starts with a byte-order mark, and it runs a cell that begins
with ``=``, ``+``, ``-`` or ``@`` as a formula (CSV injection). :func:`to_csv` writes what
Excel shows as text and numbers, and never leaves a half-written file over a good one.
"""

from __future__ import annotations

import codecs
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._files import atomic_path
from ..display import column_kind
from ._cells import FORMULA_TRIGGERS, date_texts, neutralize, per_distinct, text_cell
from ._target import writing

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENCODINGS", "FORMULA_TRIGGERS", "atomic_path", "check_encoding", "csv_chunks", "prepare_frame",
           "to_csv", "write_csv"]

logger = logging.getLogger("jmlink_analytics")

#: The encodings :func:`to_csv` writes: with a byte-order mark (Excel) or without.
ENCODINGS = ("utf-8-sig", "utf-8")
_LINE_END = "\r\n"  # RFC 4180, and what Excel itself writes
_CHUNK_ROWS = 65_536  # rows joined into text at a time (bounds the memory of a large table)


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
        name = df.columns[position]
        if types.is_datetime64_any_dtype(dtype):
            column = pd.Series(date_texts(column), index=df.index, dtype=object)
        elif (isinstance(dtype, pd.CategoricalDtype) or types.is_object_dtype(dtype)
              or types.is_string_dtype(dtype)):
            column = pd.Series(_texts(column, name, sanitize), index=df.index, dtype=object)
        elif dtype.kind == "f" and isinstance(name, str) and column_kind(name) == "count":
            column = _whole_counts(column)
        columns[position] = column
    out = pd.DataFrame(columns, index=df.index)
    names: list[Any] = list(df.columns)
    if isinstance(df.columns, pd.MultiIndex):  # each level's label is a header cell of its own row
        if sanitize:
            names = [tuple(neutralize(part) for part in name) for name in names]
        out.columns = pd.MultiIndex.from_tuples(names, names=[neutralize(n) if sanitize else n
                                                               for n in df.columns.names])
    else:
        out.columns = [neutralize(name) for name in names] if sanitize else names
    return out.reset_index(drop=True)


def _texts(column: pd.Series, name: Any, sanitize: bool) -> np.ndarray:
    """A text column's cells (:func:`text_cell`), NUL characters dropped with a warning.

    A NUL is never part of a name a person typed, and Excel and many CSV readers end the
    field or the line at one, so the rest of the row would be lost or shifted: the row is
    kept, the NUL dropped, and the warning says which column and how many values had one.
    """
    held: list[Any] = []

    def convert(value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            held.append(value)
            value = value.replace("\x00", "")
        return text_cell(value, sanitize)

    cells = per_distinct(column, convert)
    if held:
        logger.warning("writing a table: %d distinct value(s) of column %r held NUL characters (U+0000), which "
                       "CSV readers stop at; they are dropped from the text", len(held), name)
    return cells


def _whole_counts(column: pd.Series) -> pd.Series:
    """A count held as floats (NaN for missing) as integers when every value is whole: 2464, never 2464.0."""
    import pandas as pd

    values = column.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(values)
    present = values[~missing]
    if not np.isfinite(present).all() or not np.array_equal(present, np.round(present)):
        return column
    if not missing.any():
        return pd.Series(values.astype(np.int64), index=column.index)
    cells = np.empty(len(values), dtype=object)
    cells[~missing] = present.astype(np.int64).tolist()
    return pd.Series(cells, index=column.index, dtype=object)


def _quote(text: str) -> str:
    """RFC 4180 quoting, as Python's csv module does it (QUOTE_MINIMAL): only when needed."""
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _field(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    import pandas as pd

    try:
        if value is None or pd.isna(value):
            return ""
    except (TypeError, ValueError):  # containers: written as their text
        pass
    return _quote(str(value))


def _column_fields(column: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """The column as (codes, fields): each distinct value's CSV text once, and each row's index into it.

    None when this fast path is not sure about the column (extension dtypes, unhashable objects).
    """
    import pandas as pd

    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else None
    if kind == "b":
        return column.to_numpy().astype(np.intp), np.array(["False", "True"], dtype=object)
    if kind not in ("i", "u", "f", "O"):
        return None
    try:
        codes, uniques = pd.factorize(column.to_numpy(), use_na_sentinel=True)
    except TypeError:  # unhashable objects
        return None
    if kind == "O" and not all(isinstance(v, str) for v in uniques):  # mixed objects (1 and True hash alike)
        return np.arange(len(column)), np.array([_field(v) for v in column.to_numpy()], dtype=object)
    fields = np.empty(len(uniques) + 1, dtype=object)
    fields[:-1] = [_quote(v) if kind == "O" else str(v) for v in uniques.tolist()]
    fields[-1] = ""
    return np.where(codes < 0, len(uniques), codes), fields


def _merge_columns(columns: Iterable[tuple[np.ndarray, np.ndarray] | None], n_rows: int
                   ) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(codes, fields) per group of columns, neighbouring columns joined with ``,`` while their distinct pairs stay few.

    None as soon as a column is None (the fast path is not sure about it).

    A report's daily table repeats (link, name, channel, platform) on every day: four fields
    that take 2,000 distinct values together. Joining them once per distinct combination leaves
    fewer fields to join per row, which is where the time of a large CSV goes.
    """
    import pandas as pd

    limit = max(1024, n_rows // 64)
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    for column in columns:
        if column is None:
            return None
        codes, fields = column
        if groups and len(groups[-1][1]) * len(fields) < 2**62:
            last_codes, last_fields = groups[-1]
            pair_codes, pairs = pd.factorize(last_codes.astype(np.int64) * len(fields) + codes)
            if len(pairs) <= limit:
                width = len(fields)
                joined = np.array([last_fields[k // width] + "," + fields[k % width] for k in pairs.tolist()],
                                  dtype=object)
                groups[-1] = (_small(pair_codes, len(joined)), joined)
                continue
        groups.append((_small(codes, len(fields)), fields))
    return groups


def _small(codes: np.ndarray, n_fields: int) -> np.ndarray:
    """``codes`` as int32 when the fields allow it: half the memory of a row index held per column."""
    return codes.astype(np.int32) if n_fields < 2**31 else codes


def csv_chunks(frame: pd.DataFrame, *, line_end: str = _LINE_END) -> Iterator[str] | None:
    """The CSV text of a frame :func:`prepare_frame` returned, in chunks, header first; None if unsure.

    The same text as ``frame.to_csv(index=False, lineterminator=line_end)``, several times
    faster: each column is formatted once per distinct value, neighbouring columns with few
    distinct combinations are joined once per combination, and the rows are joined in chunks
    of 65,536. For frames this fast path is not sure about (a MultiIndex header, one column,
    extension dtypes) it returns None: write those with pandas.
    """
    import pandas as pd

    if frame.shape[1] < 2 or isinstance(frame.columns, pd.MultiIndex):
        return None
    columns = (_column_fields(frame.iloc[:, i]) for i in range(frame.shape[1]))  # one column's codes at a time
    groups = _merge_columns(columns, len(frame))
    if groups is None:
        return None
    return _chunks(list(frame.columns), groups, len(frame), line_end)


def _chunks(names: list[Any], groups: list[tuple[np.ndarray, np.ndarray]], n_rows: int,
            line_end: str) -> Iterator[str]:
    yield ",".join(_quote(str(name)) for name in names) + line_end
    for at in range(0, n_rows, _CHUNK_ROWS):  # each chunk's fields looked up then (no row x column array held)
        rows = zip(*(fields[codes[at:at + _CHUNK_ROWS]] for codes, fields in groups), strict=True)
        yield line_end.join(map(",".join, rows)) + line_end


def write_csv(frame: pd.DataFrame, handle: Any, *, line_end: str = _LINE_END) -> None:
    """Write a prepared frame to an open text ``handle`` (:func:`csv_chunks`, else pandas)."""
    chunks = csv_chunks(frame, line_end=line_end)
    if chunks is None:
        frame.to_csv(handle, index=False, lineterminator=line_end)
        return
    for text in chunks:
        handle.write(text)


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

    Raises
    ------
    OSError
        When the file cannot be written (a full disk, no permission), naming ``path``; the
        old file, if any, is left as it was and no temporary file remains.

    Notes
    -----
    Datetime columns are written as ``yyyy-MM-dd``, or ``yyyy-MM-dd HH:MM:SS`` when any value
    of the column has a time of day; missing values as empty cells. Lines end with CRLF
    (RFC 4180). The file is written under a temporary name in the same folder and moved
    into place, so an interrupted write never leaves a half file over a good one.

    Counts held as floats (a ``*_count``, ``actual`` or ``expected`` column with NaN for
    missing values, see :func:`~jmlink_analytics.display.column_kind`) are written as
    integers when every value is whole (``2464``, never ``2464.0``). NUL characters in text
    are dropped with a logged warning: CSV readers and Excel stop at them, so the rest of
    the row would be lost.

    Examples
    --------
    >>> jm.to_csv(jm.summarize(stats, by="channel", links=links), "report/channels.csv")
    PosixPath('report/channels.csv')
    >>> print(open("report/channels.csv", encoding="utf-8-sig").readline(), end="")
    channel,exposure_count,click_count,open_count,install_count,ctr,open_rate,install_rate
    """
    encoding = check_encoding(encoding)
    if not isinstance(sanitize, bool):
        raise TypeError(f"sanitize must be True or False; got {sanitize!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}")
    frame = prepare_frame(df, sanitize=sanitize)
    target = Path(path).expanduser()
    with writing(target) as temp, open(temp, "x", encoding=encoding, newline="") as handle:
        write_csv(frame, handle)
    logger.info("wrote %s (%d rows, %s)", target, len(frame), encoding)
    return target
