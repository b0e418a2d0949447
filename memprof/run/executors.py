"""Where independent jobs run: this process, local worker processes, or Dask distributed.

``open_executor(spec)`` is a context manager yielding a ``concurrent.futures.Executor``:

- ``jobs=1`` (default): ``InlineExecutor``, each job runs at submit time in this process
  (no pickling; Ctrl-C interrupts the job at once);
- ``jobs=N``: a ``ProcessPoolExecutor`` of N local processes;
- ``dask=True``: a local ``distributed.LocalCluster`` (``jobs`` worker processes, or one
  per core) and its client's executor;
- ``scheduler=ADDRESS``: a client of an existing Dask scheduler (its workers need
  memprof installed); the cluster is left running on exit.

Dask is an optional extra (``pip install 'memprof[dask]'``). Everything is shut down on
exit, on errors and on Ctrl-C (pending jobs cancelled, local workers stopped).
``completed(executor, fn, items)`` submits one job per item and yields results as they
finish; it is the only "scheduling" memprof does (the executor does the rest).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

DASK_MISSING = "Dask distributed is not installed: install memprof[dask] (pip install 'memprof[dask]')"


def _check_scheduler_address(address: str) -> None:
    """ValueError for an address Dask cannot parse, before any Client exists (a half-built
    Client waits 20 s to close and prints a traceback from its finaliser)."""
    try:
        from distributed.comm import get_address_host_port
    except ImportError:
        return  # said when the executor opens (DASK_MISSING)
    try:
        get_address_host_port(address)
    except ValueError as exc:
        raise ValueError(f"scheduler {address!r}: {exc} (expected HOST:PORT or tcp://HOST:PORT)") from None


@dataclass(frozen=True)
class ExecutorSpec:
    """How to run jobs: ``jobs`` local processes, or Dask (``dask`` local cluster / ``scheduler`` address)."""

    jobs: int = 1
    dask: bool = False
    scheduler: str | None = None

    def __post_init__(self):
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs={self.jobs!r}: must be an integer >= 1")
        if self.dask and self.scheduler:
            raise ValueError("choose one of dask (a local Dask cluster) and scheduler (an existing one), not both")
        if self.scheduler is not None and not str(self.scheduler).strip():
            raise ValueError("scheduler: give the Dask scheduler address, e.g. tcp://10.0.0.5:8786")
        if self.scheduler:
            _check_scheduler_address(self.scheduler)

    @property
    def parallel(self) -> bool:
        """Whether jobs leave this process (and must be picklable)."""
        return self.jobs > 1 or self.dask or bool(self.scheduler)

    def describe(self) -> str:
        if self.scheduler:
            return f"Dask scheduler {self.scheduler}"
        if self.dask:
            return f"local Dask cluster ({self.jobs if self.jobs > 1 else os.cpu_count() or 1} worker processes)"
        return f"{self.jobs} local processes" if self.jobs > 1 else "this process"


class InlineExecutor(Executor):
    """Runs each submitted call immediately in this process and returns its finished future."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # KeyboardInterrupt/SystemExit propagate to the caller at once
            future.set_exception(exc)
        return future


class ExecutorUnavailable(ValueError):
    """The executor asked for cannot be had (Dask not installed, scheduler unreachable): one line."""


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ExecutorUnavailable(DASK_MISSING) from None
    return distributed


def _stop_processes(pool: ProcessPoolExecutor) -> None:
    """Cancel pending jobs and stop the workers now (a running job is not waited for)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    processes = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown drops them
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    if terminate is not None:
        terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    if manager is not None:
        manager.join(timeout=10)  # it notices the stopped workers, fails their jobs and exits


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is handled by the parent, which stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore SIGINT while starting child processes (in the main thread; elsewhere a no-op)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def open_executor(spec: ExecutorSpec | None = None, *, dask_workers: int | None = None,
                  dask_processes: bool = True, connect_timeout_s: float = 10.0) -> Iterator[Executor]:
    """Yield the executor ``spec`` asks for; shut it down (cancelling pending jobs) on exit.

    ``dask_workers`` overrides the local Dask cluster's worker count; ``dask_processes=False``
    runs its workers as threads (for quick experiments: the simulator's kernels hold the GIL
    only briefly, but trace generation does not). Missing Dask raises ``ExecutorUnavailable``
    (a ValueError) with the install line; a scheduler unreachable within ``connect_timeout_s``
    raises one naming the address.
    """
    spec = spec or ExecutorSpec()
    if spec.dask or spec.scheduler:
        yield from _dask_executor(spec, dask_workers, dask_processes, connect_timeout_s)
    elif spec.jobs > 1:
        pool = ProcessPoolExecutor(max_workers=spec.jobs, initializer=_ignore_sigint)
        try:
            yield pool
        except BaseException:
            _stop_processes(pool)
            raise
        pool.shutdown(wait=True)
    else:
        yield InlineExecutor()


def _dask_executor(spec: ExecutorSpec, dask_workers: int | None, dask_processes: bool,
                   connect_timeout_s: float) -> Iterator[Executor]:
    distributed = _import_distributed()
    cluster = None
    try:
        if spec.scheduler:
            try:
                client = distributed.Client(spec.scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ExecutorUnavailable(f"cannot reach the Dask scheduler at {spec.scheduler}: {exc}") from None
        else:
            workers = dask_workers or (spec.jobs if spec.jobs > 1 else os.cpu_count() or 1)
            with _sigint_ignored():  # the workers inherit it: Ctrl-C reaches this process, which stops them
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=dask_processes,
                                                   dashboard_address=":0", silence_logs=logging.ERROR)
            client = distributed.Client(cluster, set_as_default=False)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    executor = client.get_executor(pure=False)  # fresh task keys: a resubmitted job never meets its cancelled twin
    try:
        yield executor
    except BaseException:
        executor.shutdown(wait=False)  # cancels what has not finished
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def completed(executor: Executor, fn: Callable, items: Iterable, max_in_flight: int | None = None
              ) -> Iterator[tuple[int, object]]:
    """Submit ``fn(item)`` for every item; yield ``(index, result)`` as each job finishes.

    On an ``InlineExecutor`` one job at a time is submitted (so results stream out as they are
    computed); other executors get every job at once (they queue and schedule them), or at
    most ``max_in_flight``. A job's exception is raised here. When the consumer stops early
    (error, Ctrl-C, ``close()``), jobs not yet finished are cancelled.
    """
    items = list(items)
    limit = 1 if isinstance(executor, InlineExecutor) else (max_in_flight or len(items) or 1)
    running: dict[Future, int] = {}
    upcoming = iter(enumerate(items))
    try:
        while True:
            for index, item in upcoming:
                running[executor.submit(fn, item)] = index
                if len(running) >= limit:
                    break
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=running.__getitem__):
                index = running.pop(future)
                yield index, future.result()
    finally:
        for future in running:
            future.cancel()
