"""``python -m jmlink_analytics``: the same as the ``jmlink-analytics`` command."""

from .cli._main import main

raise SystemExit(main())
