"""What was sent: one digest per day and destination, remembered in a small JSON file beside the cache.

The file names each destination by :attr:`Webhook.id` (a SHA-256 of its address), never by the
address, which holds the bot's key. It is rewritten whole (:func:`~jmlink_analytics._files.atomic_path`)
after each successful send, so a run that fails half way remembers what did go out, and the
next run sends the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

from .._files import atomic_path
from ._platforms import Webhook

__all__ = ["STATE_NAME", "SentLog", "default_state_path"]

logger = logging.getLogger("jmlink_analytics")

#: The file's name, beside the cache file.
STATE_NAME = "digest-sent.json"
_VERSION = 1


def default_state_path(cache: str | os.PathLike[str] | None = None) -> Path:
    """The sent-log beside ``cache`` (the default cache file when ``None``)."""
    if cache is None:
        from ..data.store import default_path

        cache = default_path()
    return Path(cache).expanduser().parent / STATE_NAME


class SentLog:
    """The days a digest went out, per destination.

    Parameters
    ----------
    path : path-like
        The JSON file (created on the first send).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser()
        self._sent: dict[str, dict[str, Any]] = self._read()

    def __repr__(self) -> str:
        return f"SentLog({str(self.path)!r}, destinations={len(self._sent)})"

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{self.path} is not the digest's sent-log (not JSON: {exc}); move it away to start "
                             "afresh") from None
        if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("sent"), dict):
            raise ValueError(f"{self.path} is not a version-{_VERSION} digest sent-log; move it away to start afresh")
        return {str(k): v for k, v in data["sent"].items() if isinstance(v, dict)}

    def sent_at(self, hook: Webhook, day: dt.date) -> str | None:
        """When the digest of ``day`` went to ``hook`` (an ISO time), or ``None`` if it did not."""
        entry = self._sent.get(hook.id)
        if entry and entry.get("day") == day.isoformat():
            return str(entry.get("at"))
        return None

    def record(self, hook: Webhook, day: dt.date, *, at: dt.datetime | None = None) -> None:
        """Remember that the digest of ``day`` reached ``hook``; written to disk at once."""
        at = at or dt.datetime.now(dt.UTC)
        self._sent = {**self._read(), hook.id: {"day": day.isoformat(), "at": at.isoformat(timespec="seconds"),
                               "platform": hook.platform}}  # re-read: another run may have sent meanwhile
        with atomic_path(self.path) as temp:
            temp.write_text(json.dumps({"version": _VERSION, "sent": self._sent}, indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
        logger.debug("recorded the digest of %s for %s in %s", day, hook.masked, self.path)
