"""Long runs: Ctrl-C gives partial results (exit 130, ``partial`` column), checkpoints resume
to exactly the counts of an uninterrupted run (trace replay, the headline analysis, mrc),
including interruptions inside the warm-up; progress lines; option errors."""

from __future__ import annotations

import io
import os
import signal

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import memprof.analysis.mrc as commands_mrc
import memprof.analysis.replay as commands_sim
import memprof.analysis.experiment as experiment
from memprof.cli.main import main
from memprof.analysis.replay import simulate_trace_file
from memprof.analysis.experiment import CacheSetup, run_analysis
from memprof.run.longrun import CheckpointPolicy, Interrupted, LongRun
from memprof.run.progress import Progress
from sim.config import CacheConfig
from traces.stream import model_trace
from traces.format.tracefile import iter_trace_file
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


def _interrupting(chunks, after: int, exc=KeyboardInterrupt):
    """Yield ``after`` chunks, then raise ``exc`` (what Ctrl-C or a crash does between chunks)."""
    for number, chunk in enumerate(chunks):
        if number == after:
            raise exc()
        yield chunk


def _patch_file_reader(monkeypatch, module, after: int, exc=KeyboardInterrupt):
    monkeypatch.setattr(module, "iter_trace_file",
                        lambda path, entries=CHUNK: _interrupting(iter_trace_file(path, CHUNK), after, exc))


def _simulate(path, policy=None, warmup=5_000):
    return simulate_trace_file(path, LLCS, l1=L1, warmup=warmup, chunk_entries=CHUNK, progress=False,
                               checkpoint=policy)


# -- simulate --trace -------------------------------------------------------------------------


@pytest.mark.parametrize("after", [3, 12])  # 3,000 accesses: inside the 5,000-access warm-up; 12,000: after it
def test_trace_interrupt_then_resume_equals_uninterrupted(npy_trace, tmp_path, monkeypatch, after):
    whole = _simulate(npy_trace)
    policy = CheckpointPolicy(tmp_path / "ck", every_seconds=3600)
    _patch_file_reader(monkeypatch, commands_sim, after)
    with pytest.raises(Interrupted) as info:
        _simulate(npy_trace, policy)
    stop = info.value
    assert f"{after * CHUNK:,} of {N:,} accesses" in stop.message
    if after * CHUNK <= 5_000:
        assert stop.frame.empty and "inside the warm-up" in stop.message
    else:
        assert stop.frame["partial"].all() and (stop.frame["accesses"] == after * CHUNK - 5_000).all()
    assert (tmp_path / "ck" / "simulate-trace.ckpt.npz").exists()

    monkeypatch.undo()
    resumed = _simulate(npy_trace, CheckpointPolicy(tmp_path / "ck", resume=True))
    pd.testing.assert_frame_equal(resumed, whole)
    assert not (tmp_path / "ck" / "simulate-trace.ckpt.npz").exists()  # a finished run removes it


def test_periodic_checkpoint_survives_a_crash(npy_trace, tmp_path, monkeypatch):
    whole = _simulate(npy_trace)
    _patch_file_reader(monkeypatch, commands_sim, 9, exc=MemoryError)  # not Ctrl-C: no save on the way out
    with pytest.raises(MemoryError):
        _simulate(npy_trace, CheckpointPolicy(tmp_path, every_seconds=0))  # 0: after every chunk
    monkeypatch.undo()
    resumed = _simulate(npy_trace, CheckpointPolicy(tmp_path, resume=True))
    pd.testing.assert_frame_equal(resumed, whole)


def test_real_sigint_stops_at_a_chunk_boundary(npy_trace, tmp_path, monkeypatch):
    whole = _simulate(npy_trace)

    def signalling(path, entries=CHUNK):
        for number, chunk in enumerate(iter_trace_file(path, CHUNK)):
            if number == 7:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while chunk 7 is being read
            yield chunk

    monkeypatch.setattr(commands_sim, "iter_trace_file", signalling)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as info:
        _simulate(npy_trace, CheckpointPolicy(tmp_path))
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    assert (info.value.frame["accesses"] == 8 * CHUNK - 5_000).all()  # chunk 7 finished, nothing half fed
    monkeypatch.undo()
    pd.testing.assert_frame_equal(_simulate(npy_trace, CheckpointPolicy(tmp_path, resume=True)), whole)


def test_cli_ctrl_c_writes_partial_rows_and_exits_130(npy_trace, tmp_path, monkeypatch):
    _patch_file_reader(monkeypatch, commands_sim, 7)
    out = tmp_path / "partial.csv"
    result = CliRunner().invoke(main, ["simulate", "--trace", str(npy_trace), "--llc", "16KB,64KB", "--ways", "4",
                                       "--format", "csv", "-o", str(out), "--no-progress"])
    assert result.exit_code == 130
    assert "Traceback" not in result.output and "Aborted" not in result.output
    frame = pd.read_csv(out)
    assert frame["partial"].tolist() == [True, True]
    assert frame["accesses"].tolist() == [7 * CHUNK, 7 * CHUNK]
    assert f"simulated 7,000 of {N:,} accesses (35.0%)" in result.stderr
    assert "no checkpoint" in result.stderr


