"""Column headers in the page's vocabulary: "Exposures", not ``exposure_count``.

:func:`column_label` names a column of the toolkit's tables as a person reads it, with the
unit of a change in the header (``install_rate_change_pp`` -> "Install rate change (pp)"), so
a workbook or a table can show numbers without repeating the unit in every cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import METRIC_LABELS, PLATFORM_LABELS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["column_label", "label_platforms"]

_NAMES = {
    "link_key": "Link key", "name": "Name", "channel": "Channel", "platform": "Platform", "date": "Date",
    "is_partial": "Partial day", "start": "From", "end": "To", "days": "Days", "direction": "Direction",
    "expected": "Expected clicks", "actual": "Clicks", "change": "Change (%)", "score": "Score",
    "links": "Links", "id": "ID", "app_domain": "App domain", "share_title": "Share title",
    "share_desc": "Share description", "android_uri": "Android URI", "ios_uri": "iOS URI",
    "jump_link_type": "Jump link type", "landing_page": "Landing page", "create_time": "Created",
    "update_time": "Updated", **METRIC_LABELS,
}
#: Suffixes of derived columns, longest first, and how they read after the base column's label.
_SUFFIXES = (("_rel_change", "change (%)"), ("_pct_change", "change (%)"), ("_change_pp", "change (pp)"),
             ("_change", "difference"), ("_current", "current"), ("_previous", "previous"),
             ("_android", "Android"), ("_ios", "iOS"), ("_all", "all platforms"))


def column_label(column: str) -> str:
    """The header of ``column`` as the report page words it; unknown names pass through.

    Parameters
    ----------
    column : str
        A column of the toolkit's tables (``click_count``, ``ctr_change_pp``, ``link_key``...).

    Returns
    -------
    str

    Examples
    --------
    >>> column_label("exposure_count"), column_label("install_rate_change_pp")
    ('Exposures', 'Install rate change (pp)')
    >>> column_label("click_count_rel_change"), column_label("click_count_ios"), column_label("my_column")
    ('Clicks change (%)', 'Clicks iOS', 'my_column')
    """
    if column in _NAMES:
        return _NAMES[column]
    for suffix, text in _SUFFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):
            base = column[: -len(suffix)]
            label = column_label(base)
            if label != base:
                return f"{label} {text}"
    return column


def label_platforms(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its ``platform`` values as people read them ("iOS", not ``ios``), for a page, sheet or widget.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table; only its ``platform`` column (if any) changes, in a copy.

    Returns
    -------
    pandas.DataFrame
        ``df`` itself when it has no ``platform`` column; otherwise a copy whose ``platform``
        holds :data:`~jmlink_analytics.schema.PLATFORM_LABELS` ("All platforms", "iOS",
        "Android"; other values unchanged) as text. CSV and Parquet files keep the API's values:
        they are machine data.

    Examples
    --------
    >>> import pandas as pd
    >>> label_platforms(pd.DataFrame({"platform": ["ios", "android", "all"]}))["platform"].tolist()
    ['iOS', 'Android', 'All platforms']
    """
    if "platform" not in df.columns:
        return df
    out = df.copy()
    out["platform"] = [PLATFORM_LABELS.get(str(p), str(p)) for p in df["platform"]]
    return out
