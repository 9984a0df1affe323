"""The ``jmlink-analytics`` command line: the parser and exit codes (:mod:`._main`), one function per subcommand."""

from __future__ import annotations

from ._main import (
    DEFAULT_DAYS,
    EXIT_API,
    EXIT_AUTH,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    build_parser,
    main,
    parse_args,
)

__all__ = [
    "DEFAULT_DAYS", "EXIT_API", "EXIT_AUTH", "EXIT_OK", "EXIT_UNEXPECTED", "EXIT_USAGE", "build_parser", "main",
    "parse_args",
]
