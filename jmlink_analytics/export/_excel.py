"""``to_excel``: one workbook, a sheet per table, typed cells and never a formula.

Analysts forward workbooks, and colleagues open them in Excel or WPS. Each sheet has its
header frozen and an autofilter, columns as wide as their text (a Chinese character counts
as two), counts as integers (``#,##0``), rates, changes and points as the report page shows
them (``12.3%``, ``+531.9%``, ``+1.2 pp``), dates as dates, and a print setup (landscape, fit
to the page's width, the header row repeated on every page, a title and page numbers).

No cell is a formula, whatever the data say: XlsxWriter's ``strings_to_formulas``,
``strings_to_urls`` and ``strings_to_numbers`` are off, so every text is written as text,
exactly as it is. Text a spreadsheet would run as a formula once edited (``=``, ``+``, ``-``,
``@``...) carries the cell's quote-prefix attribute (XlsxWriter's ``quote_prefix``), which is
how Excel itself keeps such text: shown and filtered as the value, never a ``'`` in it.

Only XlsxWriter's public API is used (:mod:`._xlsx_rows` writes the rows in order, as its
constant-memory mode needs).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..display import column_label
from ._cells import FORMULA_TRIGGERS
from ._target import writing
from ._xlsx_rows import Column, display_width, fit_text, prepare_column, write_rows

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXCEL_MAX_COLUMNS", "EXCEL_MAX_ROWS", "check_sheet_name", "display_width", "fits_sheet", "to_excel"]

logger = logging.getLogger("jmlink_analytics")

#: Rows and columns of one Excel sheet (the header row included).
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
#: A workbook with a sheet longer than this is written in XlsxWriter's constant-memory mode.
CONSTANT_MEMORY_ROWS = 50_000
_MAX_WIDTH = 60  # column width cap, in characters
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
#: The cell formats, by key; numbers by :func:`~jmlink_analytics.display.column_kind` (see _xlsx_rows).
FORMATS: dict[str, dict[str, Any]] = {
    "header": {"bold": True, "bg_color": "#F2F2F2", "bottom": 1, "text_wrap": False, "valign": "top"},
    "header_quote": {"bold": True, "bg_color": "#F2F2F2", "bottom": 1, "valign": "top", "quote_prefix": True},
    "note": {"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"},
    "quote": {"quote_prefix": True},
    "count": {"num_format": "#,##0"},
    "int": {"num_format": "0"},
    "rate": {"num_format": "0.0%"},
    "change": {"num_format": "+#,##0.0%;-#,##0.0%;0.0%"},
    "points": {"num_format": '+0.0" pp";-0.0" pp";0.0" pp"'},
    "score": {"num_format": "+0.0;-0.0;0.0"},
    "float": {"num_format": "#,##0.00"},
    "date": {"num_format": "yyyy-mm-dd"},
    "datetime": {"num_format": "yyyy-mm-dd hh:mm:ss"},
}


def fits_sheet(n_rows: int) -> bool:
    """Whether a table of ``n_rows`` rows fits one Excel sheet under its header row.

    Examples
    --------
    >>> fits_sheet(1_048_575), fits_sheet(1_048_576)
    (True, False)
    """
    return n_rows <= EXCEL_MAX_ROWS - 1


def _too_long(name: str, n_rows: int) -> ValueError:
    return ValueError(f"sheet {name!r} has {n_rows:,} rows, more than Excel's {EXCEL_MAX_ROWS:,} (header "
                      "included); write the table with to_csv or write_dataset, and pass full_tables={sheet: where} "
                      "to write the first rows with a note saying where it is")


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


def _prepare(df: pd.DataFrame, sanitize: bool, labels: bool) -> tuple[list[str], list[Column]]:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"frames must be a pandas DataFrame or a dict of sheet name -> DataFrame; "
                        f"got {type(df).__name__}")
    if any(name is not None for name in df.index.names):
        df = df.reset_index(allow_duplicates=True)
    if df.shape[1] > EXCEL_MAX_COLUMNS:
        raise ValueError(f"a sheet holds at most {EXCEL_MAX_COLUMNS:,} columns; got {df.shape[1]:,}")
    names = [" / ".join(map(str, n)) if isinstance(n, tuple) else str(n) for n in df.columns]
    headers = [fit_text(column_label(n) if labels else n) for n in names]
    columns = [prepare_column(name, df.iloc[:, i], sanitize) for i, name in enumerate(names)]
    return headers, columns


def _header_footer(text: str) -> str:
    """Text for a page header or footer (Excel holds 255 characters): ``&`` doubled, as a lone one starts a code."""
    return text[:120].replace("&", "&&")


def _print_setup(sheet: Any, header_row: int, title: str) -> None:
    """Landscape, the width of every column on one page, the header row on every page, a title and page numbers."""
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row)
    sheet.set_header(f"&L&B{_header_footer(title)}")
    sheet.set_footer("&LPage &P of &N")


def _write_sheet(workbook: Any, sheet_name: str, df: pd.DataFrame, formats: dict[str, Any], options: dict[str, Any],
                 full_table: str | None) -> int:
    """Write one sheet; return the number of data rows written."""
    headers, columns = _prepare(df, options["sanitize"], options["labels"])
    sheet = workbook.add_worksheet(sheet_name)
    n_rows = len(df)
    lines = [options["notes"][sheet_name]] if sheet_name in options["notes"] else []
    if not fits_sheet(n_rows):
        if full_table is None:
            raise _too_long(sheet_name, n_rows)
        n_rows = EXCEL_MAX_ROWS - 2
        lines.append(f"This sheet shows the first {n_rows:,} of {len(df):,} rows (Excel's limit is "
                     f"{EXCEL_MAX_ROWS:,} rows). The full table: {full_table}")
        logger.warning("to_excel: sheet %r cut at %s of %s rows; the full table: %s", sheet_name,
                       f"{n_rows:,}", f"{len(df):,}", full_table)
    top = 1 if lines else 0
    if lines:
        sheet.write_string(0, 0, fit_text(" ".join(lines)), formats["note"])
    for c, (header, column) in enumerate(zip(headers, columns, strict=True)):
        width = min(max(column.width, display_width(header) + 3) + 2, _MAX_WIDTH)  # + 3: the filter button
        sheet.set_column(c, c, width, formats[column.fmt] if column.fmt else None)
        quoted = options["sanitize"] and header.startswith(FORMULA_TRIGGERS)
        sheet.write_string(top, c, header, formats["header_quote" if quoted else "header"])
        if column.cut:
            logger.warning("to_excel: %s cell(s) of column %r of sheet %r hold more than Excel's %s characters; "
                           "they are cut and end with a note saying so", f"{column.cut:,}", column.name,
                           sheet_name, f"{32_767:,}")
    if columns:
        sheet.freeze_panes(top + 1, 0)
        sheet.autofilter(top, 0, top + max(n_rows, 1), len(columns) - 1)
    _print_setup(sheet, top, f"{options['title']} – {sheet_name}" if options["title"] else sheet_name)
    write_rows(sheet, top + 1, columns, formats, n_rows)
    return n_rows


def to_excel(frames: Mapping[str, pd.DataFrame] | pd.DataFrame, path: str | os.PathLike[str], *,
             sanitize: bool = True, full_tables: Mapping[str, str] | None = None, labels: bool = False,
             title: str | None = None, notes: Mapping[str, str] | None = None) -> Path:
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
        Give text (and headers) beginning with ``=``, ``+``, ``-``, ``@``, a tab or a
        carriage return (or their full-width forms) the cell's quote-prefix attribute, so
        that editing the cell never turns it into a formula. The text itself is kept
        exactly; cells are never formulas either way.
    full_tables : dict of str to str, optional
        For sheets longer than Excel's 1,048,576 rows: where the full table is (e.g.
        ``{"daily": "daily.csv"}``). Such a sheet holds the first 1,048,574 rows under a
        note saying so and where the rest is. A longer table without an entry here is an
        error: nothing is cut silently.
    labels : bool, default False
        Headers in the report's words (:func:`~jmlink_analytics.display.column_label`:
        "Exposures", "Install rate change (pp)") instead of the column names.
    title : str, optional
        Printed at the top of every page, before the sheet's name.
    notes : dict of str to str, optional
        A note per sheet, written in its first row above the header (e.g. where the full
        table is when the sheet shows a summary of it).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        For a bad sheet name, a table wider than 16,384 columns, or one longer than Excel's
        row limit without a ``full_tables`` entry (before anything is written).
    OSError
        When the file cannot be written (a full disk, no permission), naming ``path``; no
        temporary file is left behind.

    Notes
    -----
    The number format of a column follows from its name, by the report's one rule
    (:func:`~jmlink_analytics.display.column_kind`): counts ``#,##0`` (integers, also when
    held as floats; ``0`` for ``id`` columns), rates ``0.0%``, relative changes
    ``+0.0%``, differences in points ``+0.0 pp``, scores ``+0.0``; other floats
    ``#,##0.00``. NaN and infinite values are empty cells; dates are Excel dates
    (``yyyy-mm-dd``, with the time when the column has one; time zones dropped, wall time
    kept); booleans TRUE/FALSE; everything else text, cut at Excel's 32,767 characters per
    cell with a note at its end (and a logged warning). The header row is frozen, bold,
    filtered and repeated on every printed page; pages are landscape and one page wide.
    Workbooks with a sheet over 50,000 rows are written in XlsxWriter's constant-memory
    mode. The file is written under a temporary name and moved into place.

    Examples
    --------
    >>> jm.to_excel({"by channel": jm.summarize(stats, by="channel", links=links)}, "channels.xlsx")
    PosixPath('channels.xlsx')
    """
    import pandas as pd
    import xlsxwriter
    from xlsxwriter.exceptions import XlsxFileError

    if isinstance(frames, pd.DataFrame):
        frames = {"Sheet1": frames}
    if not isinstance(frames, Mapping) or not frames:
        raise TypeError(f"frames must be a pandas DataFrame or a non-empty dict of sheet name -> DataFrame; "
                        f"got {type(frames).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}")
    for name, value in (("sanitize", sanitize), ("labels", labels)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False; got {value!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be None or a text; got {type(title).__name__}")
    full_tables = dict(full_tables or {})
    notes = dict(notes or {})
    if not all(isinstance(note, str) for note in notes.values()) or set(notes) - set(frames):
        raise ValueError(f"notes must map sheets of frames to texts; got {notes!r}")
    taken: set[str] = set()
    for name, frame in frames.items():
        check_sheet_name(name, taken)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frames[{name!r}] must be a pandas DataFrame; got {type(frame).__name__}")
        if not fits_sheet(len(frame)) and name not in full_tables:
            raise _too_long(name, len(frame))
    constant_memory = any(len(frame) > CONSTANT_MEMORY_ROWS for frame in frames.values())
    options = {"sanitize": sanitize, "labels": labels, "title": title, "notes": notes}
    target = Path(path).expanduser()
    with writing(target, also=(XlsxFileError,)) as temp:
        scratch = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".parts", dir=target.parent)
        try:  # XlsxWriter's own temporary files (row data, parts) go to a folder of ours, removed whatever happens
            workbook = xlsxwriter.Workbook(str(temp), {
                "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
                "constant_memory": constant_memory, "default_date_format": "yyyy-mm-dd", "tmpdir": scratch,
            })
            formats = {key: workbook.add_format(spec) for key, spec in FORMATS.items()}
            rows = {name: _write_sheet(workbook, name, frame, formats, options, full_tables.get(name))
                    for name, frame in frames.items()}
            workbook.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    logger.info("wrote %s (%d sheets, %s rows%s)", target, len(rows), f"{sum(rows.values()):,}",
                ", constant memory" if constant_memory else "")
    return target
