"""The Jupyter dashboard: :class:`Dashboard` over a pre-indexed stats table, and :func:`dashboard` to fetch and show."""

from __future__ import annotations

from ._dashboard import Dashboard
from ._open import dashboard

__all__ = ["Dashboard", "dashboard"]
