"""memprof.run.executors: inline / local processes / Dask, streaming of results, cancellation,
and the one-line errors (missing Dask, unreachable scheduler, conflicting flags)."""

import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import click
import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from memprof.cli.options import executor_spec
from memprof.run.executors import (DASK_MISSING, ExecutorSpec, ExecutorUnavailable, InlineExecutor, completed,
                                   open_executor)


def _square(x):
    return x * x


def _pid(_):
    return os.getpid()


def test_inline_executor_streams_one_job_at_a_time():
    ran = []

    def job(x):
        ran.append(x)
        return -x

    stream = completed(InlineExecutor(), job, [3, 1, 2])
    assert next(stream) == (0, -3) and ran == [3]  # the next job has not run yet
    stream.close()
    assert ran == [3]
    assert list(completed(InlineExecutor(), job, [5, 6])) == [(0, -5), (1, -6)]


def test_inline_executor_keeps_job_errors_in_the_future_but_lets_ctrl_c_through():
    def boom(_):
        raise ValueError("bad point")

    future = InlineExecutor().submit(boom, 1)
    assert isinstance(future.exception(), ValueError)
    with pytest.raises(ValueError, match="bad point"):
        list(completed(InlineExecutor(), boom, [1]))

    def interrupt(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        InlineExecutor().submit(interrupt, 1)


def test_local_processes_return_every_result_by_index():
    with open_executor(ExecutorSpec(jobs=2)) as pool:
        results = dict(completed(pool, _square, range(7)))
        pids = {pid for _, pid in completed(pool, _pid, range(4))}
    assert results == {i: i * i for i in range(7)}
    assert os.getpid() not in pids


def test_stopping_early_cancels_the_jobs_not_started():
    release = threading.Event()
    ran = []

    def job(x):
        ran.append(x)
        if x:
            release.wait(10)
        return x

    with ThreadPoolExecutor(max_workers=1) as pool:
        stream = completed(pool, job, range(5))
        assert next(stream) == (0, 0)  # job 1 runs (blocked) or waits; jobs 2-4 wait in the queue
        stream.close()
        release.set()
    assert ran in ([0], [0, 1])  # without the cancellation, jobs 2-4 would run before the pool closes


def test_ctrl_c_inside_a_process_pool_cancels_queued_jobs():
    with pytest.raises(KeyboardInterrupt):
        with open_executor(ExecutorSpec(jobs=2)) as pool:
            futures = [pool.submit(time.sleep, 0.5) for _ in range(10)]
            raise KeyboardInterrupt
    assert futures[-1].cancelled()


def test_spec_validation_and_option_conflicts():
    with pytest.raises(ValueError, match="jobs"):
        ExecutorSpec(jobs=0)
    with pytest.raises(ValueError, match="not both"):
        ExecutorSpec(dask=True, scheduler="tcp://x:1")
    with pytest.raises(click.UsageError, match="give one"):
        executor_spec(1, True, "tcp://x:1")
    with pytest.raises(click.UsageError, match="leave --jobs out"):
        executor_spec(4, False, "tcp://x:1")
    assert not ExecutorSpec().parallel and ExecutorSpec(jobs=2).parallel and ExecutorSpec(dask=True).parallel
    assert ExecutorSpec(jobs=3).describe() == "3 local processes"


def test_missing_dask_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ExecutorUnavailable, match=r"install memprof\[dask\]"):
        with open_executor(ExecutorSpec(dask=True)):
            pass
    result = CliRunner().invoke(main, ["sweep", "--param", "alpha=1", "--dask", "--no-progress"])
    assert result.exit_code == 1
    assert DASK_MISSING in result.output and "Traceback" not in result.output


def test_unreachable_scheduler_names_the_address():
    pytest.importorskip("distributed")
    with pytest.raises(ExecutorUnavailable, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with open_executor(ExecutorSpec(scheduler="tcp://127.0.0.1:9"), connect_timeout_s=0.5):
            pass


def test_local_dask_cluster_runs_jobs_in_worker_processes_and_closes():
    distributed = pytest.importorskip("distributed")
    with open_executor(ExecutorSpec(dask=True), dask_workers=1) as pool:  # spawned workers: stdlib functions
        results = dict(completed(pool, math.factorial, range(5)))
        pid = pool.submit(os.getpid).result()
        client = pool._client
    assert results == {0: 1, 1: 1, 2: 2, 3: 6, 4: 24}
    assert pid != os.getpid()
    assert client.status == "closed"
    assert isinstance(client, distributed.Client)


def test_a_malformed_scheduler_address_is_refused_at_once():
    pytest.importorskip("distributed")
    from click.testing import CliRunner

    from memprof.cli.main import main

    with pytest.raises(ValueError, match="missing port"):
        ExecutorSpec(scheduler="bogus")
    result = CliRunner().invoke(main, ["simulate-partitioned", "--model", "dlrm", "--batches", "1", "--batch-size",
                                       "8", "--partitions", "2", "--scheduler", "bogus"])
    assert result.exit_code == 2 and "expected HOST:PORT" in result.output
