"""Parse ``perf stat`` output: the ``-x,`` CSV and the ``-j`` JSON lines, and perf's errors.

CSV fields (perf-stat(1) "CSV FORMAT"): [interval timestamp] [aggregation id [count]]
value, unit, event, [variance "x.xx%" with -r], run time, percent running, metric
value, metric unit. Lines starting with '#' and blank lines are skipped; a line with
empty value and event is an extra metric of the previous event. ``<not supported>``
(the event could not be opened: no PMU, hypervisor, unknown to this CPU) and
``<not counted>`` (opened but never scheduled) become ``value=None`` with that status,
never 0. Non-root runs get ``:u`` suffixes (``cycles:u``): ``base_event`` strips them.
Uncore IMC counts come scaled by perf (unit "MiB"): ``PerfRecord.bytes`` converts.

JSON (perf >= 6.0): one object per line; "counter-value" is a string; "interval",
"variance", "cpu"/"socket"/"die"/"core" appear when relevant.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

NOT_SUPPORTED = "not supported"
NOT_COUNTED = "not counted"
COUNTED = "counted"
_STATUS = {"<not supported>": NOT_SUPPORTED, "<not counted>": NOT_COUNTED}
BYTE_UNITS = {"B": 1, "Bytes": 1, "bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
              "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}

_FLOAT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_AGG_ID = re.compile(r"^(CPU\d+|S\d+(-D\d+)?(-C\d+)?(-L\d+)?|N\d+|C\d+|T\d+)$")
_MODIFIERS = re.compile(r":[ukhIGHpPSDeWb]+$")


class PerfParseError(ValueError):
    """A perf output line that fits neither documented layout."""


@dataclass(frozen=True)
class PerfRecord:
    """One counter line of perf stat output."""

    event: str
    value: float | None
    status: str
    unit: str = ""
    run_time_ns: float | None = None
    pcnt_running: float | None = None
    variance_pct: float | None = None
    metric_value: float | None = None
    metric_unit: str = ""
    interval_s: float | None = None
    aggregate: str | None = None
    extra_metrics: tuple = field(default=())

    @property
    def base_event(self) -> str:
        return normalize_event(self.event)

    @property
    def modifiers(self) -> str:
        match = _MODIFIERS.search(self.event)
        return match.group(0)[1:] if match else ""

    @property
    def multiplexed(self) -> bool:
        """True when the counter ran only part of the time (perf scaled the count up)."""
        return self.pcnt_running is not None and self.pcnt_running < 100.0

    @property
    def bytes(self) -> float | None:
        """The value in bytes when perf printed a byte unit (uncore IMC: MiB), else None."""
        if self.value is None or self.unit not in BYTE_UNITS:
            return None
        return self.value * BYTE_UNITS[self.unit]


def normalize_event(name: str) -> str:
    """Event name without modifiers: 'cycles:u' -> 'cycles', 'cpu/cycles/u' -> 'cpu/cycles/'."""
    name = name.strip()
    name = _MODIFIERS.sub("", name)
    if "/" in name and not name.endswith("/"):
        head, _, tail = name.rpartition("/")
        if re.fullmatch(r"[ukhIGHpPSDeWb]+", tail):
            name = head + "/"
    return name.lower()


def _num(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _is_number(text: str) -> bool:
    return bool(_FLOAT.match(text.strip()))


def _value_ok(text: str) -> bool:
    return _is_number(text) or text.strip() in _STATUS


def _unit_ok(text: str) -> bool:
    text = text.strip()
    return not _is_number(text) and not text.startswith("<")


def _prefix_ok(fields: list[str]) -> bool:
    return all(_is_number(f) or _AGG_ID.match(f.strip()) for f in fields)


def _layout(fields: list[str]) -> int | None:
    """How many prefix fields (interval, aggregation id/count) precede the counter value."""
    for p in range(0, 4):
        if len(fields) < p + 3:
            return None
        value, unit, event = fields[p], fields[p + 1], fields[p + 2].strip()
        if not _prefix_ok(fields[:p]):
            continue
        if value.strip() == "" and event == "":
            return p  # an extra-metric line: every counter field empty
        if _value_ok(value) and _unit_ok(unit) and event and not _is_number(event):
            return p
    return None


def _split_prefix(prefix: list[str]) -> tuple[float | None, str | None]:
    interval = None
    agg = []
    for item in prefix:
        item = item.strip()
        if _AGG_ID.match(item):
            agg.append(item)
        elif "." in item and interval is None and not agg:
            interval = float(item)
        else:
            agg.append(item)
    return interval, ("/".join(agg) if agg else None)


def parse_csv(text: str, sep: str = ",") -> list[PerfRecord]:
    """Records of ``perf stat -x<sep>`` output (stderr or the ``-o`` file)."""
    records: list[PerfRecord] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(sep)
        p = _layout(fields)
        if p is None:
            raise PerfParseError(f"perf CSV line {number}: {line.strip()!r} is not 'value,unit,event,...'")
        interval, agg = _split_prefix(fields[:p])
        value_text, unit, event = fields[p].strip(), fields[p + 1].strip(), fields[p + 2].strip()
        rest = fields[p + 3:]
        if not value_text and not event:
            metric = (_num(rest[2]) if len(rest) > 2 else None, sep.join(rest[3:]).strip())
            if not records:
                raise PerfParseError(f"perf CSV line {number}: a metric line before any counter")
            prev = records[-1]
            records[-1] = PerfRecord(**{**prev.__dict__, "extra_metrics": prev.extra_metrics + (metric,)})
            continue
        variance = None
        if rest and rest[0].strip().endswith("%"):
            variance = _num(rest[0].strip()[:-1])
            rest = rest[1:]
        rest = rest + [""] * (4 - len(rest)) if len(rest) < 4 else rest
        status = _STATUS.get(value_text, COUNTED)
        records.append(PerfRecord(
            event=event,
            value=None if status != COUNTED else float(value_text),
            status=status,
            unit=unit,
            run_time_ns=_num(rest[0]),
            pcnt_running=_num(rest[1]),
            variance_pct=variance,
            metric_value=_num(rest[2]) if status == COUNTED else None,
            metric_unit=sep.join(rest[3:]).strip() if status == COUNTED else "",
            interval_s=interval,
            aggregate=agg,
        ))
    return records


def parse_json(text: str) -> list[PerfRecord]:
    """Records of ``perf stat -j`` output (one JSON object per line)."""
    records: list[PerfRecord] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PerfParseError(f"perf JSON line {number}: {exc.msg} in {line[:80]!r}") from None
        if not isinstance(obj, dict):
            raise PerfParseError(f"perf JSON line {number}: expected an object, got {type(obj).__name__}")
        if "event" not in obj:
            if "metric-value" in obj and records:
                prev = records[-1]
                metric = (_num(str(obj.get("metric-value", ""))), str(obj.get("metric-unit", "")))
                records[-1] = PerfRecord(**{**prev.__dict__, "extra_metrics": prev.extra_metrics + (metric,)})
                continue
            raise PerfParseError(f"perf JSON line {number}: no 'event' key in {line[:80]!r}")
        value_text = str(obj.get("counter-value", "")).strip()
        status = _STATUS.get(value_text, COUNTED)
        if status == COUNTED and _num(value_text) is None:
            raise PerfParseError(f"perf JSON line {number}: counter-value {value_text!r} is not a number")
        agg_keys = [str(obj[k]) for k in ("socket", "die", "core", "cpu", "node", "thread") if k in obj]
        interval = obj.get("interval")
        records.append(PerfRecord(
            event=str(obj["event"]).strip(),
            value=float(value_text) if status == COUNTED else None,
            status=status,
            unit=str(obj.get("unit", "")).strip(),
            run_time_ns=_num(str(obj.get("event-runtime", ""))),
            pcnt_running=_num(str(obj.get("pcnt-running", ""))),
            variance_pct=_num(str(obj["variance"])) if "variance" in obj else None,
            metric_value=_num(str(obj.get("metric-value", ""))) if status == COUNTED else None,
            metric_unit=str(obj.get("metric-unit", "")).strip() if status == COUNTED else "",
            interval_s=float(interval) if interval is not None else None,
            aggregate="/".join(agg_keys) if agg_keys else None,
        ))
    return records


def parse_output(text: str) -> list[PerfRecord]:
    """Either format, detected from the first data line ('{' means JSON)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return parse_json(text) if stripped.startswith("{") else parse_csv(text)
    return []


