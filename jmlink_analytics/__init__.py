"""jmlink-analytics: JMLink short-link statistics as pandas DataFrames, plots, dashboards and reports.

The public names below are imported lazily, so ``import jmlink_analytics`` stays fast and
works without matplotlib or ipywidgets; each is loaded on first use.

>>> import jmlink_analytics as jm                                      # doctest: +SKIP
>>> with jm.Sandbox() as sb, sb.client() as client:                    # doctest: +SKIP
...     stats = jm.fetch_stats(client, start="2024-05-01", platform=["ios", "android"])
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

logging.getLogger("jmlink_analytics").addHandler(logging.NullHandler())

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "JMLinkClient": "client",
    "LinksPage": "client",
    "MissingCredentialsError": "client",
    "JMLinkError": "errors",
    "AuthError": "errors",
    "InvalidRequestError": "errors",
    "RateLimitError": "errors",
    "NotFoundError": "errors",
    "MethodNotAllowedError": "errors",
    "BlacklistedError": "errors",
    "VipRequiredError": "errors",
    "ServerError": "errors",
    "ResponseFormatError": "errors",
    "TransportError": "errors",
    "fetch_links": "data",
    "fetch_stats": "data",
    "Store": "store",
    "StoreInfo": "store",
    "StoreError": "store",
    "StoreVersionError": "store",
    "add_rates": "metrics",
    "summarize": "metrics",
    "compare_periods": "metrics",
    "find_anomalies": "metrics",
    "funnel": "metrics",
    "trend_data": "metrics",
    "CJKFontWarning": "_fonts",
    "plot_trend": "plotting",
    "plot_funnel": "plotting",
    "plot_breakdown": "plotting",
    "plot_platforms": "plotting",
    "plot_heatmap": "plotting",
    "Dashboard": "widgets",
    "dashboard": "widgets",
    "write_report": "report",
    "to_csv": "report",
    "Sandbox": "sandbox",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'jmlink_analytics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._fonts import CJKFontWarning
    from .client import JMLinkClient, LinksPage, MissingCredentialsError
    from .data import fetch_links, fetch_stats
    from .errors import (
        AuthError,
        BlacklistedError,
        InvalidRequestError,
        JMLinkError,
        MethodNotAllowedError,
        NotFoundError,
        RateLimitError,
        ResponseFormatError,
        ServerError,
        TransportError,
        VipRequiredError,
    )
    from .metrics import add_rates, compare_periods, find_anomalies, funnel, summarize, trend_data
    from .plotting import plot_breakdown, plot_funnel, plot_heatmap, plot_platforms, plot_trend
    from .report import to_csv, write_report
    from .sandbox import Sandbox
    from .store import Store, StoreError, StoreInfo, StoreVersionError
    from .widgets import Dashboard, dashboard
