"""jmlink-analytics: JMLink short-link statistics as pandas DataFrames, plots, dashboards and reports.

The public names are imported lazily, so ``import jmlink_analytics`` stays fast and works
without matplotlib or ipywidgets; each is loaded on first use. The vocabulary of
:mod:`.schema` (``COUNTERS``, ``RATES``, ``METRICS``, ``PLATFORMS``, ``STATS_COLUMNS``) is
plain tuples and dicts, loaded at once.

>>> import jmlink_analytics as jm
>>> with jm.Sandbox(today="2024-06-30") as sb, sb.client() as client:
...     stats = jm.fetch_stats(client, start="2024-06-01", end="2024-06-30", platform=["ios", "android"])
>>> jm.summarize(stats, by="platform")[["platform", "click_count", "ctr"]]
  platform  click_count       ctr
0  android       203386  0.143305
1      ios       176965  0.165050
"""

from __future__ import annotations

import importlib as _importlib
import logging as _logging
import typing as _typing

from ._version import __version__
from .schema import COUNTERS, METRICS, PLATFORMS, RATES, STATS_COLUMNS

_logging.getLogger("jmlink_analytics").addHandler(_logging.NullHandler())

# public name -> the room (subpackage or module) that exports it
_EXPORTS: dict[str, str] = {
    "JMLinkClient": "client",
    "LinksPage": "client",
    "JMLinkError": "errors",
    "AuthError": "errors",
    "MissingCredentialsError": "errors",
    "InvalidRequestError": "errors",
    "RateLimitError": "errors",
    "NotFoundError": "errors",
    "MethodNotAllowedError": "errors",
    "BlacklistedError": "errors",
    "VipRequiredError": "errors",
    "ServerError": "errors",
    "ResponseFormatError": "errors",
    "TransportError": "errors",
    "StoreError": "errors",
    "StoreVersionError": "errors",
    "fetch_links": "data",
    "fetch_stats": "data",
    "Store": "data",
    "StoreInfo": "data",
    "add_rates": "metrics",
    "summarize": "metrics",
    "compare_periods": "metrics",
    "find_anomalies": "metrics",
    "funnel": "metrics",
    "trend_data": "metrics",
    "join_links": "metrics",
    "count_once": "metrics",
    "CJKFontWarning": "plotting",
    "plot_trend": "plotting",
    "plot_funnel": "plotting",
    "plot_breakdown": "plotting",
    "plot_platforms": "plotting",
    "plot_heatmap": "plotting",
    "to_csv": "export",
    "to_excel": "export",
    "write_dataset": "export",
    "read_dataset": "export",
    "read_links_table": "export",
    "write_report": "report",
    "Dashboard": "widgets",
    "dashboard": "widgets",
    "Sandbox": "sandbox",
    "digest": "notify",
    "Digest": "notify",
    "WebhookError": "errors",
}

__all__ = ["COUNTERS", "METRICS", "PLATFORMS", "RATES", "STATS_COLUMNS", "__version__", *_EXPORTS]


def __getattr__(name: str) -> _typing.Any:
    room = _EXPORTS.get(name)
    if room is None:
        raise AttributeError(f"module 'jmlink_analytics' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{room}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names only (what IPython's tab completion offers)."""
    return sorted(__all__)


if _typing.TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .client import JMLinkClient, LinksPage
    from .data import Store, StoreInfo, fetch_links, fetch_stats
    from .errors import (
        AuthError,
        BlacklistedError,
        InvalidRequestError,
        JMLinkError,
        MethodNotAllowedError,
        MissingCredentialsError,
        NotFoundError,
        RateLimitError,
        ResponseFormatError,
        ServerError,
        StoreError,
        StoreVersionError,
        TransportError,
        VipRequiredError,
        WebhookError,
    )
    from .export import read_dataset, read_links_table, to_csv, to_excel, write_dataset
    from .metrics import (
        add_rates,
        compare_periods,
        count_once,
        find_anomalies,
        funnel,
        join_links,
        summarize,
        trend_data,
    )
    from .notify import Digest, digest
    from .plotting import CJKFontWarning, plot_breakdown, plot_funnel, plot_heatmap, plot_platforms, plot_trend
    from .report import write_report
    from .sandbox import Sandbox
    from .widgets import Dashboard, dashboard