def test_cli_ctrl_c_inside_the_warmup_writes_no_table(npy_trace, monkeypatch):
    _patch_file_reader(monkeypatch, commands_sim, 2)
    result = CliRunner().invoke(main, ["simulate", "--trace", str(npy_trace), "--llc", "64KB", "--warmup", "5000",
                                       "--format", "csv", "--no-progress"])
    assert result.exit_code == 130 and result.stdout == ""
    assert "inside the warm-up" in result.stderr and "nothing measured" in result.stderr


def test_cli_resume_with_other_options_is_refused(npy_trace, tmp_path, monkeypatch):
    _patch_file_reader(monkeypatch, commands_sim, 4)
    base = ["simulate", "--trace", str(npy_trace), "--format", "csv", "--no-progress", "--checkpoint", str(tmp_path)]
    assert CliRunner().invoke(main, [*base, "--llc", "64KB"]).exit_code == 130
    monkeypatch.undo()
    result = CliRunner().invoke(main, [*base, "--llc", "128KB", "--resume"])
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


# -- the headline analysis ------------------------------------------------------------------------

SMALL = get_workload("5000,300,70,20000", dim=16)
BATCHES = 8  # warm-up 0.25: batches 0 and 1


def _traces():
    return [model_trace(m, SMALL, batch_size=64, batches=BATCHES, seed=3, alpha=0.8) for m in ("dlrm", "memrec")]


SETUP = CacheSetup((16 * 1024, 64 * 1024), ways=4, warmup=0.25)


def _patch_batches(monkeypatch, model: str, after: int):
    real = experiment.skip_batches

    def fake(trace, start):
        batches = real(trace, start)
        if trace.representation.name == model:
            return _interrupting(batches, after - start)
        return batches

    monkeypatch.setattr(experiment, "skip_batches", fake)


@pytest.mark.parametrize("model, after", [("dlrm", 1), ("dlrm", 5), ("memrec", 2), ("memrec", 6)])
def test_analysis_interrupt_then_resume_equals_uninterrupted(tmp_path, monkeypatch, model, after):
    whole, _ = run_analysis(_traces(), SETUP, progress=False)
    _patch_batches(monkeypatch, model, after)
    with pytest.raises(Interrupted) as info:
        run_analysis(_traces(), SETUP, progress=False, checkpoint=CheckpointPolicy(tmp_path, every_seconds=3600))
    monkeypatch.undo()
    frame = info.value.frame
    finished = frame[~frame["partial"]] if len(frame) else frame
    assert set(finished.get("model", [])) == ({"dlrm"} if model == "memrec" else set())
    resumed, _ = run_analysis(_traces(), SETUP, progress=False, checkpoint=CheckpointPolicy(tmp_path, resume=True))
    pd.testing.assert_frame_equal(resumed, whole)


def test_analysis_partial_rows_count_the_measured_batches(tmp_path, monkeypatch):
    whole, _ = run_analysis(_traces(), SETUP, progress=False)
    _patch_batches(monkeypatch, "memrec", 5)
    with pytest.raises(Interrupted) as info:
        run_analysis(_traces(), SETUP, progress=False, interruptible=True)
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


ANALYSIS_ARGS = ["simulate", "--workload", "5000,300,70,20000", "--dim", "16", "--batch-size", "64", "--batches",
                 str(BATCHES), "--seed", "3", "--alpha", "0.8", "--llc", "16KB", "--ways", "4",
                 "--no-private-levels", "--format", "csv", "--no-progress"]


