"""Emulate a smaller LLC with Linux resctrl (Intel RDT CAT / AMD QoS) and read MBM DRAM bytes.

A resctrl group's ``schemata`` line ``L3:<id>=<mask>;...`` restricts its tasks to the
L3 ways in ``mask``; the mask must be contiguous and have at least ``min_cbm_bits``
bits. Bytes per way = L3 size / popcount(``info/L3/cbm_mask``), so a 14 MB LLC on a
16-way 32 MB cache is ``ceil(14 MB / 2 MB)`` = 7 ways. MBM: each group has
``mon_data/mon_L3_XX/mbm_total_bytes`` (one per L3 domain) counting DRAM bytes.

The root is a parameter (default /sys/fs/resctrl) so tests run on a fake tree. A group
is entered with ``with``: ``ResctrlGroup`` creates it, writes the mask, assigns a pid
(if given), and always removes it on exit, Ctrl-C and SIGTERM included (they unwind
through it); the kernel moves its tasks back to the root group. ``llc_group`` is the
same for callers whose LLC limit is optional. A child process started inside joins
with ``preexec_fn=group.join`` (before exec, so before any thread starts).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from sim.sizes import format_size

DEFAULT_ROOT = "/sys/fs/resctrl"


class ResctrlError(RuntimeError):
    """resctrl is absent, read-only, or refused a setting (the message says which)."""


@dataclass(frozen=True)
class ResctrlInfo:
    """What the resctrl tree offers for L3."""

    root: Path
    cbm_mask: int
    min_cbm_bits: int
    domains: tuple[int, ...]
    mbm: bool

    @property
    def num_ways(self) -> int:
        return bin(self.cbm_mask).count("1")


def availability(root: str | os.PathLike = DEFAULT_ROOT) -> tuple[bool, str]:
    """(usable, why): mounted, L3 allocation present, writable."""
    root = Path(root)
    if not root.is_dir():
        return False, (f"{root} does not exist: resctrl is not mounted (needs a CPU with RDT CAT / AMD QoS, "
                       f"kernel CONFIG_X86_CPU_RESCTRL, and 'mount -t resctrl resctrl {root}')")
    if not (root / "schemata").exists():
        return False, f"{root} exists but is not a mounted resctrl filesystem (no schemata file)"
    if not (root / "info" / "L3" / "cbm_mask").exists():
        return False, f"{root}: no L3 cache allocation (info/L3/cbm_mask missing; CAT not supported here)"
    if not os.access(root, os.W_OK):
        return False, f"{root} is not writable (run as root)"
    return True, "resctrl mounted with L3 allocation"


def read_info(root: str | os.PathLike = DEFAULT_ROOT) -> ResctrlInfo:
    """Parse info/L3 and the root schemata (L3 domain ids)."""
    ok, why = availability(root)
    if not ok:
        raise ResctrlError(why)
    root = Path(root)
    info = root / "info" / "L3"
    cbm = int((info / "cbm_mask").read_text().strip(), 16)
    min_bits_path = info / "min_cbm_bits"
    min_bits = int(min_bits_path.read_text().strip()) if min_bits_path.exists() else 1
    domains = parse_schemata_domains((root / "schemata").read_text())
    mbm = (root / "info" / "L3_MON" / "mon_features").exists() and "mbm_total_bytes" in (
        root / "info" / "L3_MON" / "mon_features").read_text()
    return ResctrlInfo(root, cbm, min_bits, tuple(domains), mbm)


def parse_schemata_domains(text: str) -> list[int]:
    """L3 domain ids from a schemata file ('L3:0=ffff;1=ffff' -> [0, 1])."""
    for line in text.splitlines():
        resource, _, rest = line.strip().partition(":")
        if resource.strip() == "L3":
            ids = []
            for item in rest.split(";"):
                dom, sep, _ = item.partition("=")
                if sep:
                    ids.append(int(dom.strip()))
            return ids
    raise ResctrlError("the root schemata has no L3 line")


def way_mask(target_bytes: int, llc_bytes: int, cbm_mask: int, min_cbm_bits: int = 1) -> tuple[int, int]:
    """(contiguous mask, bytes it gives) for an LLC share of at least ``target_bytes``.

    Ways are taken from the low end of ``cbm_mask``; the way count is rounded up so the
    emulated cache is never smaller than asked. ValueError spells out what is possible.
    """
    ways_total = bin(cbm_mask).count("1")
    if ways_total == 0:
        raise ValueError("cbm_mask has no bits")
    low = (cbm_mask & -cbm_mask).bit_length() - 1
    if (cbm_mask >> low) != (1 << ways_total) - 1:
        raise ValueError(f"cbm_mask {cbm_mask:#x} is not contiguous")
    way_bytes = llc_bytes // ways_total
    if target_bytes <= 0:
        raise ValueError(f"LLC size must be positive, got {target_bytes}")
    ways = -(-target_bytes // way_bytes)
    if ways > ways_total:
        raise ValueError(f"{format_size(target_bytes)} is more than the whole LLC ({format_size(llc_bytes)}, "
                         f"{ways_total} ways of {format_size(way_bytes)})")
    ways = max(ways, min_cbm_bits)
    return ((1 << ways) - 1) << low, ways * way_bytes


class ResctrlGroup:
    """A temporary resctrl group with an L3 way mask, used as ``with ResctrlGroup(...) as group``:
    created with its schemata (and ``pid`` assigned, when given) on entry, removed on exit,
    Ctrl-C and SIGTERM included. A failed entry removes what it created."""

    def __init__(self, name: str, mask: int, info: ResctrlInfo, pid: int | None = None):
        if "/" in name or name in ("", ".", "..", "info", "mon_groups", "mon_data"):
            raise ValueError(f"resctrl group name {name!r} is not a plain directory name")
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid < 1):
            raise ValueError(f"resctrl: pid must be a positive integer, got {pid!r}")
        self.info = info
        self.path = info.root / name
        self.mask = mask
        self.pid = pid
        self._old_term = None

    def schemata_line(self) -> str:
        return "L3:" + ";".join(f"{d}={self.mask:x}" for d in self.info.domains)

    def __enter__(self) -> "ResctrlGroup":
        if self.path.exists():
            raise ResctrlError(f"{self.path} already exists (a previous run left it, or another run uses it)")
        self.path.mkdir()
        try:
            (self.path / "schemata").write_text(self.schemata_line() + "\n")
        except OSError as exc:
            self.remove()
            raise ResctrlError(f"resctrl refused schemata {self.schemata_line()!r}: {exc}") from None
        if self.pid is not None:
            try:
                self.add_pid(self.pid)
            except OSError as exc:
                self.remove()
                raise ResctrlError(f"resctrl refused to move pid {self.pid} into {self.path}: {exc}") from None
        if hasattr(signal, "SIGTERM"):
            try:
                self._old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
            except ValueError:  # not the main thread
                self._old_term = None
        return self

    def add_pid(self, pid: int) -> None:
        """Move ``pid`` (and future children) into the group; do it before threads start."""
        (self.path / "tasks").write_text(f"{int(pid)}\n")

    def join(self) -> None:
        """For a preexec_fn: put the calling process into the group."""
        self.add_pid(os.getpid())

    def mbm_total_bytes(self) -> int:
        """Sum of mbm_total_bytes over the group's L3 monitoring domains."""
        return read_mbm_total_bytes(self.path)

    def remove(self) -> None:
        """rmdir the group (the kernel moves its tasks back to the root group)."""
        if not self.path.exists():
            return
        try:
            self.path.rmdir()
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY and not is_resctrl_mount(self.info.root):
                shutil.rmtree(self.path)  # a fake tree in a test: plain files do not vanish
            else:
                raise

    def __exit__(self, *exc) -> None:
        try:
            self.remove()
        finally:
            if self._old_term is not None:
                signal.signal(signal.SIGTERM, self._old_term)


