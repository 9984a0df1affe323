"""``to_excel``: one workbook, a sheet per table, typed cells and never a formula.

Analysts forward workbooks, and colleagues open them in Excel or WPS. Each sheet has its
header frozen and an autofilter, columns as wide as their text (a Chinese character counts
as two), counts as integers, rates as numbers shown ``0.00%`` and dates as dates.

No cell is a formula, whatever the data say: XlsxWriter's ``strings_to_formulas``,
``strings_to_urls`` and ``strings_to_numbers`` are off, so every text is written as text,
and text that a spreadsheet would run as a formula once edited or saved as CSV is
neutralized by the same rule as the CSV files (:func:`._cells.neutralize`).
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._files import atomic_path
from ..schema import RATES
from . import _xlsx_rows
from ._cells import neutralize, per_distinct

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXCEL_MAX_COLUMNS", "EXCEL_MAX_ROWS", "to_excel"]

logger = logging.getLogger("jmlink_analytics")

#: Rows and columns of one Excel sheet (the header row included).
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
#: A workbook with a sheet longer than this is written in XlsxWriter's constant-memory mode.
CONSTANT_MEMORY_ROWS = 50_000
_MAX_TEXT = 32_767  # characters of one cell
_MAX_WIDTH = 60  # column width cap, in characters
_WIDTH_SAMPLE = 20_000  # distinct texts measured per column
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_EXCEL_EPOCH = np.datetime64("1899-12-30", "ns")  # Excel's day 0 (1900 date system, after its leap-year bug)
_NS_PER_DAY = 86_400 * 10**9
_FORMATS = {
    "header": {"bold": True, "bg_color": "#F2F2F2", "bottom": 1, "text_wrap": False, "valign": "top"},
    "note": {"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"},
    "count": {"num_format": "#,##0"},
    "int": {"num_format": "0"},
    "rate": {"num_format": "0.00%"},
    "points": {"num_format": '+0.00" pp";-0.00" pp";0.00" pp"'},
    "float": {"num_format": "#,##0.00"},
    "date": {"num_format": "yyyy-mm-dd"},
    "datetime": {"num_format": "yyyy-mm-dd hh:mm:ss"},
    "blank": {},
}


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: East Asian wide and full-width characters count as two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def check_sheet_name(name: Any, taken: set[str]) -> str:
    """Return ``name`` if Excel accepts it as a sheet name not yet in ``taken`` (lower-cased names)."""
    allowed = "a text of 1 to 31 characters without [ ] : * ? / \\, not starting or ending with ', unique"
    if not isinstance(name, str) or not 1 <= len(name) <= 31 or _BAD_SHEET_CHARS.search(name) \
            or name.startswith("'") or name.endswith("'") or name.lower() == "history":
        raise ValueError(f"sheet names must be {allowed}; got {name!r}")
    if name.lower() in taken:
        raise ValueError(f"sheet names must be {allowed} (Excel ignores case); got {name!r} twice")
    taken.add(name.lower())
    return name


def _is_points(name: str) -> bool:
    """A difference of two rates in percentage points (``ctr_change_pp``): a number shown ``+0.70 pp``."""
    return name.endswith("_change_pp")


def _is_rate(name: str) -> bool:
    """A rate or a relative change, a fraction shown as a percentage (0.25 is 25.00%)."""
    return name in RATES or name.endswith(("_pct_change", "_rel_change")) \
        or any(name.startswith(f"{rate}_") for rate in RATES)


class _Column:
    """One column of a sheet, ready to write: the values, the XlsxWriter method, the format, the width."""

    def __init__(self, name: str, kind: str, values: Any, fmt: str | None, width: int):
        self.name, self.kind, self.values, self.fmt, self.width = name, kind, values, fmt, width


def _text_width(values: Any) -> int:
    widths = [display_width(v) for v in values[:_WIDTH_SAMPLE] if isinstance(v, str)]
    return max(widths, default=0)


def _column(name: str, column: pd.Series, sanitize: bool) -> _Column:
    """Decide how a column is written: numbers, booleans, dates (as Excel serial days) or text."""
    import pandas as pd
    from pandas.api import types

    dtype = column.dtype
    if types.is_bool_dtype(dtype):
        values = column.astype(object).where(column.notna(), None).to_numpy()
        return _Column(name, "bool", values, None, 5)
    if types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:  # Excel has no time zones: the wall time
            column = column.dt.tz_localize(None)
        ns = column.to_numpy(dtype="datetime64[ns]")
        missing = np.isnat(ns)
        days = (ns - _EXCEL_EPOCH).astype(np.int64) / _NS_PER_DAY
        has_time = bool(((ns[~missing] - ns[~missing].astype("datetime64[D]")) != np.timedelta64(0)).any())
        values = np.where(missing, None, days.astype(object))
        return _Column(name, "number", values, "datetime" if has_time else "date", 19 if has_time else 10)
    if types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        floats = column.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(floats)
        if types.is_integer_dtype(dtype):
            ints = column.to_numpy(dtype=object, na_value=None)
            largest = int(np.abs(floats[finite]).max()) if finite.any() else 0
            fmt = "int" if name == "id" or name.endswith("_id") else "count"
            width = len(f"{largest:,}") + 1
            return _Column(name, "number", np.where(finite, ints, None), fmt, width)
        values = np.where(finite, floats.astype(object), None)  # NaN and inf: empty cells (Excel has neither)
        if _is_points(name):
            return _Column(name, "number", values, "points", 11)
        if _is_rate(name):
            return _Column(name, "number", values, "rate", 9)
        largest = float(np.abs(floats[finite]).max()) if finite.any() else 0.0
        return _Column(name, "number", values, "float", len(f"{largest:,.2f}") + 1)
    # text: categorical, string and object columns; each distinct value converted once
    cells = per_distinct(column, lambda v: _text_value(v, sanitize))
    distinct = column.cat.categories if isinstance(dtype, pd.CategoricalDtype) else pd.unique(cells)
    texts = [_text_value(v, sanitize) for v in distinct[:_WIDTH_SAMPLE]] \
        if isinstance(dtype, pd.CategoricalDtype) else list(distinct)
    if all(isinstance(v, str) or v is None for v in texts):
        too_long = [v for v in texts if isinstance(v, str) and len(v) > _MAX_TEXT]
        if too_long:
            logger.warning("to_excel: column %r has text longer than Excel's %d characters per cell; it is cut",
                           name, _MAX_TEXT)
        return _Column(name, "string", cells, None, _text_width(texts))
    return _Column(name, "any", cells, None, _text_width([str(v) for v in texts if v is not None]))


def _text_value(value: Any, sanitize: bool) -> Any:
    """A value of a text column: strings neutralized; numbers, booleans and dates stay typed."""
    import datetime as dt

    if isinstance(value, str):
        return neutralize(value) if sanitize else value
    if isinstance(value, (bool, int, float, dt.date, dt.datetime)) or hasattr(value, "dtype"):
        return value
    return neutralize(str(value)) if sanitize else str(value)


def _prepare(df: pd.DataFrame, sanitize: bool) -> tuple[list[str], list[_Column]]:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"frames must be a pandas DataFrame or a dict of sheet name -> DataFrame; "
                        f"got {type(df).__name__}")
    if any(name is not None for name in df.index.names):
        df = df.reset_index(allow_duplicates=True)
    if df.shape[1] > EXCEL_MAX_COLUMNS:
        raise ValueError(f"a sheet holds at most {EXCEL_MAX_COLUMNS:,} columns; got {df.shape[1]:,}")
    names = [" / ".join(map(str, n)) if isinstance(n, tuple) else str(n) for n in df.columns]
    headers = [neutralize(n) if sanitize else n for n in names]
    columns = [_column(name, df.iloc[:, i], sanitize) for i, name in enumerate(names)]
    return headers, columns


def _any_writer(sheet: Any, formats: dict[str, Any]) -> Any:
    """XlsxWriter's ``write`` for mixed columns, with dates shown with their time of day when they have one."""
    import datetime as dt

    def write(row: int, col: int, value: Any, fmt: Any) -> Any:
        if isinstance(value, dt.datetime):
            has_time = bool(value.hour or value.minute or value.second or value.microsecond)
            shown = formats["datetime" if has_time else "date"]
            return sheet.write_datetime(row, col, value.replace(tzinfo=None), shown)
        if isinstance(value, dt.date):
            return sheet.write_datetime(row, col, value, formats["date"])
        return sheet.write(row, col, value, fmt)

    return write


