"""Map a function over jobs in forked worker processes that share one object.

The audits' heavy loops (re-deriving draws, Monte Carlo re-runs) read one large
read-only object. Forked workers inherit it instead of receiving it pickled.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_SHARED: Any = None


def shared() -> Any:
    """The object passed to fork_map, inside a job."""
    return _SHARED


def fork_map(fn: Callable[[Any], Any], jobs: Sequence[Any], data: Any, *, parallel: bool, workers: int | None = None) -> list[Any]:
    """``[fn(job) for job in jobs]`` with ``shared()`` returning ``data``; in
    forked processes when ``parallel`` and more than one core. The results and
    their order do not depend on the number of workers."""
    global _SHARED
    workers = workers or os.cpu_count() or 1
    _SHARED = data
    try:
        if parallel and workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(fn, jobs))
        return [fn(job) for job in jobs]
    finally:
        _SHARED = None
