"""Issue 15: output paths checked before any work, -o - is stdout, --format from the suffix,
results kept when the final write fails, exit codes, messages after a progress line."""

from __future__ import annotations

import io
import json

import click
import pytest
from click.testing import CliRunner

import memprof.cli.analysis as analysis_cli
import memprof.report.output as output
from memprof.cli.main import main
from memprof.cli.options import runtime_errors
from memprof.run.progress import Progress

SMALL = ["--workload", "1000,2000", "--batches", "2", "--batch-size", "16", "--llc", "1MB", "--no-progress"]


@pytest.fixture
def no_jobs(monkeypatch):
    """Fail the test if a sweep or reproduce starts running its jobs."""
    calls = []

    def run_sweep(*args, **kwargs):
        calls.append(args)
        raise AssertionError("jobs ran although an output path was bad")

    monkeypatch.setattr(analysis_cli, "run_sweep", run_sweep)
    return calls


def _run(args, **kwargs):
    return CliRunner().invoke(main, args, catch_exceptions=False, **kwargs)


@pytest.mark.parametrize("option", ["-o", "--plot", "--metadata"])
def test_sweep_with_an_unwritable_output_fails_before_any_job(tmp_path, no_jobs, option):
    target = tmp_path / "nodir" / ("x.png" if option == "--plot" else "x.csv")
    result = _run(["sweep", "--param", "alpha=0.8,1.0", *SMALL, option, str(target)])
    assert result.exit_code == 2
    assert f"{target}" in result.output and "does not exist" in result.output
    assert no_jobs == []


def test_a_plot_suffix_matplotlib_cannot_write_is_refused_before_work(tmp_path, no_jobs):
    result = _run(["sweep", "--param", "alpha=0.8", *SMALL, "--plot", str(tmp_path / "x.gif")])
    assert result.exit_code == 2
    assert "unknown suffix '.gif'" in result.output and ".png, .pdf, .svg" in result.output
    assert no_jobs == []


