"""Map a function over jobs that share one large read-only object: in forked
worker processes on this machine, or on a Dask cluster.

The audits' heavy loops (re-deriving draws, Monte Carlo re-runs) and the
site's stages (pages, downloads, search shards, verification) read one large
read-only object. Forked workers inherit it instead of receiving it pickled.
Under ``engine(client)`` the same calls run on a ``dask.distributed`` cluster:
the object is scattered once to every worker, the jobs are mapped as tasks
(retried if a worker dies), and the results come back in job order, so the
output does not depend on the engine.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

_SHARED: Any = None
_ENGINE: Any = None  # a distributed.Client while a Dask engine is active
RETRIES = 3          # a task whose worker died is run again this many times


def shared() -> Any:
    """The object passed to fork_map, inside a job."""
    return _SHARED


def current_engine() -> Any:
    """The active Dask client, or None for this machine's cores."""
    return _ENGINE


@contextmanager
def engine(client: Any) -> Iterator[Any]:
    """Run every fork_map inside the block on the Dask cluster of ``client``."""
    global _ENGINE
    previous, _ENGINE = _ENGINE, client
    try:
        yield client
    finally:
        _ENGINE = previous


def _call(fn: Callable[[Any], Any], job: Any, data: Any, frozen: bool = False) -> Any:
    """A job on a Dask worker: the scattered object is this process's shared object.

    ``frozen``: as in forked workers (``fork_map``), what the worker holds before the
    job starts (its data among it) is left out of the garbage collector's passes while
    the job runs. Otherwise every full collection, set off again and again by a job
    that allocates millions of objects (the draws audit's re-derivation), walks all of it."""
    global _SHARED
    _SHARED = data
    if not frozen:
        return fn(job)
    gc.freeze()
    try:
        return fn(job)
    finally:
        gc.unfreeze()


def fork_map(fn: Callable[[Any], Any], jobs: Sequence[Any], data: Any, *, parallel: bool, workers: int | None = None,
             part: Callable[[Any, Any], tuple[Any, Any]] | None = None, recycle: int | None = None,
             frozen: bool = False) -> list[Any]:
    """``[fn(job) for job in jobs]`` with ``shared()`` returning ``data``; in
    forked processes when ``parallel`` and more than one core, or on the
    active Dask engine. The results and their order do not depend on the
    number of workers or on the engine.

    On Dask, ``data`` is scattered whole to every worker, unless ``part`` is
    given: ``part(data, job)`` is then (job, data) reduced to what that one job
    reads, sent with the job alone. Worker memory then follows the job, not
    the whole data: what a province needs (forked workers share ``data`` anyway).

    ``recycle``: forked workers are replaced after that many jobs each. A forked
    worker shares ``data`` with the main process only until it touches it: reading
    an object writes its reference count, which copies the memory page it is on.
    Over many jobs a worker would end up with its own copy of most of ``data``; a
    fresh worker starts sharing again. (A province's build ran out of this machine's
    24 GB that way: README, "Province".)

    ``frozen``: on Dask, each job runs with the worker's objects frozen out of the
    garbage collector, as forked workers always do (``_call``). Measured to help the
    re-derivation of draws; not applied to every job, since a city build's page jobs
    were slower with it in the one pair of runs made (README, "Province")."""
    global _SHARED
    if _ENGINE is not None and jobs and part is not None:
        return _map_parts(fn, jobs, data, part, frozen)
    if _ENGINE is not None and jobs:
        ref = _ENGINE.scatter(data, broadcast=True, hash=False)
        try:
            # Keys named after the job's function, so the dashboard and the task stream show what runs.
            batch = uuid.uuid4().hex
            futures = _ENGINE.map(_call, [fn] * len(jobs), list(jobs), [ref] * len(jobs), [frozen] * len(jobs), pure=False, retries=RETRIES,
                                  key=[f"{fn.__name__}-{batch}-{i}" for i in range(len(jobs))])
            return _ENGINE.gather(futures)
        finally:
            del ref
    workers = workers or os.cpu_count() or 1
    _SHARED = data
    try:
        if parallel and workers > 1:
            # Objects created before the fork are left out of the children's garbage
            # collections, which would otherwise touch (and so copy) every page of them.
            gc.freeze()
            try:
                if recycle:
                    return _recycling_map(fn, jobs, workers, recycle)
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    return list(pool.map(fn, jobs))
            finally:
                gc.unfreeze()
        return [fn(job) for job in jobs]
    finally:
        _SHARED = None


class WorkerDied(RuntimeError):
    """A forked worker ended without returning its job's result (killed, or out of memory)."""


