"""The client's credentials: HTTP Basic auth that never shows the secret, the forms a server may echo, the slots.

Kept apart from :mod:`._client` so the client module holds the endpoints and little else.
"""

from __future__ import annotations

import base64
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from ._ratelimit import SlotTable, shared_limits_path

__all__ = ["BasicAuth", "mask_key", "open_slots", "secret_forms"]

logger = logging.getLogger("jmlink_analytics")


class BasicAuth(requests.auth.HTTPBasicAuth):
    """HTTP Basic auth whose repr never shows the secret."""

    def __repr__(self) -> str:
        return f"<BasicAuth app_key={mask_key(str(self.username))} master_secret=***>"


def mask_key(value: str) -> str:
    """An appKey shortened for display: its first and last four characters."""
    return value if len(value) <= 8 else f"{value[:4]}…{value[-4:]}"


def secret_forms(app_key: str, master_secret: str) -> tuple[str, ...]:
    """The values a server might echo that must never be shown: the secret and the Basic token, each form.

    :func:`~jmlink_analytics.errors.mask_secrets` also masks each of them JSON-escaped and
    percent-encoded (either case, wholly or in part); the base64 of ``appKey:secret`` is listed
    in its standard and URL-safe alphabets, with and without padding.
    """
    pair = f"{app_key}:{master_secret}".encode("latin-1")
    tokens = (base64.b64encode(pair).decode("ascii"), base64.urlsafe_b64encode(pair).decode("ascii"))
    return tuple(dict.fromkeys((*(f"Basic {t}" for t in tokens), *tokens, *(t.rstrip("=") for t in tokens),
                                master_secret, quote(master_secret, safe=""))))


def open_slots(app_key: str, base_url: str, shared_limits: Any) -> SlotTable:
    """The rate-limit slots: the client's own, or the appKey's file shared by every process."""
    if shared_limits is False:
        return SlotTable()
    if shared_limits is True:
        path = shared_limits_path(app_key, base_url)
        try:
            return SlotTable(path)
        except (OSError, sqlite3.Error) as exc:
            logger.warning("cannot share the rate limits through %s (%s); this client counts only its own "
                           "requests", path, exc)
            return SlotTable()
    if not isinstance(shared_limits, (str, os.PathLike)) or not str(shared_limits):
        raise TypeError(f"shared_limits must be True, False or a folder path; got {shared_limits!r}")
    path = shared_limits_path(app_key, base_url, Path(shared_limits).expanduser())
    try:
        return SlotTable(path)
    except (OSError, sqlite3.Error) as exc:
        raise ValueError(f"shared_limits must be a folder where a file can be written; got "
                         f"{str(shared_limits)!r} ({exc})") from None
