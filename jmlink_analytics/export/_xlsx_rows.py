"""A sheet's columns, prepared once, and its rows written in order through XlsxWriter's public API.

:func:`prepare_column` decides once per column how its cells are written: the XlsxWriter
method (``write_number``, ``write_string``, ``write_boolean``, or per value for mixed
columns), the number format (by :func:`~jmlink_analytics.display.column_kind`, the one rule
of counts, rates, changes and points), the width, and per distinct text whether it starts
like a formula (written with the ``quote_prefix`` format, the value unchanged) or has to be
cut at Excel's 32,767 characters (with a note in the cell). :func:`write_rows` then writes
row after row, which is what XlsxWriter's constant-memory mode needs (it flushes a row when a
later one starts; a cell written out of order would be lost).

Only XlsxWriter's documented ``Worksheet.write_*`` methods are called.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..display import column_kind
from ._cells import FORMULA_TRIGGERS, per_distinct

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_TEXT", "Column", "display_width", "prepare_column", "write_rows"]

logger = logging.getLogger("jmlink_analytics")

#: Characters one Excel cell holds.
MAX_TEXT = 32_767
_WIDTH_SAMPLE = 20_000  # distinct texts measured per column
_EXCEL_EPOCH = np.datetime64("1899-12-30", "ns")  # Excel's day 0 (1900 date system, after its leap-year bug)
_NS_PER_DAY = 86_400 * 10**9
#: The number format (a key of ``_excel.FORMATS``) of each display kind of a float column.
_FLOAT_FORMATS = {"count": "count", "rate": "rate", "change": "change", "pp": "points", "points": "points",
                  "score": "score"}


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: East Asian wide and full-width characters count as two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cut_note(length: int) -> str:
    """The note that ends a cell cut at Excel's limit (it says how long the text was)."""
    return f" […cut: {length:,} characters, Excel holds {MAX_TEXT:,} per cell]"


def fit_text(text: str) -> str:
    """``text``, or its start and :func:`cut_note` when it is longer than a cell holds."""
    if len(text) <= MAX_TEXT:
        return text
    note = cut_note(len(text))
    return text[: MAX_TEXT - len(note)] + note


@dataclass
class Column:
    """One column of a sheet, ready to write.

    ``kind`` is ``"number"``, ``"string"``, ``"bool"`` or ``"any"`` (per value); ``values``
    holds a Python value or None (an empty cell) per row; ``fmt`` is the column's format key;
    ``quoted`` marks the rows whose text starts like a formula (written with ``quote_prefix``);
    ``cut`` counts the cells cut at :data:`MAX_TEXT`.
    """

    name: str
    kind: str
    values: list[Any]
    fmt: str | None
    width: int
    quoted: np.ndarray | None = None
    cut: int = 0


def _text_width(values: Any) -> int:
    widths = [display_width(v) for v in list(values)[:_WIDTH_SAMPLE] if isinstance(v, str)]
    return max(widths, default=0)


def _text_value(value: Any) -> Any:
    """A value of a text column: strings fitted to a cell; numbers, booleans and dates stay typed."""
    if isinstance(value, str):
        return fit_text(value)
    if isinstance(value, (bool, int, float, dt.date, dt.datetime)) or hasattr(value, "dtype"):
        return value
    return fit_text(str(value))


def _starts_like_formula(values: np.ndarray) -> np.ndarray:
    return np.fromiter((isinstance(v, str) and v.startswith(FORMULA_TRIGGERS) for v in values), dtype=bool,
                       count=len(values))


def _cells(values: np.ndarray, present: np.ndarray) -> list[Any]:
    """``values`` as Python objects, None where not ``present`` (an empty cell)."""
    out = values.astype(object)
    out[~present] = None
    return list(out.tolist())


def _number_column(name: str, column: pd.Series) -> Column:
    from pandas.api import types

    floats = column.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(floats)
    largest = float(np.abs(floats[finite]).max()) if finite.any() else 0.0
    kind = column_kind(name)
    if types.is_integer_dtype(column.dtype):
        ints = column.to_numpy(dtype="int64", na_value=0)
        fmt = "int" if name == "id" or name.endswith("_id") else "count"
        return Column(name, "number", _cells(ints, finite), fmt, len(f"{int(largest):,}") + 1)
    if kind == "pp":  # a difference of rates in rate units: shown in points, so written in points
        floats = floats * 100
    fmt = _FLOAT_FORMATS.get(kind, "float")
    if fmt == "count":  # a count held as floats (NaN for missing): integral values written as integers
        whole = np.where(finite, floats, 0.0)
        integral = whole == np.round(whole)
        values = np.where(integral, whole, floats).astype(object)
        values[integral] = whole[integral].astype(np.int64).astype(object)
        return Column(name, "number", _cells(values, finite), fmt, len(f"{largest:,.0f}") + 1)
    width = {"rate": 9, "change": 10, "points": 11, "score": 8}.get(fmt, len(f"{largest:,.2f}") + 1)
    return Column(name, "number", _cells(floats, finite), fmt, width)


