"""``python -m jmlink_analytics.sandbox``: serve a synthetic JMLink app in the foreground."""

from .cli import main

raise SystemExit(main())
