"""Run ``perf stat`` around only the kernel region, and probe which events this machine has.

How the region is scoped (SPEC section 5): perf starts with counters disabled
(``--delay=-1``) and listens on a control FIFO (``--control fifo:CTL,ACK``); the
benchmark child writes ``enable`` / ``disable`` to CTL just around the kernel and waits
for perf's ``ack`` (which may carry a trailing NUL). The child learns the FIFOs from
the ``MEMPROF_PERF_CONTROL`` environment variable ("CTL,ACK;CTL2,ACK2").

Never blocking forever: the child opens CTL with O_NONBLOCK, which fails (ENXIO) when
no perf holds the FIFO, so a dead perf is an error, not a hang; acks are awaited with a
timeout; the parent starts the system-wide session first and waits until it holds its
FIFO (or has exited, with its error) before starting the benchmark; every perf process
runs in its own session and is killed by process group on time-out or Ctrl-C.

Events are passed one ``-e`` each, never grouped; each is probed alone first
(``probe_event``), and after the run every requested event must appear in the output.
"""

from __future__ import annotations

import errno
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from memprof.hw.perf_parse import (COUNTED, NOT_COUNTED, NOT_SUPPORTED, EventTotal, PerfParseError,
                                         parse_error, parse_output, totals)

CONTROL_ENV = "MEMPROF_PERF_CONTROL"
PERF_ENV = "MEMPROF_PERF"
PARANOID_PATH = "/proc/sys/kernel/perf_event_paranoid"
EXIT_UNKNOWN_EVENT = 129
EXIT_GROUP_FAILED = 255

SUPPORTED = "supported"
UNKNOWN = "unknown event"
DENIED = "not permitted"
ERROR = "error"


class PerfControlError(RuntimeError):
    """The control FIFO protocol failed (perf gone, no ack in time)."""


def find_perf() -> str | None:
    """Path of the perf binary ($MEMPROF_PERF or 'perf' on PATH), or None."""
    return shutil.which(os.environ.get(PERF_ENV, "perf"))