def _write_sheet(workbook: Any, sheet_name: str, df: pd.DataFrame, formats: dict[str, Any], sanitize: bool,
                 full_table: str | None) -> int:
    """Write one sheet; return the number of data rows written."""
    headers, columns = _prepare(df, sanitize)
    sheet = workbook.add_worksheet(sheet_name)
    n_rows = len(df)
    top = 0
    if n_rows > EXCEL_MAX_ROWS - 1:
        if full_table is None:
            raise ValueError(f"sheet {sheet_name!r} has {n_rows:,} rows, more than Excel's {EXCEL_MAX_ROWS:,} "
                             "(header included); write the table with to_csv or write_dataset, and pass "
                             "full_tables={sheet: where} to write the first rows with a note saying where it is")
        top = 1
        n_rows = EXCEL_MAX_ROWS - 2
        note = (f"This sheet shows the first {n_rows:,} of {len(df):,} rows (Excel's limit is {EXCEL_MAX_ROWS:,} "
                f"rows). The full table: {full_table}")
        sheet.write_string(0, 0, neutralize(note), formats["note"])
        logger.warning("to_excel: sheet %r cut at %s of %s rows; the full table: %s", sheet_name,
                       f"{n_rows:,}", f"{len(df):,}", full_table)
    for c, (header, column) in enumerate(zip(headers, columns, strict=True)):
        width = min(max(column.width, display_width(header) + 3) + 2, _MAX_WIDTH)  # + 3: the filter button
        sheet.set_column(c, c, width, formats[column.fmt] if column.fmt else None)
        sheet.write_string(top, c, header, formats["header"])
    if columns:
        sheet.freeze_panes(top + 1, 0)
        sheet.autofilter(top, 0, top + max(n_rows, 1), len(columns) - 1)
    done = 0
    streamable = _xlsx_rows.supported(sheet) and all(hasattr(f, "_get_xf_index") for f in formats.values())
    if n_rows > 1 and streamable:  # constant-memory mode: the middle rows rendered per distinct value
        xf = {key: fmt._get_xf_index() for key, fmt in formats.items()}
        specs = [(column.values, column.kind, xf[column.fmt] if column.fmt else None) for column in columns]
        _xlsx_rows.write_rows(sheet, top + 1, specs, 0, n_rows - 1, (xf["date"], xf["datetime"]))
        done = n_rows - 1
    writers = []
    for c, column in enumerate(columns):
        method = {"number": sheet.write_number, "string": sheet.write_string, "bool": sheet.write_boolean,
                  "any": _any_writer(sheet, formats)}[column.kind]
        writers.append((c, method, column.values, formats[column.fmt] if column.fmt else None))
    for r in range(done, n_rows):
        row = top + 1 + r
        for c, write, values, fmt in writers:
            value = values[r]
            if value is not None:
                write(row, c, value, fmt)
            elif done:  # the last row after streamed ones: a blank cell keeps the sheet's dimensions right
                sheet.write_blank(row, c, None, fmt or formats["blank"])
    return n_rows


