"""The errors of this toolkit's own work, not of a JMLink API call: the cache, the Parquet dataset, the group bots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DatasetLockError", "DatasetShapeError", "StoreError", "StoreVersionError", "WebhookError"]


def _rebuild(cls: type[Exception], message: str, state: dict[str, Any]) -> Exception:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class StoreError(RuntimeError):
    """The cache file cannot be used (not our SQLite database, closed, unreadable or read-only)."""


class StoreVersionError(StoreError):
    """The cache file has a schema this version of jmlink-analytics does not know."""


class WebhookError(Exception):
    """A group bot (WeCom, DingTalk, Feishu, Slack) refused a digest, or no answer came.

    Not a :class:`JMLinkError`: the JMLink API is not involved. The message never holds the
    webhook's key, token or signing secret (the destination is shown masked).

    Parameters
    ----------
    platform : str
        ``"wecom"``, ``"dingtalk"``, ``"feishu"`` or ``"slack"``.
    message : str
        What the platform answered (its ``errmsg`` / ``msg``), or what was observed.
    code : int or str or None
        The platform's error code (WeCom/DingTalk ``errcode``, Feishu ``code``, Slack's error
        word), or ``None`` when there was none.
    http_status : int or None
        The HTTP status of the answer, or ``None`` when no answer arrived.
    rate_limited : bool
        Whether the platform refused the message as one too many (wait, then send again).
    retry_after : float or None
        Seconds the platform asked to wait (rate limits), when known.
    """

    def __init__(self, platform: str, message: str, *, code: int | str | None = None,
                 http_status: int | None = None, rate_limited: bool = False, retry_after: float | None = None):
        self.platform = platform
        self.message = message
        self.code = code
        self.http_status = http_status
        self.rate_limited = rate_limited
        self.retry_after = retry_after
        super().__init__(message)

    def __str__(self) -> str:
        details = [f"error {self.code}"] if self.code is not None else []
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        where = f"{self.platform} {', '.join(details)}" if details else self.platform
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return (f"WebhookError(platform={self.platform!r}, code={self.code!r}, http_status={self.http_status!r}, "
                f"message={self.message!r})")

    def __reduce__(self) -> tuple[Any, ...]:  # every field survives pickling, one set later too
        return (_rebuild, (type(self), self.message, dict(vars(self))))

    @property
    def retryable(self) -> bool:
        """Whether sending again later may succeed (rate limits, server faults, no answer)."""
        return self.rate_limited or self.http_status is None or self.http_status >= 500


class DatasetShapeError(ValueError):
    """A write that would bend a Parquet dataset out of the shape it recorded.

    The dataset (``write_dataset`` / ``sync``) records once its layout (day folders, or one
    ``app=NAME`` folder per app), its platform mode (``all``, or ``ios`` / ``android``) and
    its version; mixing them would make every engine's sums wrong or its reads fail. The
    message names what the dataset holds and what the write would add.
    """


class DatasetLockError(TimeoutError):
    """Another writer held a Parquet dataset's lock longer than the writer could wait; nothing was written.

    Parameters
    ----------
    message : str
        What happened, naming the lock file and the rescue files.
    rescue_path, links_rescue_path : pathlib.Path, optional
        Where ``write_dataset`` kept the stats rows and the links table's rows it was given
        (outside the dataset): ``write_dataset(pd.read_parquet(rescue_path), root)`` loads them.
    """

    def __init__(self, message: str, *, rescue_path: Path | None = None, links_rescue_path: Path | None = None):
        super().__init__(message)
        self.rescue_path = rescue_path
        self.links_rescue_path = links_rescue_path
