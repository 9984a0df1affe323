"""A local JMLink-compatible API with a deterministic synthetic app, for demos, notebooks and tests.

>>> from jmlink_analytics.sandbox import Sandbox                          # doctest: +SKIP
>>> with Sandbox(links=120, days=180, seed=0) as sb, sb.client() as client:
...     page = client.get_links_page(page_size=5)

``python -m jmlink_analytics.sandbox`` serves one in the foreground.
"""

from __future__ import annotations

from .app import SyntheticApp
from .server import FAULT_KINDS, Sandbox, ServedRequest

__all__ = ["FAULT_KINDS", "Sandbox", "ServedRequest", "SyntheticApp"]
