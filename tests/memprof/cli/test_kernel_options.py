"""``--threads`` / ``--prefetch-distance`` of bench, profile and calibrate: bad values are usage
errors (exit 2, one line naming the option) before anything runs."""

import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from sim.jit import max_threads


@pytest.mark.parametrize("command", [["bench"], ["profile"], ["calibrate", "--no-save"]])
@pytest.mark.parametrize("option, value, message", [
    ("--threads", "0", "--threads"),
    ("--threads", str(max_threads() + 1), f"threads must be <= {max_threads()}"),
    ("--prefetch-distance", "-1", "--prefetch-distance"),
])
def test_bad_kernel_options_are_usage_errors(command, option, value, message):
    result = CliRunner().invoke(main, [*command, option, value])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_calibrate_records_the_kernel_options(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("MEMPROF_CACHE_DIR", str(tmp_path))
    out = tmp_path / "cal.json"
    result = CliRunner().invoke(main, ["calibrate", "--no-memory", "--models", "dlrm", "--repeat", "2", "--rounds", "1", "--dim", "16",
                                       "--threads", "1", "--prefetch-distance", "0", "--no-save", "--format", "json",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["metadata"]["params"]["dlrm"]["threads"] == 1
    assert payload["metadata"]["params"]["dlrm"]["prefetch_distance"] == 0


def test_the_options_reach_the_child_processes():
    from memprof.hw.bench import BenchConfig, worker_argv
    from memprof.hw.runspec import RunSpec
    from traces.spec import TraceSpec

    argv = worker_argv(BenchConfig(threads=1, prefetch_distance=3), "dlrm", None, "x.json")
    assert argv[argv.index("--prefetch-distance") + 1] == "3" and argv[argv.index("--threads") + 1] == "1"
    spec = RunSpec(TraceSpec(model="dlrm", workload="100", batch_size=2, batches=1), prefetch_distance=0)
    runner = spec.runner_argv()
    assert runner[runner.index("--prefetch-distance") + 1] == "0"
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        RunSpec(TraceSpec(model="dlrm", workload="100"), threads=0)


def test_kernel_runner_refuses_a_bad_prefetch_distance(capsys):
    from memprof.hw import kernel_runner

    assert kernel_runner.main(["--model", "dlrm", "--workload", "100", "--prefetch-distance", "-2"]) == 2
    assert "prefetch_distance must be an integer >= 0" in capsys.readouterr().err