def test_analysis_cli_partial_and_resume(tmp_path, monkeypatch):
    whole = CliRunner().invoke(main, ANALYSIS_ARGS)
    assert whole.exit_code == 0, whole.output
    _patch_batches(monkeypatch, "memrec", 4)
    stopped = CliRunner().invoke(main, [*ANALYSIS_ARGS, "--checkpoint", str(tmp_path)])
    assert stopped.exit_code == 130 and "Traceback" not in stopped.output
    partial = pd.read_csv(io.StringIO(stopped.stdout))
    assert partial["partial"].tolist() == [False, True] and partial["model"].tolist() == ["dlrm", "memrec"]
    assert pd.isna(partial["cycles_ratio"].iloc[1])  # unavailable: fewer batches than the baseline
    assert "checkpoint saved" in stopped.stderr and "4 of 8 batches" in stopped.stderr
    monkeypatch.undo()
    resumed = CliRunner().invoke(main, [*ANALYSIS_ARGS, "--checkpoint", str(tmp_path), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout == whole.stdout


def test_analysis_resume_with_another_workload_is_refused(tmp_path, monkeypatch):
    _patch_batches(monkeypatch, "dlrm", 3)
    assert CliRunner().invoke(main, [*ANALYSIS_ARGS, "--checkpoint", str(tmp_path)]).exit_code == 130
    monkeypatch.undo()
    args = [a if a != "0.8" else "0.9" for a in ANALYSIS_ARGS]  # another --alpha: another trace
    result = CliRunner().invoke(main, [*args, "--checkpoint", str(tmp_path), "--resume"])
    assert result.exit_code == 1 and "another trace" in result.output


# -- mrc -----------------------------------------------------------------------------------------


def _mrc(*args):
    return CliRunner().invoke(main, ["mrc", *map(str, args), "--format", "csv", "--no-progress"])


@pytest.mark.parametrize("method", [[], ["--sets", "4"], ["--shards", "0.5"], ["--shards-max", "500"]])
def test_mrc_file_interrupt_then_resume(npy_trace, tmp_path, monkeypatch, method):
    args = ["--trace", npy_trace, "--sizes", "8KB..256KB", *method]
    whole = _mrc(*args)
    assert whole.exit_code == 0, whole.output
    _patch_file_reader(monkeypatch, commands_mrc, 6)
    stopped = _mrc(*args, "--checkpoint", tmp_path)
    assert stopped.exit_code == 130, stopped.output
    partial = pd.read_csv(io.StringIO(stopped.stdout))
    assert partial["partial"].all() and (partial["accesses"] == 6 * CHUNK).all()
    monkeypatch.undo()
    resumed = _mrc(*args, "--checkpoint", tmp_path, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout == whole.stdout


MRC_MODELS = ["--model", "dlrm,memrec", "--workload", "5000,300,70,20000", "--dim", "16", "--batch-size", "64",
              "--batches", "6", "--sizes", "16KB..1MB"]


@pytest.mark.parametrize("model, after, extra", [("dlrm", 2, []), ("memrec", 3, []), ("memrec", 1, ["--working-set"])])
def test_mrc_models_interrupt_then_resume(tmp_path, monkeypatch, model, after, extra):
    whole = _mrc(*MRC_MODELS, *extra)
    assert whole.exit_code == 0, whole.output
    real = commands_mrc.skip_batches

    def fake(trace, start):
        batches = real(trace, start)
        return _interrupting(batches, after - start) if trace.representation.name == model else batches

    monkeypatch.setattr(commands_mrc, "skip_batches", fake)
    stopped = _mrc(*MRC_MODELS, *extra, "--checkpoint", tmp_path)
    assert stopped.exit_code == 130, stopped.output
    partial = pd.read_csv(io.StringIO(stopped.stdout))
    flags = dict(zip(partial["representation"], partial["partial"]))
    assert flags[model] and (model == "dlrm" or not flags["dlrm"])
    monkeypatch.undo()
    resumed = _mrc(*MRC_MODELS, *extra, "--checkpoint", tmp_path, "--resume")
    assert resumed.exit_code == 0, resumed.output
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
    # 1e6 accesses in 2 s = 0.5 M/s; 3e6 left -> 6 s
    assert "1,000,000 accesses (0.5 M/s), 25%, ETA 6 s" in out.getvalue()


def test_progress_of_a_resumed_run_counts_only_new_work():
    clock, out = FakeClock(), io.StringIO()
    meter = Progress("simulate", clock=clock, stream=out, quiet_seconds=0, interval=0, start=3_000_000,
                     start_fraction=0.25)
    clock.now += 10.0
    meter.update(2_000_000, fraction=0.5)
    # 2e6 new accesses in 10 s = 0.2 M/s; a quarter of the input took 10 s, half remains -> 20 s
    assert "5,000,000 accesses (0.2 M/s), 50%, ETA 20 s" in out.getvalue()


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


SLOW_CHILD = """
import sys, time
import memprof.analysis.replay as commands_sim
real = commands_sim.iter_trace_file

def slow(path, entries):
    for chunk in real(path, 1000):
        time.sleep(0.2)  # a long run: Ctrl-C arrives while it is going
        yield chunk

commands_sim.iter_trace_file = slow
from memprof.cli.main import main
main(sys.argv[1:], prog_name="memprof")
"""


def test_sigint_to_a_running_command_exits_130_with_partial_rows(npy_trace, tmp_path):
    import subprocess
    import sys
    import time

    ck = tmp_path / "ck"
    args = ["simulate", "--trace", str(npy_trace), "--llc", "64KB", "--format", "csv", "--no-progress",
            "--checkpoint", str(ck), "--checkpoint-every", "0"]
    child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (ck / "simulate-trace.ckpt.npz").exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)  # the first checkpoint: the child is past imports and simulating
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in err and "checkpoint saved" in err
    partial = pd.read_csv(io.StringIO(out))
    assert partial["partial"].tolist() == [True] and 0 < partial["accesses"].iloc[0] < N
    assert partial["accesses"].iloc[0] % CHUNK == 0  # stopped at a chunk boundary
    resumed = CliRunner().invoke(main, [*args, "--resume"])
    whole = CliRunner().invoke(main, args[:-4])
    assert resumed.exit_code == 0 and resumed.stdout == whole.stdout
