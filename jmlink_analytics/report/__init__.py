"""The report: the numbers (:mod:`._analysis`), the charts and tables written as files, one HTML page."""

from __future__ import annotations

from ._analysis import daily_table
from ._write import REPORT_FORMATS, write_report

__all__ = ["REPORT_FORMATS", "daily_table", "write_report"]
