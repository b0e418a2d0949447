"""``memprof profile --llc A,B,...`` (the measured twin): bad input is one line and exit 2, before any run."""

import pytest
from click.testing import CliRunner

pytest.importorskip("traces.representations")

from memprof.cli.main import main


@pytest.mark.parametrize("args,message", [
    (["--llc", "0,14MB"], "must be positive"),
    (["--llc", "14MB,14MB"], "repeated"),
    (["--llc", "14MB,28MB", "--model", "dlrm,nosuch"], "unknown model"),
    (["--llc", "14MB,10000000"], "no way count makes"),
    (["--llc", "14MB,28MB", "--ways", "16"], "power-of-two number of sets"),
    (["--llc", "14MB,28MB", "--backend", "perf"], "--backend"),
    (["--llc", "14MB,28MB", "--cpu", "nosuch"], "unknown CPU preset"),
    (["--llc", "14MB", "--runs", "2"], "measured twin"),
    (["--llc", "14MB,28MB", "--threads", "2"], "serial kernel"),
])
def test_bad_twin_input_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, ["profile", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
