"""What the dashboard's Export writes: the selected daily rows as the report's ``daily.csv``, as CSV or a workbook.

The file's name says its format, as on the command line: ``.csv`` or ``.xlsx``. Any other name
(``sel.txt``, ``sel``) is refused before anything is written: it would hold CSV under a name
that says otherwise.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

__all__ = ["EXPORT_SUFFIXES", "export_frame", "export_target", "write_export"]

logger = logging.getLogger("jmlink_analytics")

#: What Export writes for each suffix of its path.
EXPORT_SUFFIXES = {".csv": "CSV", ".xlsx": "an Excel workbook"}


def export_target(raw: str | Path) -> Path:
    """The path to write, from the *Export to* box or ``export(path)``; ``ValueError`` naming the allowed suffixes."""
    if not str(raw).strip():
        raise ValueError("the export path is empty: type a file name such as dashboard_selection.csv or .xlsx")
    target = Path(raw).expanduser()
    suffix = target.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        allowed = " or ".join(f"{s} ({what})" for s, what in EXPORT_SUFFIXES.items())
        raise ValueError(f"the export path must end in {allowed}; got {suffix or 'no suffix'} in {str(raw)!r}")
    return target


def export_frame(rows: pd.DataFrame, link_table: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of the stats as ``daily.csv`` of the report has them: name, channel, counters, rates."""
    from ..metrics import add_rates, join_links

    frame = join_links(rows.reset_index(drop=True), link_table)
    columns = list(frame.columns)
    for offset, column in enumerate(("name", "channel")):  # right after link_key, as in daily.csv
        columns.remove(column)
        columns.insert(columns.index("link_key") + 1 + offset, column)
    return add_rates(frame[columns])


def write_export(frame: pd.DataFrame, target: Path) -> Path:
    """Write ``frame`` to ``target`` (checked by :func:`export_target`): a workbook for ``.xlsx``, else CSV."""
    from ..export import to_csv, to_excel

    if target.suffix.lower() == ".xlsx":  # a workbook: typed cells, frozen header, never a formula
        written = Path(to_excel({"selection": frame}, target))
    else:
        written = Path(to_csv(frame, target))
    logger.info("dashboard: wrote %d rows to %s", len(frame), written)
    return written