def to_excel(frames: Mapping[str, pd.DataFrame] | pd.DataFrame, path: str | os.PathLike[str], *,
             sanitize: bool = True, full_tables: Mapping[str, str] | None = None) -> Path:
    """Write one or more tables as an Excel workbook (``.xlsx``), one sheet per table.

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame, or pandas.DataFrame
        The sheets, in order, by name (1 to 31 characters, no ``[ ] : * ? / \\``, unique
        ignoring case). One DataFrame gives one sheet named ``Sheet1``. A named index (a
        ``groupby`` result) is written as leading columns; row numbers are not.
    path : str or os.PathLike
        The file; missing parent folders are created, ``~`` is expanded.
    sanitize : bool, default True
        Prefix ``'`` to text (and headers) beginning with ``=``, ``+``, ``-``, ``@``, a tab
        or a carriage return, as :func:`~jmlink_analytics.to_csv` does. Cells are never
        formulas either way; this keeps them from becoming one when edited or saved as CSV.
    full_tables : dict of str to str, optional
        For sheets longer than Excel's 1,048,576 rows: where the full table is (e.g.
        ``{"daily": "daily.csv"}``). Such a sheet holds the first 1,048,574 rows under a
        note saying so and where the rest is. A longer table without an entry here is an
        error: nothing is cut silently.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        For a bad sheet name, a table wider than 16,384 columns, or one longer than Excel's
        row limit without a ``full_tables`` entry (before anything is written).

    Notes
    -----
    Integers are written as numbers shown ``#,##0`` (``0`` for ``id`` columns); rates (the
    columns of :data:`~jmlink_analytics.RATES`, their ``_current``/``_previous``/``_change``
    forms and ``*_pct_change``) as numbers shown ``0.00%``; other floats as ``#,##0.00``;
    NaN and infinite values as empty cells; dates as Excel dates (``yyyy-mm-dd``, with the
    time when the column has one; time zones dropped, wall time kept); booleans as
    TRUE/FALSE; everything else as text. The header row is frozen, bold and filtered.
    Workbooks with a sheet over 50,000 rows are written in XlsxWriter's constant-memory
    mode. The file is written under a temporary name and moved into place.

    Examples
    --------
    >>> to_excel({"by channel": summarize(stats, by="channel", links=links)}, "channels.xlsx")  # doctest: +SKIP
    PosixPath('channels.xlsx')
    """
    import pandas as pd
    import xlsxwriter

    if isinstance(frames, pd.DataFrame):
        frames = {"Sheet1": frames}
    if not isinstance(frames, Mapping) or not frames:
        raise TypeError(f"frames must be a pandas DataFrame or a non-empty dict of sheet name -> DataFrame; "
                        f"got {type(frames).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}")
    if not isinstance(sanitize, bool):
        raise TypeError(f"sanitize must be True or False; got {sanitize!r}")
    full_tables = dict(full_tables or {})
    taken: set[str] = set()
    for name, frame in frames.items():
        check_sheet_name(name, taken)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frames[{name!r}] must be a pandas DataFrame; got {type(frame).__name__}")
        if len(frame) > EXCEL_MAX_ROWS - 1 and name not in full_tables:
            raise ValueError(f"sheet {name!r} has {len(frame):,} rows, more than Excel's {EXCEL_MAX_ROWS:,} "
                             "(header included); write the table with to_csv or write_dataset, and pass "
                             "full_tables={sheet: where} to write the first rows with a note saying where it is")
    constant_memory = any(len(frame) > CONSTANT_MEMORY_ROWS for frame in frames.values())
    target = Path(path).expanduser()
    with atomic_path(target) as temp:
        workbook = xlsxwriter.Workbook(str(temp), {
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            "constant_memory": constant_memory, "default_date_format": "yyyy-mm-dd",
            "tmpdir": str(target.parent),
        })
        try:
            formats = {key: workbook.add_format(spec) for key, spec in _FORMATS.items()}
            rows = {name: _write_sheet(workbook, name, frame, formats, sanitize, full_tables.get(name))
                    for name, frame in frames.items()}
        finally:
            workbook.close()
    logger.info("wrote %s (%d sheets, %s rows%s)", target, len(rows), f"{sum(rows.values()):,}",
                ", constant memory" if constant_memory else "")
    return target