def test_reproduce_into_proc_is_a_one_line_usage_error(no_jobs):
    result = _run(["reproduce", *SMALL, "-o", "/proc/memprof-test-out"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "cannot create files in /proc" in result.output


def test_reproduce_leaves_no_folder_after_a_bad_option(tmp_path, no_jobs):
    out = tmp_path / "new" / "out"
    result = _run(["reproduce", *SMALL[:-3], "--llc", "12 parsecs", "-o", str(out)])
    assert result.exit_code == 2
    assert not (tmp_path / "new").exists()


def test_reproduce_keeps_a_folder_the_user_had(tmp_path, no_jobs):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = _run(["reproduce", *SMALL[:-3], "--llc", "12 parsecs", "-o", str(out)])
    assert result.exit_code == 2
    assert (out / "notes.txt").read_text() == "keep me"


def test_dash_writes_to_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run(["cpus", "-o", "-"])
    assert result.exit_code == 0
    assert "freq_ghz" in result.stdout.splitlines()[0]
    assert list(tmp_path.iterdir()) == []  # no file named '-'


@pytest.mark.parametrize("name, check", [
    ("cpus.csv", lambda text: text.startswith("cpu,freq_ghz,")),
    ("cpus.json", lambda text: json.loads(text)["schema"] == "memprof.cpus/1"),
    ("cpus.md", lambda text: text.startswith("| cpu | freq_ghz |")),
    ("cpus.markdown", lambda text: text.startswith("| cpu | freq_ghz |")),
    ("cpus.txt", lambda text: text.split()[:2] == ["cpu", "freq_ghz"] and "|" not in text),
])
def test_format_follows_the_output_suffix(tmp_path, name, check):
    target = tmp_path / name
    assert _run(["cpus", "-o", str(target)]).exit_code == 0
    assert check(target.read_text())


def test_an_explicit_format_wins_over_the_suffix(tmp_path):
    target = tmp_path / "cpus.json"
    for args in (["--format", "csv", "-o", str(target)], ["-o", str(target), "--format", "csv"]):
        assert _run(["cpus", *args]).exit_code == 0
        assert target.read_text().startswith("cpu,freq_ghz,")


def test_a_failed_final_write_keeps_the_results(tmp_path, monkeypatch):
    kept_dir = tmp_path / "tmp"
    kept_dir.mkdir()
    monkeypatch.setattr(output.tempfile, "tempdir", str(kept_dir))

    def full(path, data):
        raise OSError(28, f"{path}: No space left on device")

    monkeypatch.setattr(output, "atomic_write_bytes", full)
    target = tmp_path / "cpus.csv"
    result = _run(["cpus", "-o", str(target)])
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "No space left on device" in message
    (kept,) = kept_dir.iterdir()
    assert str(kept) in message
    assert kept.read_text().startswith("cpu,freq_ghz,")
    assert not target.exists()


def test_write_files_or_keep_puts_the_unwritten_files_in_a_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(output.tempfile, "tempdir", str(tmp_path))
    written = []

    def second_fails(path, data):
        if written:
            raise OSError(28, f"{path}: No space left on device")
        written.append(path)
        path.write_bytes(data)

    monkeypatch.setattr(output, "atomic_write_bytes", second_fails)
    with pytest.raises(output.OutputKept, match="b.md, c.json kept in") as info:
        output.write_files_or_keep(tmp_path / "out", {"a.csv": "1", "b.md": "2", "c.json": b"3"})
    assert (tmp_path / "out" / "a.csv").read_text() == "1"
    assert sorted(p.name for p in (tmp_path / info.value.kept).iterdir()) == ["b.md", "c.json"]


def test_an_error_starts_on_its_own_line_after_a_progress_meter(capsys):
    clock = iter(range(100, 200, 5)).__next__

    @click.command()
    @runtime_errors
    def failing():
        meter = Progress("simulate", total=10, clock=clock, quiet_seconds=0, interval=0)
        meter.update(3)
        raise ValueError("the trace ended early")

    result = CliRunner().invoke(failing, [])
    assert result.exit_code == 1
    progress_line, error = result.stderr.split("\n")[:2]
    assert progress_line.startswith("\rsimulate: 3 accesses")
    assert error == "Error: the trace ended early"


def test_end_line_is_written_once_and_only_after_a_shown_line():
    out = io.StringIO()
    meter = Progress("x", clock=lambda: 0.0, quiet_seconds=1, stream=out)
    meter.update(1)  # quiet: nothing shown
    meter.end_line()
    assert out.getvalue() == ""
    meter.quiet_seconds = 0
    meter.interval = 0
    meter.update(1)
    meter.end_line()
    meter.end_line()
    assert out.getvalue().count("\n") == 1 and out.getvalue().endswith("\n")


def test_exit_codes_usage_2_runtime_1(tmp_path):
    garbage = tmp_path / "g.npy"
    garbage.write_text("garbage\n")
    assert _run(["sweep", "--param", "nonsense=1,2", *SMALL]).exit_code == 2  # bad option value
    assert _run(["simulate", "--trace", str(tmp_path / "none.trace")]).exit_code == 2  # missing input
    assert _run(["simulate", "--trace", str(garbage), "--no-progress"]).exit_code == 2  # bad input file
    assert _run(["mrc", "--trace", str(garbage), "--no-progress"]).exit_code == 2
    assert _run(["simulate", "--trace", str(garbage), "--workload", "10,20"]).exit_code == 2  # inapplicable
    missing = tmp_path / "calibration"
    result = CliRunner(env={"MEMPROF_CACHE_DIR": str(missing), "XDG_CACHE_HOME": str(missing)}).invoke(
        main, ["calibrate", "--show"])
    assert result.exit_code == 1  # runtime: nothing stored yet


def test_reproduce_creates_its_folder_only_when_writing_results(tmp_path, monkeypatch):
    def failing_run(*args, **kwargs):
        raise RuntimeError("a job failed")

    monkeypatch.setattr(analysis_cli, "run_sweep", failing_run)
    out = tmp_path / "new" / "out"
    result = _run(["reproduce", *SMALL, "-o", str(out)])
    assert result.exit_code == 1 and "a job failed" in result.output
    assert not (tmp_path / "new").exists()


def test_a_checkpoint_of_other_llc_sizes_is_refused_naming_the_sizes(tmp_path):
    from memprof.run.longrun import CheckpointPolicy, LongRun
    from sim.checkpoint import CheckpointMismatch
    from sim.config import CacheConfig
    from sim.engine.simulator import Simulator

    def sims(*mib):
        return {f"llc{i}": Simulator(CacheConfig(m * MIB_, 16, 64, "lru")) for i, m in enumerate(mib)}

    MIB_ = 1 << 20
    with LongRun("simulate-trace", CheckpointPolicy(tmp_path / "ck", 3600), trace={"t": 1}) as run:
        run.save(sims(14, 28))
    resumed = LongRun("simulate-trace", CheckpointPolicy(tmp_path / "ck", 3600, resume=True), trace={"t": 1},
                      stream=io.StringIO())
    with pytest.raises(CheckpointMismatch, match=r"saved for LLC sizes 14MiB, 28MiB, this run has LLC size 14MiB"):
        resumed.restore(sims(14))


def test_click_exits_pass_through_the_error_decorator():
    @click.command()
    @runtime_errors
    def stopped():
        raise click.exceptions.Exit(130)  # Exit is a RuntimeError: it must not become "Error: 130"

    result = CliRunner().invoke(stopped, [])
    assert result.exit_code == 130 and "Error" not in result.output