def prepare_column(name: str, column: pd.Series, sanitize: bool) -> Column:
    """Decide how a column is written: numbers, booleans, dates (as Excel serial days) or text.

    Parameters
    ----------
    name : str
        The column's name (its kind of number follows from it, see :func:`column_kind`).
    column : pandas.Series
        The values.
    sanitize : bool
        Mark text that starts like a formula (``= + - @``, tab, CR and their full-width
        forms) for the ``quote_prefix`` format.

    Returns
    -------
    Column
    """
    import pandas as pd
    from pandas.api import types

    dtype = column.dtype
    if types.is_bool_dtype(dtype):
        return Column(name, "bool", column.astype(object).where(column.notna(), None).tolist(), None, 5)
    if types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:  # Excel has no time zones: the wall time
            column = column.dt.tz_localize(None)
        ns = column.to_numpy(dtype="datetime64[ns]")
        missing = np.isnat(ns)
        days = (ns - _EXCEL_EPOCH).astype(np.int64) / _NS_PER_DAY
        has_time = bool(((ns[~missing] - ns[~missing].astype("datetime64[D]")) != np.timedelta64(0)).any())
        fmt, width = ("datetime", 19) if has_time else ("date", 10)
        return Column(name, "number", _cells(days, ~missing), fmt, width)
    if types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return _number_column(name, column)
    # text: categorical, string and object columns; each distinct value converted once
    cells = per_distinct(column, _text_value)
    texts = list(pd.unique(cells))
    cut = 0
    if any(isinstance(v, str) and len(v) == MAX_TEXT and v.endswith("per cell]") for v in texts):
        originals = per_distinct(column, lambda v: len(v) > MAX_TEXT if isinstance(v, str) else False)
        cut = sum(1 for v in originals if v is True)
    quoted = _starts_like_formula(cells) if sanitize else None
    if quoted is not None and not quoted.any():
        quoted = None
    kind = "string" if all(isinstance(v, str) or v is None for v in texts) else "any"
    width = _text_width(texts if kind == "string" else [str(v) for v in texts if v is not None])
    return Column(name, kind, cells.tolist(), None, width, quoted, cut)


def write_rows(sheet: Any, first_row: int, columns: list[Column], formats: dict[str, Any], n_rows: int) -> None:
    """Write the first ``n_rows`` values of every column, row after row, from sheet row ``first_row``.

    Parameters
    ----------
    sheet : xlsxwriter.worksheet.Worksheet
        The sheet; rows before ``first_row`` are written already.
    first_row : int
        The sheet row (0-based) of the table's first row.
    columns : list of Column
        The prepared columns.
    formats : dict of str to xlsxwriter.format.Format
        The workbook's formats by key (``"quote"``, ``"date"``, ``"datetime"`` and each
        column's ``fmt``).
    n_rows : int
        How many rows to write.
    """
    quote, date, moment = formats["quote"], formats["date"], formats["datetime"]

    def write_any(row: int, col: int, value: Any, fmt: Any) -> Any:
        if isinstance(value, str):
            return sheet.write_string(row, col, value, fmt)
        if isinstance(value, (bool, np.bool_)):
            return sheet.write_boolean(row, col, bool(value), fmt)
        if isinstance(value, dt.datetime):
            has_time = bool(value.hour or value.minute or value.second or value.microsecond)
            return sheet.write_datetime(row, col, value.replace(tzinfo=None), moment if has_time else date)
        if isinstance(value, dt.date):
            return sheet.write_datetime(row, col, value, date)
        return sheet.write_number(row, col, value, fmt)

    plain = []  # (col, method, values, format) of columns with one format for every cell
    quoted = []  # (col, method, values, format, rows starting like a formula) of text columns with such rows
    for c, column in enumerate(columns):
        method = {"number": sheet.write_number, "string": sheet.write_string, "bool": sheet.write_boolean,
                  "any": write_any}[column.kind]
        fmt = formats[column.fmt] if column.fmt else None
        if column.quoted is None:
            plain.append((c, method, column.values, fmt))
        else:
            quoted.append((c, method, column.values, fmt, column.quoted.tolist()))
    if not quoted:
        for r in range(n_rows):
            row = first_row + r
            for c, write, values, fmt in plain:
                value = values[r]
                if value is not None:
                    write(row, c, value, fmt)
        return
    order = sorted([(c, w, v, f, None) for c, w, v, f in plain] + quoted, key=lambda spec: spec[0])
    for r in range(n_rows):
        row = first_row + r
        for c, write, values, fmt, marks in order:
            value = values[r]
            if value is not None:
                write(row, c, value, quote if marks is not None and marks[r] else fmt)
