"""The `stance` command line: parses arguments, loads the config and calls the library.

Each command is a small function in one of the modules below; the work is done in the library.
"""

from __future__ import annotations

from stance.cli import annotate, labelstudio, model, report  # noqa: F401  (they register their commands; --help lists them in this order)
from stance.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
