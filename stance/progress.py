"""Progress for long work: a live bar on a terminal, plain periodic lines otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """`with Progress(total, "annotate", unit="paragraphs") as p: p.advance(n)`."""

    def __init__(
        self,
        total: int | None,
        description: str,
        *,
        unit: str = "items",
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 10.0,
        completed: int = 0,
    ) -> None:
        self.total = total
        self.description = description
        self.unit = unit
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval = interval
        self.completed = completed
        self._start_completed = completed
        self._started = time.monotonic()
        self._last_line = self._started
        self._rich = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.enabled and _is_terminal(self.stream):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._rich.start()
            self._task = self._rich.add_task(self.description, total=self.total, completed=self.completed)
        return self

    def advance(self, n: int = 1) -> None:
        self.completed += n
        if self._rich is not None:
            self._rich.update(self._task, completed=self.completed)
            return
        now = time.monotonic()
        if self.enabled and (now - self._last_line >= self.interval or (self.total and self.completed >= self.total)):
            self._last_line = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = (self.completed - self._start_completed) / elapsed
        text = f"{self.description}: {self.completed}"
        if self.total:
            text += f"/{self.total} {self.unit} ({100 * self.completed / self.total:.0f}%)"
            if rate > 0:
                text += f", {rate:.1f} {self.unit}/s, about {_duration((self.total - self.completed) / rate)} left"
        else:
            text += f" {self.unit}, {rate:.1f}/s"
        return text

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.stop()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
