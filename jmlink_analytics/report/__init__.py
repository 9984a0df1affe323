"""The report: the numbers (:mod:`._analysis`), the charts and tables written as files, one HTML page."""

from __future__ import annotations

from ._write import write_report

__all__ = ["write_report"]
