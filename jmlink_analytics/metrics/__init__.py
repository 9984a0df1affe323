"""DataFrames in, DataFrames out: sums, rates, periods, funnels, anomalies.

The platform rule (:func:`count_once`) decides which rows of a stats table count, so that a
table holding ``all`` and per-platform rows never counts a click twice.
"""

from __future__ import annotations

from ._groups import count_once, freq_alias, group_labels, platform_mask  # the last three: for plotting, widgets
from ._summaries import add_rates, compare_periods, find_anomalies, funnel, join_links, summarize, trend_data

__all__ = [
    "add_rates",
    "compare_periods",
    "count_once",
    "find_anomalies",
    "freq_alias",
    "funnel",
    "group_labels",
    "join_links",
    "platform_mask",
    "summarize",
    "trend_data",
]
