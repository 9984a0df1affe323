"""How a value is shown to a person, once for every view: the report page, the workbook and the dashboard.

:func:`format_cell` turns a count, a rate, a change or a date into the text of a table cell;
:func:`column_kind` and :func:`metric_kind` decide which of those a column holds;
:func:`column_label` names a column as the page does (its header), :func:`label_platforms` its platforms;
:func:`html_table` lays a frame out as the HTML table the report page and the dashboard share.
"""

from __future__ import annotations

from ._format import KINDS, MISSING, change_sign, column_kind, format_cell, is_missing, metric_kind
from ._html import html_table
from ._labels import column_label, label_platforms

__all__ = ["KINDS", "MISSING", "change_sign", "column_kind", "column_label", "format_cell", "html_table", "is_missing",
           "label_platforms", "metric_kind"]