def _recycling_worker(fn: Callable[[Any], Any], jobs: Sequence[Any], conn: Any) -> None:
    """A forked worker of ``_recycling_map``: runs the jobs it is sent by index until told to stop."""
    while (i := conn.recv()) is not None:
        try:
            out = (i, True, fn(jobs[i]))
        except BaseException as exc:  # sent back, raised in the parent
            out = (i, False, exc)
        try:
            conn.send(out)
        except Exception as exc:  # an unpicklable result or exception
            conn.send((i, False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def _recycling_map(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int, recycle: int) -> list[Any]:
    """``[fn(job) for job in jobs]`` in ``workers`` forked processes, each replaced by a
    fresh fork after ``recycle`` jobs. Each worker is replaced as soon as it is done, so
    the others never wait for it: a pool per group of jobs would leave a core idle while
    the group's last job runs. Jobs are handed out in their order; a job's exception is
    raised here, and a worker that dies mid-job raises ``WorkerDied``."""
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork")
    results: list[Any] = [None] * len(jobs)
    upcoming = iter(range(len(jobs)))
    running: dict[Any, list[Any]] = {}  # connection -> [process, job index, jobs done]

    def hand(conn: Any, state: list[Any]) -> bool:
        i = next(upcoming, None)
        if i is None:
            conn.send(None)
            return False
        conn.send(i)
        state[1] = i
        return True

    left = len(jobs)
    try:
        while left:
            while len(running) < workers and left > len(running):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(target=_recycling_worker, args=(fn, jobs, theirs), daemon=True)
                proc.start()
                theirs.close()
                state = [proc, None, 0]
                if not hand(ours, state):
                    proc.join()
                    break
                running[ours] = state
            for conn in wait(list(running)):
                state = running[conn]
                try:
                    i, ok, value = conn.recv()
                except (EOFError, OSError):
                    state[0].join()
                    raise WorkerDied(f"并行子进程异常退出（退出码 {state[0].exitcode}），任务：{jobs[state[1]]!r}") from None
                if not ok:
                    raise value
                results[i] = value
                left -= 1
                state[2] += 1
                if state[2] >= recycle or not hand(conn, state):
                    if state[2] >= recycle:
                        conn.send(None)
                    state[0].join()
                    conn.close()
                    del running[conn]
        return results
    finally:
        for conn, (proc, _, _) in running.items():
            proc.kill()
            proc.join()
            conn.close()


def _map_parts(fn: Callable[[Any], Any], jobs: Sequence[Any], data: Any, part: Callable[[Any, Any], tuple[Any, Any]],
               frozen: bool = False) -> list[Any]:
    """fork_map on Dask with each job's own part of the data: at most two jobs per
    worker in flight, so neither the client nor the workers hold every part at once."""
    from collections import deque

    client = _ENGINE
    window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
    batch = uuid.uuid4().hex
    results: list[Any] = []
    flight: deque[Any] = deque()
    for i, job in enumerate(jobs):
        small_job, small_data = part(data, job)
        # In the task itself, not scattered: a task whose worker died can then be run again elsewhere.
        # Such a task is megabytes by design; distributed's advice against large graphs is noise here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
            flight.append(client.submit(_call, fn, small_job, small_data, frozen, pure=False, retries=RETRIES,
                                        key=f"{fn.__name__}-{batch}-{i}"))
        del small_data
        if len(flight) >= window:
            results.append(flight.popleft().result())
    while flight:
        results.append(flight.popleft().result())
    return results


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``).
    Validation frees gigabytes of short-lived buffers between the records it keeps;
    without this the main process stays as large as at its peak, and forked workers
    add to that. Does nothing where there is no glibc."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class UnsharedFolder(OSError):
    """A Dask worker cannot see the folder the build writes to."""


def _sees(path: str, token: str) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read() == token
    except OSError:
        return False


def require_shared(folder: str | os.PathLike[str]) -> None:
    """On a Dask engine, check that every worker sees ``folder`` as this process does
    (the site's pages are written there by the workers). On a cluster of other
    machines that takes a shared file system; without one, a worker would write
    into a folder of the same name on its own disk, and the site would lack its pages."""
    if _ENGINE is None:
        return
    token = uuid.uuid4().hex
    marker = os.path.join(os.fspath(folder), f".liushuang-shared-{token}")
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(token)
    try:
        seen = _ENGINE.run(_sees, marker, token)
    finally:
        os.unlink(marker)
    blind = sorted(worker for worker, ok in seen.items() if not ok)
    if blind:
        raise UnsharedFolder(f"Dask 工作节点看不到输出目录 {os.fspath(folder)}（{len(blind)}/{len(seen)} 个节点，如 {blind[0]}）："
                             "输出目录须是各节点共享的文件系统（如 NFS）上的同一路径")


def dask_client(address: str | None = None, *, workers: int | None = None) -> Any:
    """A client of the scheduler at ``address`` (or $LIUSHUANG_DASK_SCHEDULER, or
    $DASK_SCHEDULER_ADDRESS); without one, a LocalCluster of single-threaded
    worker processes on this machine."""
    from distributed import Client, LocalCluster

    address = address or os.environ.get("LIUSHUANG_DASK_SCHEDULER") or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return Client(address)
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster)