def perf_version(perf: str | None = None) -> str | None:
    """'6.1.187' from ``perf --version``, or None when perf is absent or silent."""
    perf = perf or find_perf()
    if not perf:
        return None
    try:
        out = subprocess.run([perf, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+\.\d+(\.\d+)?)", out)
    return match.group(1) if match else None


def version_tuple(version: str | None) -> tuple[int, int]:
    if not version:
        return (0, 0)
    parts = version.split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def supports_json(version: str | None) -> bool:
    """``perf stat -j`` exists from perf 6.0."""
    return version_tuple(version) >= (6, 0)


def paranoid_level(path: str | os.PathLike = PARANOID_PATH) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def build_stat_argv(events, *, perf: str = "perf", output: str | os.PathLike | None = None, fmt: str = "csv",
                    sep: str = ",", control: tuple[str, str] | None = None, start_disabled: bool = False,
                    system_wide: bool = False, interval_ms: int | None = None, repeat: int | None = None,
                    no_merge: bool = False, command=None) -> list[str]:
    """The argv of one ``perf stat`` run (no shell): one ``-e`` per event, never a group."""
    events = list(events)
    if not events:
        raise ValueError("perf stat needs at least one event")
    for event in events:
        if not event or event.strip() != event or event.startswith("{") or "}" in event:
            raise ValueError(f"event {event!r}: events are passed one per -e, never as a {{group}}")
    if fmt not in ("csv", "json"):
        raise ValueError(f"format {fmt!r}: expected 'csv' or 'json'")
    argv = [perf, "stat"]
    argv += ["-x", sep] if fmt == "csv" else ["-j"]
    if output is not None:
        argv += ["-o", str(output)]
    if system_wide:
        argv.append("-a")
    if no_merge:
        argv.append("--no-merge")
    if start_disabled:
        argv.append("--delay=-1")
    if control is not None:
        argv += ["--control", f"fifo:{control[0]},{control[1]}"]
    if interval_ms is not None:
        if interval_ms < 10:
            raise ValueError(f"interval {interval_ms} ms: perf needs >= 10 ms")
        argv += ["-I", str(int(interval_ms))]
    if repeat is not None:
        if repeat < 1:
            raise ValueError(f"repeat {repeat}: must be >= 1")
        argv += ["-r", str(int(repeat))]
    for event in events:
        argv += ["-e", event]
    if command is not None:
        command = [str(c) for c in command]
        if not command:
            raise ValueError("empty command")
        argv += ["--", *command]
    return argv


# --- probing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """Whether one event opens on this machine, alone, in the given scope."""

    event: str
    scope: str
    status: str
    reason: str = ""

    @property
    def usable(self) -> bool:
        return self.status == SUPPORTED


_PROBES: dict[tuple, Probe] = {}

NO_PMU_REASON = ("perf prints <not supported>: no hardware PMU is exposed here (VM or container) "
                 "or this CPU/kernel lacks the event")


def classify_probe(event: str, scope: str, returncode: int, stderr: str, output: str) -> Probe:
    """Turn one probe run (exit code, stderr, -o file text) into a Probe."""
    if returncode != 0:
        reason = parse_error(stderr, returncode)
        if returncode == EXIT_UNKNOWN_EVENT or "event syntax error" in stderr:
            return Probe(event, scope, UNKNOWN, reason)
        if reason.startswith("not permitted"):
            return Probe(event, scope, DENIED, reason)
        return Probe(event, scope, ERROR, f"{reason} (exit {returncode})")
    try:
        found = totals(parse_output(output))
    except PerfParseError as exc:
        return Probe(event, scope, ERROR, f"unreadable perf output: {exc}")
    if not found:
        return Probe(event, scope, ERROR, "perf printed no counter for it")
    total = next(iter(found.values()))
    if total.status == NOT_SUPPORTED:
        return Probe(event, scope, NOT_SUPPORTED, NO_PMU_REASON)
    return Probe(event, scope, SUPPORTED, "" if total.status == COUNTED else "opened, never scheduled in the probe")


def probe_event(event: str, scope: str = "task", perf: str | None = None, timeout_s: float = 30) -> Probe:
    """Run ``perf stat -e EVENT [-a] -- true`` and classify the result (cached per process)."""
    perf = perf or find_perf()
    key = (perf, event, scope)
    if key in _PROBES:
        return _PROBES[key]
    if not perf:
        return Probe(event, scope, ERROR, "perf is not installed (no 'perf' on PATH; set MEMPROF_PERF)")
    with tempfile.TemporaryDirectory(prefix="memprof-probe-") as tmp:
        out = Path(tmp) / "probe.csv"
        argv = build_stat_argv([event], perf=perf, output=out, system_wide=scope == "system", command=["true"])
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return Probe(event, scope, ERROR, f"probe timed out after {timeout_s:g} s")
        except OSError as exc:
            return Probe(event, scope, ERROR, f"cannot run perf: {exc}")
        text = out.read_text() if out.exists() else ""
    probe = classify_probe(event, scope, proc.returncode, proc.stderr, text)
    _PROBES[key] = probe
    return probe


# --- the child's side of the control protocol -------------------------------------------


def parse_control_env(value: str | None) -> list[tuple[str, str]]:
    """'CTL,ACK;CTL2,ACK2' -> [(CTL, ACK), ...]; empty or None -> []."""
    pairs = []
    for item in (value or "").split(";"):
        if not item.strip():
            continue
        ctl, sep, ack = item.partition(",")
        if not sep or not ctl or not ack:
            raise ValueError(f"{CONTROL_ENV}={value!r}: expected 'CTL_FIFO,ACK_FIFO[;...]'")
        pairs.append((ctl, ack))
    return pairs


class ControlClient:
    """Sends enable/disable to one perf session and waits for its ack."""

    def __init__(self, ctl: str, ack: str, timeout_s: float = 10.0):
        self.ctl, self.ack, self.timeout_s = ctl, ack, timeout_s
        self._ctl_fd: int | None = None
        self._ack_fd: int | None = None

    def _open(self) -> None:
        if self._ctl_fd is not None:
            return
        try:
            self._ctl_fd = os.open(self.ctl, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                raise PerfControlError(f"no perf is reading {self.ctl} (it exited or never started)") from None
            raise PerfControlError(f"cannot open perf control FIFO {self.ctl}: {exc.strerror}") from None
        self._ack_fd = os.open(self.ack, os.O_RDONLY | os.O_NONBLOCK)

    def send(self, command: str) -> None:
        """Write ``command`` and wait for 'ack' (a trailing NUL is allowed)."""
        self._open()
        try:
            os.write(self._ctl_fd, command.encode() + b"\n")
        except OSError as exc:
            raise PerfControlError(f"perf control write failed ({exc.strerror}): perf has exited") from None
        deadline = time.monotonic() + self.timeout_s
        received = b""
        while b"ack" not in received:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PerfControlError(f"perf did not acknowledge {command!r} within {self.timeout_s:g} s")
            ready, _, _ = select.select([self._ack_fd], [], [], left)
            if ready:
                try:
                    received += os.read(self._ack_fd, 64)
                except BlockingIOError:
                    continue
        if received.replace(b"\x00", b"").strip() != b"ack":
            raise PerfControlError(f"unexpected perf ack {received!r} to {command!r}")

    def close(self) -> None:
        for fd in (self._ctl_fd, self._ack_fd):
            if fd is not None:
                os.close(fd)
        self._ctl_fd = self._ack_fd = None


def clients_from_env(timeout_s: float = 10.0) -> list[ControlClient]:
    return [ControlClient(c, a, timeout_s) for c, a in parse_control_env(os.environ.get(CONTROL_ENV))]


# --- the parent's side: run perf around a command ----------------------------------------


@dataclass
class PerfSession:
    """One perf stat process: what it was asked, what it said."""

    events: list[str]
    scope: str
    argv: list[str]
    returncode: int | None = None
    stderr: str = ""
    output: str = ""
    counts: dict[str, EventTotal] = field(default_factory=dict)
    error: str | None = None


@dataclass
class CountedRun:
    """The benchmark command's exit status and the sessions that counted it."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    sessions: list[PerfSession]


def _kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def _wait_listening(proc: subprocess.Popen, ctl: str, timeout_s: float) -> None:
    """Block until ``proc`` (perf) holds the control FIFO open, or fail with its stderr."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise PerfControlError(f"system-wide perf exited (status {proc.returncode}) before listening")
        try:
            fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        else:
            os.close(fd)
            return
        if time.monotonic() > deadline:
            raise PerfControlError(f"system-wide perf did not open its control FIFO within {timeout_s:g} s")
        time.sleep(0.02)


def run_counted(command, task_events, system_events=(), *, perf: str | None = None, fmt: str = "csv",
                timeout_s: float = 600, env: dict | None = None, preexec_fn=None) -> CountedRun:
    """Run ``command`` under perf stat, counting only between the child's enable/disable.

    ``task_events`` count the command's threads; ``system_events`` (uncore) run in a
    second, system-wide perf scoped by the same commands. ``preexec_fn`` runs in the perf
    child before exec (used to join a resctrl group before any thread starts).
    """
    perf = perf or find_perf()
    if not perf:
        raise FileNotFoundError("perf is not installed (no 'perf' on PATH; set MEMPROF_PERF)")
    task_events, system_events = list(task_events), list(system_events)
    if not task_events:
        raise ValueError("run_counted needs at least one task event (task-clock always works)")
    procs: list[subprocess.Popen] = []
    sessions: list[PerfSession] = []
    with tempfile.TemporaryDirectory(prefix="memprof-perf-") as tmp:
        tmpdir = Path(tmp)
        pairs = []
        sys_err = None
        try:
            sys_proc = None
            if system_events:
                ctl, ack = str(tmpdir / "sys.ctl"), str(tmpdir / "sys.ack")
                os.mkfifo(ctl)
                os.mkfifo(ack)
                out = tmpdir / "sys.out"
                argv = build_stat_argv(system_events, perf=perf, output=out, fmt=fmt, system_wide=True,
                                       start_disabled=True, control=(ctl, ack))
                session = PerfSession(system_events, "system", argv)
                sessions.append(session)
                sys_err = open(tmpdir / "sys.err", "w+")
                sys_proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=sys_err, start_new_session=True)
                procs.append(sys_proc)
                try:
                    _wait_listening(sys_proc, ctl, timeout_s=15)
                    pairs.append((ctl, ack))
                except PerfControlError as exc:
                    _kill_group(sys_proc)
                    sys_proc.wait(timeout=5)
                    sys_err.seek(0)
                    session.stderr = sys_err.read()
                    session.returncode = sys_proc.returncode
                    session.error = f"{parse_error(session.stderr, sys_proc.returncode)} ({exc})"
                    sys_proc = None
            ctl, ack = str(tmpdir / "task.ctl"), str(tmpdir / "task.ack")
            os.mkfifo(ctl)
            os.mkfifo(ack)
            pairs.insert(0, (ctl, ack))
            out = tmpdir / "task.out"
            argv = build_stat_argv(task_events, perf=perf, output=out, fmt=fmt, start_disabled=True,
                                   control=(ctl, ack), command=command)
            task = PerfSession(task_events, "task", argv)
            sessions.insert(0, task)
            child_env = dict(os.environ if env is None else env)
            # The child enables the system-wide session first and disables it last.
            child_env[CONTROL_ENV] = ";".join(f"{c},{a}" for c, a in reversed(pairs))
            start = time.monotonic()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=child_env,
                                    start_new_session=True, preexec_fn=preexec_fn)
            procs.append(proc)
            try:
                stdout, stderr = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.communicate()
                raise TimeoutError(f"the counted run did not finish within {timeout_s:g} s; killed") from None
            wall = time.monotonic() - start
            task.returncode = proc.returncode
            task.stderr = stderr
            task.output = out.read_text() if out.exists() else ""
            if sys_proc is not None:
                _kill_group(sys_proc, signal.SIGINT)
                try:
                    sys_proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    _kill_group(sys_proc)
                    sys_proc.wait()
                sys_err.seek(0)
                sessions[1].stderr = sys_err.read()
                sessions[1].returncode = sys_proc.returncode
                sys_out = tmpdir / "sys.out"
                sessions[1].output = sys_out.read_text() if sys_out.exists() else ""
            for session in sessions:
                if session.error is None and session.output:
                    try:
                        session.counts = totals(parse_output(session.output))
                    except PerfParseError as exc:
                        session.error = f"unreadable perf output: {exc}"
                elif session.error is None:
                    session.error = parse_error(session.stderr, session.returncode)
            return CountedRun(proc.returncode, stdout, stderr, wall, sessions)
        finally:
            for p in procs:
                _kill_group(p)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            if sys_err is not None:
                sys_err.close()


