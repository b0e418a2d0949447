"""What CPU this is: vendor, family/model (and so the AMD Zen generation), model name,
AVX-512 support, and the cache geometry of cpu0 from sysfs.

Why: the hardware event names differ by vendor and generation (``events.py``), and
the LLC geometry decides the resctrl way size and the cachegrind ``--LL`` default.
Paths are parameters so tests can point them at fixture files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sim.timing.presets import read_sysfs_caches
from sim.sizes import format_size

VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "amd"}


@dataclass(frozen=True)
class CacheLevel:
    """One data/unified cache level of cpu0."""

    level: int
    kind: str
    size_bytes: int
    ways: int | None
    line_bytes: int | None
    sets: int | None

    def describe(self) -> str:
        ways = f"{self.ways}-way" if self.ways else "?-way"
        line = f"{self.line_bytes} B lines" if self.line_bytes else "? B lines"
        return f"L{self.level} {self.kind.lower()} {format_size(self.size_bytes)} {ways} {line}"


@dataclass(frozen=True)
class CpuInfo:
    """The host CPU as read from /proc/cpuinfo and sysfs (fields None where unreadable)."""

    vendor: str  # "intel", "amd" or "other"
    vendor_id: str
    family: int | None
    model: int | None
    model_name: str
    flags: frozenset = field(default_factory=frozenset)
    caches: tuple[CacheLevel, ...] = ()
    logical_cpus: int = 1

    @property
    def zen(self) -> int | None:
        """AMD Zen generation (1..5) from family/model, None for other CPUs."""
        if self.vendor != "amd" or self.family is None:
            return None
        return zen_generation(self.family, self.model or 0)

    @property
    def microarch(self) -> str:
        """Short name for event selection: 'intel', 'zen3', 'zen4', 'zen5', 'zen2', 'amd' or 'other'."""
        if self.vendor == "amd":
            return f"zen{self.zen}" if self.zen else "amd"
        return self.vendor

    @property
    def has_avx512(self) -> bool:
        return "avx512f" in self.flags

    @property
    def hypervisor(self) -> bool:
        return "hypervisor" in self.flags

    @property
    def llc(self) -> CacheLevel | None:
        """The highest-level data/unified cache, or None when sysfs has no cache tree."""
        return max(self.caches, key=lambda c: c.level) if self.caches else None

    @property
    def l1d(self) -> CacheLevel | None:
        return next((c for c in self.caches if c.level == 1), None)

    def describe(self) -> str:
        zen = f", Zen {self.zen}" if self.zen else ""
        fam = f"family {self.family} model {self.model}" if self.family is not None else "family unknown"
        return f"{self.model_name} ({self.vendor_id or 'unknown vendor'}, {fam}{zen})"


def zen_generation(family: int, model: int) -> int | None:
    """AMD family/model -> Zen generation (family 17h: Zen 1/2; 19h: Zen 3/4; 1Ah: Zen 5)."""
    if family == 0x17:
        return 2 if model >= 0x30 else 1
    if family == 0x19:
        # Zen 4: Genoa 10h-1Fh, Raphael 60h-6Fh, Phoenix 70h-7Fh, Bergamo/Siena A0h-AFh.
        if 0x10 <= model <= 0x1F or 0x60 <= model <= 0x7F or 0xA0 <= model <= 0xAF:
            return 4
        return 3
    if family == 0x1A:
        return 5
    return None


def _int(text: str) -> int | None:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def parse_cpuinfo(text: str) -> dict:
    """The first processor block of /proc/cpuinfo as a dict, plus the processor count."""
    first: dict[str, str] = {}
    count = 0
    in_first = True
    for line in text.splitlines():
        if not line.strip():
            if first:
                in_first = False
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "processor":
            count += 1
        if in_first and key not in first:
            first[key] = value.strip()
    first["_count"] = str(max(count, 1))
    return first


def read_cpu_info(cpuinfo_path: str | Path = "/proc/cpuinfo", sysfs_root: str | Path = "/sys") -> CpuInfo:
    """Read the host CPU; missing files give 'unknown' fields rather than errors."""
    try:
        text = Path(cpuinfo_path).read_text()
    except OSError:
        text = ""
    info = parse_cpuinfo(text)
    vendor_id = info.get("vendor_id", "")
    caches = []
    for entry in read_sysfs_caches(sysfs_root):
        if "size_bytes" not in entry:
            continue
        caches.append(CacheLevel(entry["level"], entry["type"], entry["size_bytes"], entry.get("ways"),
                                 entry.get("line_bytes"), entry.get("sets")))
    return CpuInfo(
        vendor=VENDORS.get(vendor_id, "other"),
        vendor_id=vendor_id,
        family=_int(info.get("cpu family", "")),
        model=_int(info.get("model", "")),
        model_name=" ".join(info.get("model name", "unknown").split()) or "unknown",
        flags=frozenset(info.get("flags", "").split()),
        caches=tuple(sorted(caches, key=lambda c: c.level)),
        logical_cpus=int(info["_count"]),
    )
