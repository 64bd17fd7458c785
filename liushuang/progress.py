"""A progress line on stderr, shown only on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType


class Progress:
    def __init__(self, label: str, total: float, *, enabled: bool | None = None, unit: str = "bytes") -> None:
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.done = 0.0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._last = 0.0

    def __enter__(self) -> Progress:
        return self

    def advance(self, amount: float = 1) -> None:
        self.done += amount
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(self.done / self.total, 1.0)
        bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
        elapsed = now - self.started
        eta = (elapsed / frac - elapsed) if frac > 0 else 0
        sys.stderr.write(f"\r{self.label} {bar} {frac:6.1%}  已用 {elapsed:5.1f}s  剩余 {eta:5.1f}s ")
        sys.stderr.flush()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()


class Steps:
    """The named steps of a long run: "… label" on ``echo`` when one starts and
    "✓ label（n 秒）" when it ends; the seconds kept in ``seconds`` by name."""

    def __init__(self, echo: Callable[[str], None] | None, seconds: dict[str, float] | None = None) -> None:
        self.echo = echo
        self.seconds = {} if seconds is None else seconds

    @contextmanager
    def __call__(self, name: str, label: str) -> Iterator[None]:
        if self.echo:
            self.echo(f"… {label}")
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        if self.echo:
            self.echo(f"✓ {label}（{self.seconds[name]:.1f} 秒）")