@dataclass(frozen=True)
class EventTotal:
    """One event summed over intervals and aggregation units."""

    event: str
    status: str
    value: float | None
    unit: str
    pcnt_running_min: float | None
    variance_pct: float | None
    intervals: int

    @property
    def bytes(self) -> float | None:
        if self.value is None or self.unit not in BYTE_UNITS:
            return None
        return self.value * BYTE_UNITS[self.unit]


def totals(records: list[PerfRecord]) -> dict[str, EventTotal]:
    """Per normalized event name: the counted values summed (interval deltas, per-CPU lines).

    The status is 'counted' when any line counted; otherwise the first line's status.
    """
    grouped: dict[str, list[PerfRecord]] = {}
    for rec in records:
        grouped.setdefault(rec.base_event, []).append(rec)
    out = {}
    for name, recs in grouped.items():
        counted = [r for r in recs if r.status == COUNTED]
        pcnts = [r.pcnt_running for r in counted if r.pcnt_running is not None]
        variances = [r.variance_pct for r in recs if r.variance_pct is not None]
        out[name] = EventTotal(
            event=recs[0].event,
            status=COUNTED if counted else recs[0].status,
            value=sum(r.value for r in counted) if counted else None,
            unit=recs[0].unit,
            pcnt_running_min=min(pcnts) if pcnts else None,
            variance_pct=max(variances) if variances else None,
            intervals=len({r.interval_s for r in recs}),
        )
    return out


_SYNTAX = re.compile(r"event syntax error: '(?P<event>[^']*)'")


def parse_error(stderr: str, returncode: int | None = None) -> str:
    """One line saying why perf failed, from its stderr (and exit code)."""
    lines = [line.rstrip() for line in stderr.splitlines()]
    match = _SYNTAX.search(stderr)
    if match:
        reason = ""
        for line in lines:
            if "\\___" in line:
                reason = line.split("\\___", 1)[1].strip()
                break
        return f"perf does not know event {match.group('event')!r}: {reason or 'syntax error'}"
    text = " ".join(line.strip() for line in lines if line.strip())
    if "perf_event_paranoid" in text or "Access to performance monitoring" in text or "Permission denied" in text:
        return "not permitted: perf_event_paranoid or missing CAP_PERFMON (run as root or lower the paranoid level)"
    for index, line in enumerate(lines):
        if line.strip() == "Error:" and index + 1 < len(lines):
            return lines[index + 1].strip()
    useful = [line.strip() for line in lines
              if line.strip() and not line.strip().startswith(("Usage:", "-e,", "Run 'perf list'"))]
    if useful:
        return useful[-1]
    return f"perf exited with status {returncode}" if returncode is not None else "perf failed (no message)"
