"""Long runs: a stop (Ctrl-C, SIGTERM, a ``should_stop`` hook) gives partial results and a
checkpoint; resuming gives exactly the counts of an uninterrupted run (trace replay, the
headline analysis, mrc), including stops inside the warm-up; a second signal during the
save waits for it; the CLI exits 130 after SIGINT and 143 after SIGTERM; progress lines;
option errors.

Stops are injected through the public API: ``should_stop(position)`` is asked after every
step (``position.steps`` chunks or batches fed, ``position.name`` the stream)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.analysis.experiment import CacheSetup, run_analysis
from memprof.analysis.mrc import curve_frame, make_accumulator, mrc_curves
from memprof.analysis.replay import simulate_trace_file
from memprof.cli.main import main
from memprof.cli.options import finish_partial
from memprof.run.longrun import CheckpointPolicy, Interrupted, LongRun
from memprof.run.progress import Progress
from sim.checkpoint import CheckpointMismatch
from sim.config import CacheConfig
from traces.format.tracefile import iter_trace_file
from traces.stream import model_trace
from traces.workloads import get_workload

N = 20_000
CHUNK = 1_000
LLCS = [CacheConfig("16KB", 4), CacheConfig("64KB", 8)]
L1 = CacheConfig("2KB", 2)


@pytest.fixture()
def npy_trace(tmp_path):
    rng = np.random.default_rng(5)
    addrs = rng.integers(0, 3000, N).astype(np.uint64) * np.uint64(64)
    addrs[rng.random(N) < 0.1] |= np.uint64(1 << 63)
    path = tmp_path / "t.npy"
    np.save(path, addrs)
    return path


def after(steps: int, name: str | None = None, exc=KeyboardInterrupt):
    """A should_stop hook: stop (or raise ``exc``, e.g. a crash) once ``steps`` steps of stream ``name`` are fed."""

    def hook(position):
        if position.steps == steps and name in (None, position.name):
            if exc is KeyboardInterrupt:
                return True
            raise exc()
        return False

    return hook


def _simulate(path, policy=None, warmup=5_000, should_stop=None):
    return simulate_trace_file(path, LLCS, l1=L1, warmup=warmup, chunk_entries=CHUNK, progress=False,
                               checkpoint=policy, should_stop=should_stop)


# -- simulate --trace -------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [3, 12])  # 3,000 accesses: inside the 5,000-access warm-up; 12,000: after it
def test_trace_interrupt_then_resume_equals_uninterrupted(npy_trace, tmp_path, steps):
    whole = _simulate(npy_trace)
    policy = CheckpointPolicy(tmp_path / "ck", every_seconds=3600)
    with pytest.raises(Interrupted) as info:
        _simulate(npy_trace, policy, should_stop=after(steps))
    stop = info.value
    assert f"{steps * CHUNK:,} of {N:,} accesses" in stop.message and stop.exit_code == 130
    if steps * CHUNK <= 5_000:
        assert stop.frame.empty and "inside the warm-up" in stop.message
    else:
        assert stop.frame["partial"].all() and (stop.frame["accesses"] == steps * CHUNK - 5_000).all()
    assert (tmp_path / "ck" / "simulate-trace.ckpt.npz").exists()

    resumed = _simulate(npy_trace, CheckpointPolicy(tmp_path / "ck", resume=True))
    pd.testing.assert_frame_equal(resumed, whole)
    assert not (tmp_path / "ck" / "simulate-trace.ckpt.npz").exists()  # a finished run removes it


def test_resume_with_other_chunks_equals_uninterrupted(npy_trace, tmp_path):
    whole = _simulate(npy_trace)
    with pytest.raises(Interrupted):
        _simulate(npy_trace, CheckpointPolicy(tmp_path), should_stop=after(7))  # 7,000 accesses fed
    resumed = simulate_trace_file(npy_trace, LLCS, l1=L1, warmup=5_000, chunk_entries=3_000, progress=False,
                                  checkpoint=CheckpointPolicy(tmp_path, resume=True))  # 7,000 is inside chunk 3
    pd.testing.assert_frame_equal(resumed, whole)


def test_periodic_checkpoint_survives_a_crash(npy_trace, tmp_path):
    whole = _simulate(npy_trace)
    with pytest.raises(MemoryError):  # not a stop: no save on the way out
        _simulate(npy_trace, CheckpointPolicy(tmp_path, every_seconds=0), should_stop=after(9, exc=MemoryError))
    resumed = _simulate(npy_trace, CheckpointPolicy(tmp_path, resume=True))
    pd.testing.assert_frame_equal(resumed, whole)


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_real_signal_stops_at_a_chunk_boundary(npy_trace, tmp_path, signum, status):
    whole = _simulate(npy_trace)

    def signalling(position):
        if position.steps == 7:
            os.kill(os.getpid(), signum)  # arrives after chunk 7: the run stops after chunk 8
        return False

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(Interrupted) as info:
        _simulate(npy_trace, CheckpointPolicy(tmp_path), should_stop=signalling)
    assert {s: signal.getsignal(s) for s in before} == before  # handlers restored
    assert info.value.exit_code == status
    assert (info.value.frame["accesses"] == 8 * CHUNK - 5_000).all()  # chunk 8 finished, nothing half fed
    pd.testing.assert_frame_equal(_simulate(npy_trace, CheckpointPolicy(tmp_path, resume=True)), whole)


def test_a_second_signal_during_the_save_waits_for_it(npy_trace, tmp_path):
    """The first SIGINT stops the run; a second one arrives while the checkpoint is written
    (the simulators' state is read for the save) and must neither abort nor corrupt it."""
    from memprof.analysis.replay import SimulatorSet
    from memprof.run.driver import Warmup, drive, file_stream
    from sim.engine.simulator import Simulator

    class SignallingDuringSave(SimulatorSet):
        def checkpoint_extra(self):
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, inside the save
            return super().checkpoint_extra()

    def run(consumer, policy, stop=None):
        longrun = LongRun("x", policy, trace={"n": N})
        with longrun:
            drive(file_stream(npy_trace, CHUNK), consumer, longrun, warmup=Warmup(5_000),
                  resume=longrun.resume_meta() is not None, progress=False, should_stop=stop)
        longrun.finish()
        return pd.DataFrame([r.to_record() for r in consumer.result()])

    whole = run(SimulatorSet([Simulator(c, l1=L1) for c in LLCS]), None)

    def first_ctrl_c(position):
        if position.steps == 6:
            os.kill(os.getpid(), signal.SIGINT)
        return False

    with pytest.raises(Interrupted) as info:  # not a plain KeyboardInterrupt: the stop completed
        run(SignallingDuringSave([Simulator(c, l1=L1) for c in LLCS]), CheckpointPolicy(tmp_path, 3600),
            first_ctrl_c)
    assert "checkpoint saved" in info.value.message and info.value.position.accesses == 7 * CHUNK
    resumed = run(SimulatorSet([Simulator(c, l1=L1) for c in LLCS]), CheckpointPolicy(tmp_path, resume=True))
    pd.testing.assert_frame_equal(resumed, whole)


def test_a_second_signal_between_steps_aborts_without_a_checkpoint(npy_trace, tmp_path):
    def twice(position):
        if position.steps == 4:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return False

    with pytest.raises(KeyboardInterrupt) as info:
        _simulate(npy_trace, CheckpointPolicy(tmp_path, 3600), should_stop=twice)
    assert not isinstance(info.value, Interrupted)
    assert not (tmp_path / "simulate-trace.ckpt.npz").exists()


def test_cli_resume_with_other_options_is_refused(npy_trace, tmp_path):
    with pytest.raises(Interrupted):  # a checkpoint of the default simulate --trace --llc 64KB
        simulate_trace_file(npy_trace, [CacheConfig("64KB", 16)], chunk_entries=CHUNK, progress=False,
                            checkpoint=CheckpointPolicy(tmp_path), should_stop=after(4))
    result = CliRunner().invoke(main, ["simulate", "--trace", str(npy_trace), "--format", "csv", "--no-progress",
                                       "--checkpoint", str(tmp_path), "--llc", "128KB", "--resume"])
    assert result.exit_code == 1
    assert "another configuration" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_resume_option_errors():
    result = CliRunner().invoke(main, ["simulate", "--resume", "--no-progress"])
    assert result.exit_code == 2 and "--checkpoint DIR" in result.output
    result = CliRunner().invoke(main, ["simulate", "--checkpoint", "x", "--checkpoint-every", "-1"])
    assert result.exit_code == 2 and "--checkpoint-every" in result.output


def test_resume_without_a_checkpoint_starts_from_the_beginning(npy_trace, tmp_path, capsys):
    whole = _simulate(npy_trace)
    resumed = _simulate(npy_trace, CheckpointPolicy(tmp_path, resume=True))
    pd.testing.assert_frame_equal(resumed, whole)
    assert "no checkpoint at" in capsys.readouterr().err


@pytest.mark.parametrize("signum, rows", [(signal.SIGINT, 2), (signal.SIGTERM, 0)])
def test_finish_partial_writes_the_rows_and_exits_with_the_signal_status(signum, rows):
    frame = pd.DataFrame({"accesses": [7, 8][:rows], "partial": [True, True][:rows]})

    @click.command()
    def command():
        finish_partial(Interrupted(frame, {}, "interrupted: 7 of 9", signum=signum), "csv", None, kind="simulate-trace")

    result = CliRunner().invoke(command)
    assert result.exit_code == 128 + signum and "interrupted: 7 of 9" in result.stderr
    assert (pd.read_csv(io.StringIO(result.stdout))["accesses"].tolist() if rows else result.stdout) == \
        ([7, 8] if rows else "")


# -- the headline analysis ------------------------------------------------------------------------

SMALL = get_workload("5000,300,70,20000", dim=16)
BATCHES = 8  # warm-up 0.25: batches 0 and 1


def _traces(alpha=0.8):
    return [model_trace(m, SMALL, batch_size=64, batches=BATCHES, seed=3, alpha=alpha) for m in ("dlrm", "memrec")]


SETUP = CacheSetup((16 * 1024, 64 * 1024), ways=4, warmup=0.25)


@pytest.mark.parametrize("model, steps", [("dlrm", 1), ("dlrm", 5), ("memrec", 2), ("memrec", 6)])
def test_analysis_interrupt_then_resume_equals_uninterrupted(tmp_path, model, steps):
    whole, _ = run_analysis(_traces(), SETUP, progress=False)
    with pytest.raises(Interrupted) as info:
        run_analysis(_traces(), SETUP, progress=False, checkpoint=CheckpointPolicy(tmp_path, every_seconds=3600),
                     should_stop=after(steps, model))
    frame = info.value.frame
    finished = frame[~frame["partial"]] if len(frame) else frame
    assert set(finished.get("model", [])) == ({"dlrm"} if model == "memrec" else set())
    if steps < 2:  # inside the warm-up (batches 0 and 1): no row for the model in progress
        assert model not in set(frame.get("model", [])) and "inside the warm-up" in info.value.message
    resumed, _ = run_analysis(_traces(), SETUP, progress=False, checkpoint=CheckpointPolicy(tmp_path, resume=True))
    pd.testing.assert_frame_equal(resumed, whole)


def test_analysis_partial_rows_count_the_measured_batches():
    whole, _ = run_analysis(_traces(), SETUP, progress=False)
    with pytest.raises(Interrupted) as info:
        run_analysis(_traces(), SETUP, progress=False, should_stop=after(5, "memrec"))
    frame = info.value.frame
    memrec_trace = _traces()[1]
    rep = memrec_trace.representation
    measured = sum(rep.emit(memrec_trace.generator.batch(64, b)).size for b in (2, 3, 4))  # after the warm-up
    partial = frame[frame["model"] == "memrec"]
    assert partial["partial"].all() and (partial["accesses"] == measured).all()
    assert partial[["cycles_ratio", "llc_misses_ratio", "dram_bw_ratio"]].isna().all().all()
    done = frame[frame["model"] == "dlrm"].drop(columns="partial").reset_index(drop=True)
    expected = whole[whole["model"] == "dlrm"].reset_index(drop=True)
    pd.testing.assert_frame_equal(done[expected.columns], expected)
    assert "models finished: dlrm" in info.value.message and "5 of 8 batches" in info.value.message


def test_analysis_resume_with_another_workload_is_refused(tmp_path):
    with pytest.raises(Interrupted):
        run_analysis(_traces(), SETUP, progress=False, checkpoint=CheckpointPolicy(tmp_path),
                     should_stop=after(3, "dlrm"))
    with pytest.raises(CheckpointMismatch, match="another trace"):
        run_analysis(_traces(alpha=0.9), SETUP, progress=False, checkpoint=CheckpointPolicy(tmp_path, resume=True))


# -- mrc -----------------------------------------------------------------------------------------

MRC_SIZES = [8 << 10, 32 << 10, 128 << 10]


def _curves(sources, make, working_set=False, longrun=None, should_stop=None):
    return mrc_curves(sources, make, working_set=working_set, progress=False, longrun=longrun,
                      should_stop=should_stop)


def _mrc_run(name, policy, config, sources, make, working_set=False, should_stop=None):
    longrun = LongRun(name, policy, trace={"sources": sorted(sources())}, config=config)
    with longrun:
        return _curves(sources(), make, working_set, longrun, should_stop)


@pytest.mark.parametrize("method", [dict(method="exact"), dict(method="exact", sets=4),
                                    dict(method="shards-rate", rate=0.5), dict(method="shards-size", max_lines=500)])
def test_mrc_file_interrupt_then_resume(npy_trace, tmp_path, method):
    def make():
        return make_accumulator(line_bytes=64, **method)

    def sources():
        return {"t.npy": iter_trace_file(npy_trace, CHUNK)}

    whole = curve_frame({n: f.curve for n, f in _curves(sources(), make).items()}, MRC_SIZES)
    with pytest.raises(Interrupted) as info:
        _mrc_run("mrc", CheckpointPolicy(tmp_path), method, sources, make, should_stop=after(6))
    current = info.value.frame["t.npy"]
    assert current.partial and current.curve.accesses == 6 * CHUNK
    resumed = _mrc_run("mrc", CheckpointPolicy(tmp_path, resume=True), method, sources, make)
    pd.testing.assert_frame_equal(curve_frame({n: f.curve for n, f in resumed.items()}, MRC_SIZES), whole)


@pytest.mark.parametrize("model, steps, working_set", [("dlrm", 2, False), ("memrec", 3, False),
                                                        ("memrec", 1, True)])
def test_mrc_models_interrupt_then_resume(tmp_path, model, steps, working_set):
    def make():
        return make_accumulator("exact", line_bytes=64)

    def sources():
        return {t.representation.name: t for t in _traces()}

    def table(results):
        return curve_frame({n: f.curve for n, f in results.items()}, MRC_SIZES)

    whole = _curves(sources(), make, working_set)
    with pytest.raises(Interrupted) as info:
        _mrc_run("mrc", CheckpointPolicy(tmp_path), {}, sources, make, working_set, after(steps, model))
    flags = {name: done.partial for name, done in info.value.frame.items()}
    assert flags[model] and (model == "dlrm" or not flags["dlrm"])
    resumed = _mrc_run("mrc", CheckpointPolicy(tmp_path, resume=True), {}, sources, make, working_set)
    pd.testing.assert_frame_equal(table(resumed), table(whole))
    if working_set:
        for name in whole:
            assert np.array_equal(resumed[name].footprint[0], whole[name].footprint[0])


# -- the CLI in a subprocess: real signals ---------------------------------------------------------


@pytest.fixture(scope="module")
def long_trace(tmp_path_factory):
    """2M accesses: with 65,536-access chunks (--max-memory 242MiB) and a checkpoint after every
    chunk the run lasts seconds, long enough to be signalled in the middle."""
    rng = np.random.default_rng(9)
    path = tmp_path_factory.mktemp("long") / "long.npy"
    np.save(path, rng.integers(0, 100_000, 2_000_000).astype(np.uint64) * np.uint64(64))
    return path


def _signalled(args, checkpoint, signum):
    """Run ``memprof ARGS`` in a child process, send ``signum`` once its first checkpoint exists."""
    child = subprocess.Popen([sys.executable, "-c", "from memprof.cli.main import main; main()", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)  # the first checkpoint: the child is past imports and simulating
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    return child.returncode, out, err


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signalled_simulate_exits_with_partial_rows_and_resumes(long_trace, tmp_path, signum, status):
    ck = tmp_path / "ck"
    args = ["simulate", "--trace", str(long_trace), "--llc", "1MB", "--format", "csv", "--no-progress",
            "--max-memory", "242MiB", "--checkpoint", str(ck), "--checkpoint-every", "0"]
    code, out, err = _signalled(args, ck / "simulate-trace.ckpt.npz", signum)
    assert code == status, err
    assert "Traceback" not in err and "checkpoint saved" in err
    partial = pd.read_csv(io.StringIO(out))
    assert partial["partial"].tolist() == [True] and 0 < partial["accesses"].iloc[0] < 2_000_000
    assert partial["accesses"].iloc[0] % 65_536 == 0  # stopped at a chunk boundary
    resumed = CliRunner().invoke(main, [*args, "--resume"])
    whole = CliRunner().invoke(main, args[:-4])
    assert resumed.exit_code == 0 and whole.exit_code == 0, resumed.output + whole.output
    assert resumed.stdout == whole.stdout


def test_a_sigterm_to_the_analysis_exits_143_and_resumes(tmp_path):
    ck = tmp_path / "ck"
    args = ["simulate", "--workload", "5000,300,70,20000", "--dim", "16", "--batch-size", "64", "--batches", "200",
            "--seed", "3", "--alpha", "0.8", "--llc", "256KB", "--ways", "4", "--no-private-levels", "--format",
            "csv", "--no-progress", "--checkpoint", str(ck), "--checkpoint-every", "0"]
    code, out, err = _signalled(args, ck / "simulate.ckpt.npz", signal.SIGTERM)
    assert code == 143, err
    assert "Traceback" not in err and "checkpoint saved" in err and "of 200 batches" in err
    assert pd.read_csv(io.StringIO(out))["partial"].any() if out else "inside the warm-up" in err
    resumed = CliRunner().invoke(main, [*args, "--resume"])
    whole = CliRunner().invoke(main, args[:-4])
    assert resumed.exit_code == 0 and whole.exit_code == 0, resumed.output + whole.output
    assert resumed.stdout == whole.stdout


# -- pieces ----------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_reports_rate_percent_and_eta():
    clock, out = FakeClock(), io.StringIO()
    meter = Progress("simulate", total=4_000_000, clock=clock, stream=out, quiet_seconds=0, interval=0)
    clock.now += 2.0
    meter.update(1_000_000)
    assert "1,000,000 accesses (0.5 M/s), 25%" in out.getvalue()
    assert "ETA" not in out.getvalue()  # the first step (JIT compile) is no rate to extrapolate
    clock.now += 2.0
    meter.update(1_000_000)
    # 1e6 accesses in the 2 s since the first update = 0.5 M/s; 2e6 left -> 4 s
    assert "2,000,000 accesses (0.5 M/s), 50%, ETA 4 s" in out.getvalue()


def test_progress_shows_no_eta_while_the_first_step_compiles():
    clock, out = FakeClock(), io.StringIO()
    meter = Progress("simulate", total=100_000_000, clock=clock, stream=out, quiet_seconds=0, interval=0)
    clock.now += 30.0  # Numba compiling inside the first chunk
    meter.update(1_000_000)
    assert "ETA" not in out.getvalue()
    clock.now += 0.5  # the next chunk at the real rate, 2 M/s
    meter.update(1_000_000)
    # 98e6 left at 2 M/s -> 49 s (from the whole elapsed time it would say about 1500 s)
    assert out.getvalue().rstrip().endswith("2,000,000 accesses (2.0 M/s), 2%, ETA 49 s")


def test_progress_of_a_resumed_run_counts_only_new_work():
    clock, out = FakeClock(), io.StringIO()
    meter = Progress("simulate", clock=clock, stream=out, quiet_seconds=0, interval=0, start=3_000_000,
                     start_fraction=0.25)
    clock.now += 10.0
    meter.update(2_000_000, fraction=0.5)
    # 2e6 new accesses in 10 s = 0.2 M/s (the 3e6 done before the resume do not count)
    assert "5,000,000 accesses (0.2 M/s), 50%" in out.getvalue()
    clock.now += 10.0
    meter.update(2_000_000, fraction=0.75)
    # a quarter of the input took the last 10 s, a quarter remains -> 10 s
    assert "7,000,000 accesses (0.2 M/s), 75%, ETA 10 s" in out.getvalue()


def test_checkpoints_are_due_every_interval(tmp_path):
    clock = FakeClock()
    run = LongRun("x", CheckpointPolicy(tmp_path, every_seconds=60), trace={}, clock=clock)
    clock.now += 59.0
    assert not run.due()
    clock.now += 1.0
    assert run.due()
    run.save({}, {"k": 1})
    assert not run.due() and (tmp_path / "x.ckpt.npz").exists()
    assert not LongRun("y", None, trace={}, clock=clock).due()  # no policy: never saves
