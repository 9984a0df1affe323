"""Typed errors for every way a JMLink API call can fail, and the one mapping to them.

Every failure a user can meet while talking to the API is a :class:`JMLinkError`
carrying ``code`` (the API's numeric code, or ``None``), ``http_status`` (or ``None``)
and ``message``. :func:`error_from_response` is the single place that turns an HTTP
answer into one of these. The errors of the toolkit's own work (the cache, the dataset, the
group bots) live in :mod:`._local` and are exported here too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from ._local import DatasetLockError, DatasetShapeError, StoreError, StoreVersionError, WebhookError, _rebuild
from ._masking import MASK, mask_secrets, masking

__all__ = [
    "MASK", "AuthError", "BlacklistedError", "DatasetLockError", "DatasetShapeError", "InvalidRequestError",
    "JMLinkError", "MethodNotAllowedError", "MissingCredentialsError", "NotFoundError", "RateLimitError",
    "ResponseFormatError", "ServerError", "StoreError", "StoreVersionError", "TransportError", "VipRequiredError",
    "WebhookError", "error_from_answer", "error_from_response", "mask_secrets", "masking",
]

#: The success code the API documents; a body carrying it is not an error.
SUCCESS_CODE = 3000


class JMLinkError(Exception):
    """Base class of every error raised for a failed JMLink API call.

    Parameters
    ----------
    message : str
        What went wrong, as the API said it or as the client observed it.
    code : int or None
        The API's error code (3001-3011), or ``None`` when there was none.
    http_status : int or None
        The HTTP status of the answer, or ``None`` when no answer arrived.
    retryable : bool or None
        Whether sending the same request again may succeed; ``None`` takes the class's
        rule (:attr:`RETRYABLE`). A TLS certificate failure, for one, is a
        :class:`TransportError` that is not retryable.
    """

    #: Whether an error of this class is worth sending the request again for, by default.
    RETRYABLE = False

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 retryable: bool | None = None):
        self.message = message
        self.code = code
        self.http_status = http_status
        self._retryable = retryable
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.code is not None:
            parts.append(f"JMLink error {self.code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Every field survives pickling (multiprocessing, joblib), those of subclasses too
        # (``RateLimitError.retry_after``): the instance's whole ``__dict__`` is the state.
        return (_rebuild, (type(self), self.message, dict(vars(self))))

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again may succeed (the one rule the transport follows)."""
        return type(self).RETRYABLE if self._retryable is None else self._retryable


class AuthError(JMLinkError):
    """Missing (3001) or rejected (3002) credentials: check appKey and masterSecret."""


class InvalidRequestError(JMLinkError):
    """The API rejected the request's body or parameters (3003, 3004, 3005)."""


class RateLimitError(JMLinkError):
    """Over the per-minute rate limit (3006), still so after waiting and retrying.

    Parameters
    ----------
    message, code, http_status, retryable
        As for :class:`JMLinkError`.
    retry_after : float or None
        The seconds the server asked to wait (``Retry-After``), when it said so (``.retry_after``).
    """

    RETRYABLE = True

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 retry_after: float | None = None, retryable: bool | None = None):
        super().__init__(message, code=code, http_status=http_status, retryable=retryable)
        self.retry_after = retry_after


class NotFoundError(JMLinkError):
    """No such API (3007): the base URL or the path is wrong."""


class MethodNotAllowedError(JMLinkError):
    """The HTTP method is not supported for this API (3008)."""


class BlacklistedError(JMLinkError):
    """The app is blacklisted (3009); only JMLink support can lift it."""


class VipRequiredError(JMLinkError):
    """The REST API is a VIP feature and this app has no VIP (3010)."""


class ServerError(JMLinkError):
    """A server-side fault (3011, or an HTTP 5xx answer)."""

    RETRYABLE = True


class ResponseFormatError(JMLinkError):
    """The answer was not the JSON the API documents (never treated as an empty result)."""


class TransportError(JMLinkError):
    """No usable answer arrived: a timeout, a refused or reset connection, a redirect or a bad certificate.

    Timeouts and refused or reset connections are retryable; an answer that must not be
    followed (a redirect, a failed certificate check) is not.
    """

    RETRYABLE = True


class MissingCredentialsError(AuthError):
    """No credentials were given: set ``JMLINK_APP_KEY`` and ``JMLINK_MASTER_SECRET``."""


_CODE_TO_ERROR: dict[int, type[JMLinkError]] = {
    3001: AuthError, 3002: AuthError, 3003: InvalidRequestError, 3004: InvalidRequestError,
    3005: InvalidRequestError, 3006: RateLimitError, 3007: NotFoundError, 3008: MethodNotAllowedError,
    3009: BlacklistedError, 3010: VipRequiredError, 3011: ServerError,
}

