"""``python -m jmlink_analytics``: the same as the ``jmlink-analytics`` command."""

from .cli import main

raise SystemExit(main())
