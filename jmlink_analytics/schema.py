"""The shared vocabulary of jmlink-analytics: column names, metrics, platforms and their labels.

Defined here once and imported everywhere else (the sandbox keeps its own copy on purpose:
it is the other side of the API contract). This module imports neither pandas nor anything
else of ours, so the HTTP client can use it without the data stack.
"""

from __future__ import annotations

__all__ = [
    "COUNTERS",
    "LINK_COLUMNS",
    "METRICS",
    "METRIC_LABELS",
    "PLATFORMS",
    "PLATFORM_LABELS",
    "RATES",
    "STAGES",
    "STATS_COLUMNS",
    "metric_label",
]

#: The four daily counters of ``GET /v1/links/{link_key}/stat``, in funnel order.
COUNTERS: tuple[str, ...] = ("exposure_count", "click_count", "open_count", "install_count")

#: Each rate and its (numerator, denominator) counters; rates are ratios of sums, never averages.
RATES: dict[str, tuple[str, str]] = {
    "ctr": ("click_count", "exposure_count"),
    "open_rate": ("open_count", "click_count"),
    "install_rate": ("install_count", "click_count"),
}

#: Every metric a table, chart or dashboard can show: the counters, then the rates.
METRICS: tuple[str, ...] = (*COUNTERS, *RATES)

#: The funnel's stages, one per counter.
STAGES: tuple[str, ...] = ("exposure", "click", "open", "install")

#: The values of the stat endpoint's ``platform`` parameter (and of the stats table's column).
PLATFORMS: tuple[str, ...] = ("all", "ios", "android")

#: Display labels of the platforms, for charts, tables, the page and the dashboard (the data keep the API's values).
PLATFORM_LABELS: dict[str, str] = {"all": "All platforms", "ios": "iOS", "android": "Android"}

#: The columns of :func:`~jmlink_analytics.fetch_stats`' tidy table, in order.
STATS_COLUMNS: tuple[str, ...] = ("link_key", "platform", "date", *COUNTERS, "is_partial")

#: The columns of :func:`~jmlink_analytics.fetch_links`' table: the API's record fields, in its order.
LINK_COLUMNS: tuple[str, ...] = (
    "id", "link_key", "name", "channel", "app_domain", "share_title", "share_desc", "android_uri", "ios_uri",
    "jump_link_type", "landing_page", "create_time", "update_time",
)

#: Short display labels of the metrics, for table headers, legends and widgets.
METRIC_LABELS: dict[str, str] = {
    "exposure_count": "Exposures",
    "click_count": "Clicks",
    "open_count": "Opens",
    "install_count": "Installs",
    "ctr": "CTR",
    "open_rate": "Open rate",
    "install_rate": "Install rate",
}

#: Long labels of the rates, which say what they divide (axis labels and report captions).
_RATE_DEFINITIONS: dict[str, str] = {
    "ctr": "CTR (clicks / exposures)",
    "open_rate": "Open rate (opens / clicks)",
    "install_rate": "Install rate (installs / clicks)",
}


def metric_label(metric: str, *, long: bool = False) -> str:
    """The display label of ``metric`` (a rate's long label says what it divides); unknown names pass through.

    Parameters
    ----------
    metric : str
        A name of :data:`METRICS`, or any column name.
    long : bool, default False
        For a rate, the label with its definition, e.g. ``"CTR (clicks / exposures)"``.

    Returns
    -------
    str
    """
    if long and metric in _RATE_DEFINITIONS:
        return _RATE_DEFINITIONS[metric]
    return METRIC_LABELS.get(metric, metric)
