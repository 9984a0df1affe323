"""Every file format in one room, all safe to open in Excel: CSV (BOM, no formulas), the Excel
workbook, Parquet files and the Hive-partitioned Parquet dataset a warehouse reads."""

from __future__ import annotations

from ._csv import check_encoding, prepare_frame, to_csv
from ._dataset import dataset_days, empty_stats, read_dataset, write_dataset
from ._excel import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, fits_sheet, to_excel
from ._layout import Shape, check_app, check_shape, platform_mode
from ._links_table import links_root, read_links_table
from ._parquet import PARQUET_HINT, require_pyarrow, write_parquet

# The users' API (also at the top level: to_csv, to_excel, read_dataset, write_dataset,
# read_links_table) and the seams the command line and the report build on.
__all__ = [
    "EXCEL_MAX_COLUMNS",
    "EXCEL_MAX_ROWS",
    "PARQUET_HINT",
    "Shape",
    "check_app",
    "check_encoding",
    "check_shape",
    "dataset_days",
    "empty_stats",
    "fits_sheet",
    "links_root",
    "platform_mode",
    "prepare_frame",
    "read_dataset",
    "read_links_table",
    "require_pyarrow",
    "to_csv",
    "to_excel",
    "write_dataset",
    "write_parquet",
]
