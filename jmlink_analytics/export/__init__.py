"""Every file format in one room, all safe to open in Excel: CSV (BOM, no formulas)."""

from __future__ import annotations

from ._csv import to_csv

__all__ = ["to_csv"]
