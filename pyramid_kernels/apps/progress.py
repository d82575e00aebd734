"""A minimal progress bar on stderr (no dependency), silent unless enabled."""

from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, label, enabled) as bar: bar.update()``."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label, self.enabled = max(total, 1), label, enabled
        self.done, self.start = 0, time.perf_counter()

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
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done}/{self.total} {elapsed:.1f}s"
        )
        sys.stderr.flush()

    def __exit__(self, *exc) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
