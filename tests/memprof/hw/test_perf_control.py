"""perf argv builder, probe classification, and the enable/disable FIFO protocol (with a fake perf)."""

import os
import select
import sys
import threading
import time
from pathlib import Path

import pytest

from memprof.hw import perf as perf_mod
from memprof.hw.perf import (ControlClient, PerfControlError, build_stat_argv, classify_probe,
                                   parse_control_env)

FIX = Path(__file__).parents[2] / "fixtures" / "perf"


def test_argv_counts_only_the_region_and_never_groups():
    argv = build_stat_argv(["task-clock", "cycles"], perf="perf", output="/tmp/o", fmt="json",
                           control=("/tmp/c", "/tmp/a"), start_disabled=True, command=["python", "-c", "pass"])
    assert argv[:3] == ["perf", "stat", "-j"]
    assert argv[argv.index("-o") + 1] == "/tmp/o"
    assert "--delay=-1" in argv
    assert argv[argv.index("--control") + 1] == "fifo:/tmp/c,/tmp/a"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-e"] == ["task-clock", "cycles"]
    assert argv[argv.index("--") + 1:] == ["python", "-c", "pass"]
    csv = build_stat_argv(["cycles"], system_wide=True, interval_ms=100, repeat=3, no_merge=True)
    assert csv[2:4] == ["-x", ","] and "-a" in csv and "--no-merge" in csv
    assert csv[csv.index("-I") + 1] == "100" and csv[csv.index("-r") + 1] == "3"
    assert "--" not in csv


@pytest.mark.parametrize("events", [["{cycles,instructions}"], [], [" cycles"]])
def test_argv_rejects_groups_and_empty(events):
    with pytest.raises(ValueError):
        build_stat_argv(events)


def test_argv_rejects_bad_options():
    with pytest.raises(ValueError, match="10 ms"):
        build_stat_argv(["cycles"], interval_ms=5)
    with pytest.raises(ValueError, match="format"):
        build_stat_argv(["cycles"], fmt="xml")


def test_classify_probe_on_captured_outputs():
    cycles_line = next(l for l in (FIX / "local_nopmu_csv.txt").read_text().splitlines() if ",cycles," in l)
    probe = classify_probe("cycles", "task", 0, "", cycles_line + "\n")
    assert probe.status == perf_mod.NOT_SUPPORTED and "no hardware PMU" in probe.reason
    probe = classify_probe("bogus_event", "task", 129, (FIX / "local_unknown_event_stderr.txt").read_text(), "")
    assert probe.status == perf_mod.UNKNOWN and not probe.usable
    probe = classify_probe("cycles", "system", 255, (FIX / "intel_permission_stderr.txt").read_text(), "")
    assert probe.status == perf_mod.DENIED
    ok = classify_probe("task-clock", "task", 0, "", "0.5,msec,task-clock,500000,100.00,0.5,CPUs utilized\n")
    assert ok.usable
    assert classify_probe("x", "task", 0, "", "").status == perf_mod.ERROR


def test_control_env_parsing():
    assert parse_control_env("a,b;c,d") == [("a", "b"), ("c", "d")]
    assert parse_control_env(None) == []
    with pytest.raises(ValueError):
        parse_control_env("only-one-path")


class FakePerf(threading.Thread):
    """Holds the FIFOs like perf (O_RDWR) and acks each command, with perf's trailing NUL."""

    def __init__(self, ctl, ack, reply=b"ack\n\x00"):
        super().__init__(daemon=True)
        self.ctl_fd = os.open(ctl, os.O_RDWR | os.O_NONBLOCK)
        self.ack_fd = os.open(ack, os.O_RDWR | os.O_NONBLOCK)
        self.reply = reply
        self.commands = []
        self.stop = False

    def run(self):
        while not self.stop:
            ready, _, _ = select.select([self.ctl_fd], [], [], 0.05)
            if ready:
                for line in os.read(self.ctl_fd, 256).decode().splitlines():
                    self.commands.append(line)
                    if self.reply:
                        os.write(self.ack_fd, self.reply)
        os.close(self.ctl_fd)
        os.close(self.ack_fd)


