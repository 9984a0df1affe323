"""One HTML table helper for the report page and the dashboard.

:func:`html_table` escapes every cell (link names and channels are user input), formats each
through :func:`~jmlink_analytics.display.format_cell`, right-aligns numbers, and
styles inline, so the same table reads the same in the report (which adds its own CSS) and
in an ipywidgets ``HTML`` widget (which has none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING

from ._format import column_kind, format_cell

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["html_table"]

_CELL = "padding:3px 8px;border-bottom:1px solid #eaeef2"
_HEAD = "padding:3px 8px;border-bottom:1px solid #d0d7de;white-space:nowrap"


def html_table(df: pd.DataFrame, columns: Sequence[str], *, labels: Mapping[str, str] | None = None,
               kinds: Mapping[str, str] | None = None, top: int | None = None, highlight: str | None = None,
               numbered: bool = False, empty: str = "None.") -> str:
    """An escaped HTML table of ``df``'s ``columns`` (those it has), the first ``top`` rows.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    columns : sequence of str
        The columns to show, in order; those ``df`` lacks are skipped.
    labels : mapping, optional
        Header text per column (the column name otherwise).
    kinds : mapping, optional
        The :func:`format_cell` kind per column; by default :func:`column_kind` of its name.
    top : int, optional
        Show only the first ``top`` rows, with a note saying how many there are.
    highlight : str, optional
        A column shown in bold with an underlined header (the dashboard's sort column).
    numbered : bool, default False
        Add a first column ``#`` counting the rows from 1.
    empty : str, default "None."
        The text (a paragraph, escaped) when ``df`` has no rows.

    Returns
    -------
    str
        ``<div class="scroll"><table>...</table></div>`` and, when rows were left out, a note.
    """
    if df.empty:
        return f'<p class="note"><i>{escape(empty)}</i></p>'
    shown = [c for c in columns if c in df.columns]
    labels = labels or {}
    kinds = {c: (kinds or {}).get(c) or column_kind(c) for c in shown}
    head = [f'<th style="{_HEAD};text-align:right">#</th>'] if numbered else []
    for column in shown:
        align = "left" if kinds[column] in ("text", "date") else "right"
        mark = ";text-decoration:underline" if column == highlight else ""
        # padded like the cells below: without a stylesheet (an ipywidgets HTML) headers would run together
        head.append(f'<th style="{_HEAD};text-align:{align}{mark}">{escape(labels.get(column, column))}</th>')
    rows = []
    frame = df[shown] if top is None else df[shown].head(top)
    for i, record in enumerate(frame.itertuples(index=False, name=None), start=1):
        cells = [f'<td class="num" style="{_CELL};text-align:right">{i}</td>'] if numbered else []
        for column, value in zip(shown, record, strict=True):
            kind = kinds[column]
            text = escape(format_cell(value, kind))
            weight = ";font-weight:600" if column == highlight else ""
            if kind in ("text", "date"):
                cells.append(f'<td style="{_CELL}{weight}">{text}</td>')
            else:
                cells.append(f'<td class="num" style="{_CELL};text-align:right;'
                             f'font-variant-numeric:tabular-nums{weight}">{text}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    more = (f'<p class="note">The first {top:,} of {len(df):,} rows.</p>'
            if top is not None and len(df) > top else "")
    return ('<div class="scroll"><table style="border-collapse:collapse;font-size:12px">'
            f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}")
