"""Secrets hidden in every form a server might echo them: raw, JSON-escaped, percent-encoded, Basic tokens."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

__all__ = ["MASK", "mask_secrets", "masking"]

MASK = "***"
#: An echoed ``Authorization: Basic <token>`` (or any "Basic <token>") is masked even when the
#: secrets are not known.
_BASIC = re.compile(r"\b([Bb][Aa][Ss][Ii][Cc])(\s+)(?:[A-Za-z0-9+/_-]{16,}={0,2}|"
                    r"(?=[A-Za-z_-]*[0-9+/=])[A-Za-z0-9+/_-]{4,}={0,2})")
_SECRETS: ContextVar[tuple[str, ...]] = ContextVar("jmlink_analytics_secrets", default=())


def mask_secrets(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with each of ``secrets`` and any ``Basic <token>`` replaced by ``***``.

    Parameters
    ----------
    text : str
        A message, body excerpt or log line.
    secrets : iterable of str, optional
        The values to hide (master secret, Basic token); those of the enclosing
        :func:`masking` block by default.

    Returns
    -------
    str
        The text with every secret masked in each form a server might echo it: raw,
        JSON-escaped (``\\/``, ``\\u00e9``, either case), percent-encoded (either case,
        wholly or in part, ``+`` for a space). A Basic token is masked as one of
        ``secrets`` (the client passes the base64 of ``appKey:secret``) and by its form.
    """
    values = _SECRETS.get() if secrets is None else tuple(secrets)
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = _secret_pattern(value).sub(MASK, text)
    return _BASIC.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


@functools.lru_cache(maxsize=64)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    """One regular expression matching ``secret`` with any of its characters in any escaped form."""
    return re.compile("".join(_char_forms(char) for char in secret))


def _char_forms(char: str) -> str:
    """A group matching ``char`` raw, percent-encoded (either case) or JSON-escaped (either case)."""
    forms = [re.escape(char)]
    forms.append("".join(f"%(?i:{byte:02x})" for byte in char.encode("utf-8")))
    if char == " ":
        forms.append(r"\+")
    code = ord(char)
    if code > 0xFFFF:  # JSON writes it as a surrogate pair
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms.append(rf"\\u(?i:{high:04x})\\u(?i:{low:04x})")
    else:
        forms.append(rf"\\u(?i:{code:04x})")
    forms.append({"/": r"\\/", '"': r'\\"', "\\": r"\\\\", "\n": r"\\n", "\t": r"\\t"}.get(char, ""))
    return "(?:" + "|".join(form for form in forms if form) + ")"


@contextlib.contextmanager
def masking(secrets: Iterable[str]) -> Iterator[None]:
    """Within the block (in this thread), errors built by :func:`error_from_response` hide ``secrets``."""
    token = _SECRETS.set(tuple(s for s in secrets if s))
    try:
        yield
    finally:
        _SECRETS.reset(token)
