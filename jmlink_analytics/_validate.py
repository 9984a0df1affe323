"""Argument checks shared by the client and the data layer: each names the argument and what is allowed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .schema import PLATFORMS

__all__ = ["check_int", "check_link_key", "check_platform", "path_segment"]



def check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    allowed = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {allowed}; got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return value


def check_platform(platform: Any, name: str = "platform") -> str:
    """Return ``platform`` if it is one of ``all``, ``ios``, ``android``, else raise ``ValueError``."""
    if not isinstance(platform, str) or platform not in PLATFORMS:
        raise ValueError(f"{name} must be one of 'all', 'ios', 'android'; got {platform!r}")
    return platform


def check_link_key(link_key: Any, name: str = "link_key") -> str:
    """Return ``link_key`` if it is a non-empty string without control characters."""
    if not isinstance(link_key, str):
        raise TypeError(f"{name} must be a non-empty string; got {type(link_key).__name__} {link_key!r}")
    if not link_key or not link_key.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in link_key):
        raise ValueError(f"{name} must be a non-empty string without control characters; got {link_key!r}")
    return link_key


def path_segment(value: str) -> str:
    """Percent-encode ``value`` as exactly one path segment ('/' included; '.' and '..' too)."""
    encoded = quote(value, safe="")
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded
