"""The shared parts of the command line: the Typer apps, error handling and common options.

Each command module (annotate, report, model, labelstudio) registers its commands on these apps;
commands only parse arguments, load the config and call the library.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from stance.errors import StanceError

app = typer.Typer(
    name="stance",
    help="Stance and framing annotation of news: pre-annotate paragraphs toward targets, review them in "
    "Label Studio, retrain, evaluate and report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
labelstudio_app = typer.Typer(help="Label Studio: the labeling config, and a local server for a first review.", no_args_is_help=True)
app.add_typer(labelstudio_app, name="labelstudio")

F = TypeVar("F", bound=Callable[..., Any])

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config (default: configs/default.yaml, the offline default)."),
]
ProjectOption = Annotated[
    str | None, typer.Option("--project", "-p", help="Label Studio project title (default: labelstudio.project in the config).")
]


def command(name: str, on: typer.Typer | None = None) -> Callable[[F], F]:
    """`app.command(name)` (or `on.command`) that turns a StanceError into its message on stderr and exit code 2."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*a: Any, **k: Any) -> Any:
            try:
                return function(*a, **k)
            except StanceError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            except OSError as exc:  # a file system failure the library did not foresee: still no traceback
                from stance.fileio import describe_os_error

                typer.echo(f"error: {describe_os_error(exc)}", err=True)
                raise typer.Exit(2) from None
            except KeyboardInterrupt:
                typer.echo("interrupted", err=True)
                raise typer.Exit(130) from None
            except Exception as exc:
                from stance.fileio import disk_full

                if not disk_full(exc):
                    raise
                typer.echo(f"error: {type(exc).__name__}: {exc}: no space left on the device; free some space and run the same command"
                           " again (finished files are kept)", err=True)
                raise typer.Exit(2) from None

        (on or app).command(name)(wrapper)
        return function

    return decorate


def load(config: Path | None) -> Any:
    """The validated config (the offline default when no path is given)."""
    from stance.config import load_config

    return load_config(config)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` (in the main thread; elsewhere nothing changes)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