_STATUS_TO_ERROR: dict[int, type[JMLinkError]] = {
    401: AuthError, 404: NotFoundError, 405: MethodNotAllowedError, 429: RateLimitError,
}

_MAX_BODY_EXCERPT = 200
def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_BODY_EXCERPT else text[:_MAX_BODY_EXCERPT] + "…"


def error_from_response(
    http_status: int,
    body: bytes | str | None,
    *,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] | None = None,
) -> JMLinkError | None:
    """Map one HTTP answer to the error it means, or ``None`` for a success.

    Parameters
    ----------
    http_status : int
        The HTTP status code of the answer.
    body : bytes, str or None
        The raw body of the answer.
    headers : mapping, optional
        The answer's headers; ``Retry-After`` / ``X-Rate-Limit-Reset`` are read for 3006.
    secrets : iterable of str, optional
        Values a server might echo into its body (the master secret, the Basic token); they
        are masked as ``***`` in the error's message, as is any ``Basic <token>``. By default
        those of the enclosing :func:`masking` block.

    Returns
    -------
    JMLinkError or None
        The typed error, or ``None`` when the answer is a success (2xx without an
        ``error`` object, or with code 3000). A 2xx body that is not JSON is a
        :class:`ResponseFormatError`; it is never taken for an empty result.

    See Also
    --------
    error_from_answer : the same mapping for a body already parsed (the transport's path).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    parsed: Any = None
    try:
        parsed = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):
        parsed = None
    return error_from_answer(http_status, parsed, text=text, headers=headers, secrets=secrets)


def error_from_answer(
    http_status: int,
    parsed: Any,
    *,
    text: str = "",
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] | None = None,
) -> JMLinkError | None:
    """Map one answer whose body was already parsed to the error it means, or ``None`` for a success.

    Parameters
    ----------
    http_status : int
        The HTTP status code of the answer.
    parsed : Any
        The body's JSON value, or ``None`` when the body is empty or not JSON.
    text : str, default ""
        The body as text, quoted (masked, shortened) in the message of an answer without
        a JSON error object.
    headers, secrets
        As for :func:`error_from_response`.

    Returns
    -------
    JMLinkError or None
        As for :func:`error_from_response`, which parses the body and calls this; the
        transport parses each body once and calls this directly.
    """
    error_obj = parsed.get("error") if isinstance(parsed, dict) else None
    if error_obj is None and parsed is not None and 200 <= http_status < 300:
        return None  # the common case, first: a success
    if isinstance(error_obj, dict):
        code: Any = error_obj.get("code")
        message = mask_secrets(str(error_obj.get("message") or ""), secrets)
        if isinstance(code, bool) or not isinstance(code, int):
            try:
                code = int(code)
            except (TypeError, ValueError, OverflowError):
                code = None
        if code == SUCCESS_CODE:
            return None
        cls = _CODE_TO_ERROR.get(code) if code is not None else None
        if cls is None:
            cls = _class_for_status(http_status)
        if cls is RateLimitError:
            return RateLimitError(message or "out of freq", code=code, http_status=http_status,
                                  retry_after=retry_after_seconds(headers))
        return cls(message or f"unknown error code {code}", code=code, http_status=http_status)

    text = mask_secrets(text, secrets)
    if 200 <= http_status < 300:
        if parsed is None:
            detail = "an empty body" if not text.strip() else f"a body that is not JSON: {_excerpt(text)!r}"
            return ResponseFormatError(f"expected a JSON object, got {detail}", http_status=http_status)
        return None

    cls = _class_for_status(http_status)
    detail = f": {_excerpt(text)!r}" if text.strip() else ""
    message = f"HTTP {http_status} without a JSON error body{detail}"
    if cls is RateLimitError:
        return RateLimitError(message, http_status=http_status, retry_after=retry_after_seconds(headers))
    return cls(message, http_status=http_status)


def _class_for_status(http_status: int) -> type[JMLinkError]:
    if http_status >= 500:
        return ServerError
    return _STATUS_TO_ERROR.get(http_status, InvalidRequestError if http_status >= 400 else ResponseFormatError)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait that a 3006 answer asked for, from ``Retry-After`` or ``X-Rate-Limit-Reset``.

    ``Retry-After`` is read as seconds (an HTTP date is accepted too). ``X-Rate-Limit-Reset``
    is read as seconds to wait when small, or as a Unix time (seconds or milliseconds) when
    large. Missing or unreadable values give ``None``.
    """
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    value = lowered.get("x-rate-limit-reset")
    if value is not None:
        try:
            number = float(value)
        except ValueError:
            return None
        now = time.time()
        if number > 1e12:  # Unix time in milliseconds
            return max(0.0, number / 1000 - now)
        if number > 1e9:  # Unix time in seconds
            return max(0.0, number - now)
        return max(0.0, number)
    return None
