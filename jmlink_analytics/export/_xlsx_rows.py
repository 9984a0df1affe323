"""Rows of a large sheet as SpreadsheetML, each distinct value rendered once (constant-memory mode only).

XlsxWriter renders every cell through several Python calls (about 7 µs a cell here), so a
730,000-row daily sheet of 13 columns takes over a minute. In constant-memory mode XlsxWriter
streams each finished row into a temporary file and copies that file into the sheet at the
end; :func:`write_rows` appends the middle rows to that same file as XlsxWriter would have
written them (``<row r=..><c r=.. s=..>``), with each column's distinct values rendered once
and the rows joined in chunks. The header and the last row still go through XlsxWriter's
public API, so its bookkeeping (dimensions, the row it flushes at close) stays its own.

Only three kinds of cell are ever produced: numbers (``<v>``), booleans (``t="b"``) and inline
strings (``t="inlineStr"``), escaped as XlsxWriter escapes them. There is no formula element.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["CHUNK_ROWS", "supported", "write_rows"]

CHUNK_ROWS = 32_768
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_ESCAPED_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_MAX_TEXT = 32_767


def supported(sheet: Any) -> bool:
    """Whether ``sheet`` streams rows to a file this module can append to (XlsxWriter's constant-memory mode)."""
    return bool(getattr(sheet, "constant_memory", False)) and all(
        hasattr(sheet, name) for name in ("_write_single_row", "row_data_fh", "previous_row"))


def _text(value: str) -> str:
    """An inline string cell's ``<is>`` content, escaped as XlsxWriter escapes it."""
    value = value[:_MAX_TEXT]
    value = _ESCAPED_ESCAPE.sub(r"_x005F\1", value)
    value = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", value)
    value = value.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f"<is><t{space}>{value}</t></is>"


def _style(xf: int | None) -> str:
    return f' s="{xf}"' if xf else ""


def cell_tail(value: Any, kind: str, xf: int | None, date_xf: tuple[int | None, int | None]) -> str:
    """The part of a ``<c r="A2"...`` element after the cell reference, for one value."""
    if value is None:
        return f'"{_style(xf)}/>'
    if kind == "string" or (kind == "any" and isinstance(value, str)):
        return f'"{_style(xf)} t="inlineStr">{_text(value)}</c>'
    if kind == "bool" or (kind == "any" and isinstance(value, (bool, np.bool_))):
        return f'"{_style(xf)} t="b"><v>{int(bool(value))}</v></c>'
    if kind == "any" and isinstance(value, dt.datetime):
        serial = (value.replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86_400
        has_time = bool(value.hour or value.minute or value.second or value.microsecond)
        return f'"{_style(date_xf[1] if has_time else date_xf[0])}><v>{serial:.16G}</v></c>'
    if kind == "any" and isinstance(value, dt.date):
        return f'"{_style(date_xf[0])}><v>{(value - _EXCEL_EPOCH.date()).days:.16G}</v></c>'
    return f'"{_style(xf)}><v>{float(value):.16G}</v></c>'


def _tails(values: np.ndarray, render: Callable[[Any], str]) -> np.ndarray:
    """``render`` of every value, called once per distinct value (missing: ``None``)."""
    import pandas as pd

    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:
        return np.array([render(v) for v in values], dtype=object)
    if uniques.dtype == object and len({type(v) for v in uniques}) > 1:  # 1 and True hash alike: one by one
        return np.array([render(v) for v in values], dtype=object)
    rendered = np.empty(len(uniques) + 1, dtype=object)
    rendered[:-1] = [render(v) for v in uniques.tolist()]
    rendered[-1] = render(None)
    return rendered[np.where(codes < 0, len(uniques), codes)]


def write_rows(sheet: Any, first_row: int, columns: Sequence[tuple[np.ndarray, str, int | None]], start: int,
               stop: int, date_xf: tuple[int | None, int | None]) -> None:
    """Append the data rows ``start .. stop - 1`` (0-based within the table) to the sheet's row file.

    Parameters
    ----------
    sheet : xlsxwriter.worksheet.Worksheet
        A sheet in constant-memory mode whose rows above ``first_row`` are all written.
    first_row : int
        The sheet row (0-based) of the table's row 0.
    columns : sequence of (values, kind, xf)
        Per column: an object array of cell values (``None`` for an empty cell), the kind
        (``"number"``, ``"string"``, ``"bool"``, ``"any"``) and the format's index.
    start, stop : int
        The table rows to write.
    date_xf : (int or None, int or None)
        The format indexes of dates and of date-times, for dates in ``"any"`` columns.
    """
    from xlsxwriter.utility import xl_col_to_name

    sheet._write_single_row(first_row + start)  # flush what XlsxWriter holds (the header) before our rows
    prefixes = [f'<c r="{xl_col_to_name(c)}' for c in range(len(columns))]
    tails = [_tails(values, lambda v, k=kind, x=xf: cell_tail(v, k, x, date_xf)) for values, kind, xf in columns]
    out = sheet.row_data_fh
    for at in range(start, stop, CHUNK_ROWS):
        end = min(at + CHUNK_ROWS, stop)
        numbers = [str(first_row + r + 1) for r in range(at, end)]
        parts: list[Any] = [itertools.repeat('<row r="'), numbers, itertools.repeat('">')]
        for prefix, tail in zip(prefixes, tails, strict=True):
            parts += [itertools.repeat(prefix), numbers, tail[at:end]]
        parts.append(itertools.repeat("</row>"))
        out.write("".join(map("".join, zip(*parts, strict=False))))  # the repeat()s are endless
    sheet.previous_row = first_row + stop
