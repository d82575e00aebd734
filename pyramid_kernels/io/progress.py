"""A minimal progress bar on stderr (no dependency), silent unless enabled."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


class Progress:
    """``with Progress(total, label, enabled) as bar: bar.update()``.

    Shows done/total, elapsed seconds, the rate (``unit``/s) and the time left at that rate;
    ``note`` (called at every redraw) appends text, e.g. the progress of other processes.
    """

    def __init__(
        self,
        total: int,
        label: str,
        enabled: bool = True,
        unit: str = "",
        note: Callable[[], str] | None = None,
    ) -> None:
        self.total, self.label, self.enabled = max(total, 1), label, enabled
        self.unit, self.note = unit, note
        self.done, self.start = 0, time.perf_counter()
        self._drawn = 0  # characters of the last line drawn

    def __enter__(self) -> Progress:
        self._draw()
        return self

    def update(self, count: int = 1) -> None:
        self.done = min(self.done + count, self.total)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        elapsed = time.perf_counter() - self.start
        text = f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        text += f" {elapsed:.1f}s"
        if self.unit and self.done and elapsed > 0:
            rate = self.done / elapsed
            text += f" {rate:.1f} {self.unit}/s ETA {(self.total - self.done) / rate:.0f}s"
        if self.note is not None:
            text += f" {self.note()}"
        sys.stderr.write(text)
        sys.stderr.flush()
        self._drawn = len(text) - 1

    def __exit__(self, error_type, *exc) -> None:
        """Ends the bar's line; an error before any progress erases it instead (the error
        message takes its place)."""
        if self.enabled:
            erase = error_type is not None and self.done == 0
            sys.stderr.write("\r" + " " * self._drawn + "\r" if erase else "\n")
            sys.stderr.flush()
