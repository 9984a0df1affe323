"""A local JMLink-compatible API with a deterministic synthetic app, for demos, notebooks and tests.

>>> from jmlink_analytics.sandbox import Sandbox
>>> with Sandbox(links=120, days=180, seed=0, today="2024-06-30") as sb, sb.client() as client:
...     page = client.get_links_page(page_size=5)
>>> page
LinksPage(total=120, records=<5 records>)

``python -m jmlink_analytics.sandbox`` serves one in the foreground.
"""

from __future__ import annotations

from .app import SyntheticApp
from .server import FAULT_KINDS, Sandbox, ServedRequest

__all__ = ["FAULT_KINDS", "Sandbox", "ServedRequest", "SyntheticApp"]