def llc_group(mask: int | None, info: ResctrlInfo | None, name: str | None = None, pid: int | None = None):
    """``with llc_group(mask, info) as group``: a ``ResctrlGroup`` (named ``memprof-<pid of this
    process>`` unless ``name`` is given) when ``mask`` is set, else nothing to enter (group is None)."""
    if mask is None:
        return contextlib.nullcontext()
    return ResctrlGroup(name or f"memprof-{os.getpid()}", mask, info, pid=pid)


def is_resctrl_mount(root: str | os.PathLike, mounts: str | os.PathLike = "/proc/self/mounts") -> bool:
    """True when ``root`` is a mounted resctrl filesystem."""
    try:
        text = Path(mounts).read_text()
    except OSError:
        return False
    target = os.path.realpath(root)
    return any(len(f) >= 3 and f[2] == "resctrl" and os.path.realpath(f[1]) == target
               for f in (line.split() for line in text.splitlines()))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def read_mbm_total_bytes(group_path: str | os.PathLike) -> int:
    """Sum ``mon_data/mon_L3_*/mbm_total_bytes`` of a group; ValueError when unreadable."""
    mon = Path(group_path) / "mon_data"
    files = sorted(mon.glob("mon_L3_*/mbm_total_bytes"))
    if not files:
        raise ValueError(f"no MBM counters under {mon} (memory bandwidth monitoring not supported)")
    total = 0
    for path in files:
        text = path.read_text().strip()
        if text in ("Unavailable", "Error"):
            raise ValueError(f"{path} reads {text!r}")
        total += int(text)
    return total
