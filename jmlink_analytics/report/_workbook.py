"""What the report puts in ``report.xlsx``: the sheets, in order, and how the daily table fits a sheet.

:func:`write_workbook` is called by :func:`~jmlink_analytics.write_report` with the analysis
(:class:`._analysis.ReportData`); it decides the sheets and writes them with
:func:`~jmlink_analytics.to_excel`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..export._excel import EXCEL_MAX_ROWS, to_excel

if TYPE_CHECKING:
    import pandas as pd

    from ._analysis import ReportData

__all__ = ["SHEETS", "write_workbook"]

logger = logging.getLogger("jmlink_analytics")

#: The sheets of report.xlsx, in order: table -> sheet name.
SHEETS = {"daily": "daily", "summary_by_link": "by link", "summary_by_channel": "by channel",
          "summary_by_platform": "by platform", "period_comparison": "period comparison", "anomalies": "anomalies",
          "links": "links"}


def write_workbook(data: ReportData, out: Path, written: dict[str, Path],
                   write_csv: Callable[[pd.DataFrame, Path], Path]) -> dict[str, Path]:
    """Write ``report.xlsx`` (and ``daily.csv`` when the workbook must point to a full table not yet written).

    Parameters
    ----------
    data : ReportData
        The analysis.
    out : pathlib.Path
        The report folder.
    written : dict of str to pathlib.Path
        The files already written (``daily.csv``, ``daily.parquet`` may hold the full table).
    write_csv : callable
        ``(table, path) -> path``: how the report writes a CSV file (its encoding and rounding).

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by name.
    """
    files: dict[str, Path] = {}
    daily = data.tables["daily"]
    full_tables = {}
    if len(daily) > EXCEL_MAX_ROWS - 1:
        if "daily.csv" not in written and "daily.parquet" not in written:
            logger.warning("write_report: %s daily rows do not fit in one Excel sheet; writing daily.csv as well, "
                           "so the full table is in the folder", f"{len(daily):,}")
            files["daily.csv"] = write_csv(daily, out / "daily.csv")
        where = [name for name in ("daily.csv", "daily.parquet") if name in written or name in files]
        full_tables["daily"] = " and ".join(where) + " in the same folder as this workbook"
    sheets = {sheet: data.tables[table] for table, sheet in SHEETS.items() if table in data.tables}
    files["report.xlsx"] = to_excel(sheets, out / "report.xlsx", full_tables=full_tables)
    return files
