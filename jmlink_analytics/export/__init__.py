"""Every file format in one room, all safe to open in Excel: CSV (BOM, no formulas), the Excel
workbook, Parquet files and the Hive-partitioned Parquet dataset a warehouse reads."""

from __future__ import annotations

from ._csv import to_csv
from ._dataset import read_dataset, write_dataset
from ._excel import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, fits_sheet, to_excel

__all__ = ["EXCEL_MAX_COLUMNS", "EXCEL_MAX_ROWS", "fits_sheet", "read_dataset", "to_csv", "to_excel", "write_dataset"]