def lookup(counts: dict[str, EventTotal], event: str) -> EventTotal | None:
    """Find a requested event in parsed totals (modifiers such as ':u' ignored).

    perf may print an event with its PMU prefix ('amd_l3/l3_lookup_state.l3_miss/') or,
    on hybrid Intel parts, once per core type ('cpu_core/cycles/', 'cpu_atom/cycles/'):
    such lines are summed.
    """
    from memprof.hw.perf_parse import normalize_event

    key = normalize_event(event)
    if key in counts:
        return counts[key]
    short = key.strip("/").split("/")[-1]
    matches = [t for name, t in counts.items() if name.strip("/").split("/")[-1] == short]
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0]
    counted = [t for t in matches if t.status == COUNTED]
    if not counted:
        return matches[0]
    pcnts = [t.pcnt_running_min for t in counted if t.pcnt_running_min is not None]
    return EventTotal(event=event, status=COUNTED, value=sum(t.value for t in counted), unit=counted[0].unit,
                      pcnt_running_min=min(pcnts) if pcnts else None, variance_pct=None,
                      intervals=max(t.intervals for t in counted))


def describe_total(total: EventTotal | None, event: str) -> tuple[str, str]:
    """(status, reason) of one requested event after a run."""
    if total is None:
        return "unavailable", f"{event} was requested but is absent from perf's output"
    if total.status == NOT_SUPPORTED:
        return "unavailable", f"{event}: {NO_PMU_REASON}"
    if total.status == NOT_COUNTED:
        return "unavailable", f"{event}: <not counted> (opened but never scheduled in the kernel region)"
    return "measured", ""