@pytest.fixture
def fifos(tmp_path):
    ctl, ack = str(tmp_path / "ctl"), str(tmp_path / "ack")
    os.mkfifo(ctl)
    os.mkfifo(ack)
    return ctl, ack


def test_control_client_round_trip(fifos):
    fake = FakePerf(*fifos)
    fake.start()
    client = ControlClient(*fifos, timeout_s=5)
    client.send("enable")
    client.send("disable")
    client.close()
    fake.stop = True
    fake.join()
    assert fake.commands == ["enable", "disable"]


def test_control_client_fails_fast_when_no_perf_listens(fifos):
    client = ControlClient(*fifos, timeout_s=5)
    start = time.monotonic()
    with pytest.raises(PerfControlError, match="no perf is reading"):
        client.send("enable")
    assert time.monotonic() - start < 2  # no blocking open


def test_control_client_times_out_without_ack(fifos):
    fake = FakePerf(*fifos, reply=b"")
    fake.start()
    client = ControlClient(*fifos, timeout_s=0.3)
    with pytest.raises(PerfControlError, match="did not acknowledge"):
        client.send("enable")
    client.close()
    fake.stop = True
    fake.join()


def test_find_perf_honours_env(monkeypatch):
    monkeypatch.setenv("MEMPROF_PERF", "/nonexistent/perf-binary")
    assert perf_mod.find_perf() is None
    probe = perf_mod.probe_event("cycles", perf=None)
    assert probe.status == perf_mod.ERROR and "not installed" in probe.reason


needs_perf = pytest.mark.skipif(perf_mod.find_perf() is None, reason="perf is not installed on this machine")

CHILD = """
import time
from memprof.hw.perf import clients_from_env
clients = clients_from_env(10)
x = sum(i * i for i in range(200000))  # outside the region
for c in clients: c.send("enable")
t = time.process_time()
while time.process_time() - t < 0.2: pass  # 200 ms of CPU inside the region
for c in reversed(clients): c.send("disable")
x = sum(i * i for i in range(3000000))  # outside again
"""


@needs_perf
def test_run_counted_counts_only_the_region():
    run = perf_mod.run_counted([sys.executable, "-c", CHILD], ["task-clock"], ["task-clock"], timeout_s=60)
    assert run.returncode == 0, run.stderr
    task = run.sessions[0]
    assert task.scope == "task" and task.error is None
    clock = task.counts["task-clock"]
    # 200 ms of busy CPU inside the region; the interpreter start-up and the loops outside are not counted
    assert 180 <= clock.value <= 400
    assert run.sessions[1].scope == "system" and run.sessions[1].counts["task-clock"].value >= 180


@needs_perf
def test_run_counted_times_out_and_kills():
    with pytest.raises(TimeoutError):
        perf_mod.run_counted([sys.executable, "-c", "import time; time.sleep(30)"], ["task-clock"], timeout_s=1)


def test_every_requested_event_must_appear():
    from memprof.hw.perf_parse import parse_csv, totals

    counts = totals(parse_csv((FIX / "amd_zen4_system_csv.txt").read_text()))
    assert perf_mod.describe_total(perf_mod.lookup(counts, "umc_cas_cmd.rd"), "umc_cas_cmd.rd") == ("measured", "")
    status, reason = perf_mod.describe_total(perf_mod.lookup(counts, "umc_cas_cmd.wr:u"), "umc_cas_cmd.wr")
    assert status == "measured"  # modifiers do not hide an event
    status, reason = perf_mod.describe_total(perf_mod.lookup(counts, "tma_info_system_dram_bw_use"), "tma_x")
    assert status == "unavailable" and "absent from perf's output" in reason
    prefixed = totals(parse_csv("123,,amd_l3/l3_lookup_state.l3_miss/,1,100.00,,\n"))
    assert perf_mod.lookup(prefixed, "l3_lookup_state.l3_miss").value == 123


def test_hybrid_cpu_lines_are_summed():
    from memprof.hw.perf_parse import parse_csv, totals

    counts = totals(parse_csv((FIX / "intel_hybrid_csv.txt").read_text()))
    total = perf_mod.lookup(counts, "cycles")
    assert total.value == 6012345678 + 1234567
    assert total.pcnt_running_min == pytest.approx(0.41)
