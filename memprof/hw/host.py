"""What CPU this is: vendor, family/model (and so the AMD Zen generation), model name,
AVX-512 support, frequency and the cache geometry of cpu0 from sysfs; and the timing
model's ``host`` CPU preset built from them.

Why: the hardware event names differ by vendor and generation (``events.py``), the
LLC geometry decides the resctrl way size and the cachegrind ``--LL`` default, and the
``host`` preset takes this machine's geometry and frequency.
Paths are parameters so tests can point them at fixture files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sim.sizes import format_size, parse_size
from sim.timing.presets import (GENERIC, PRESETS, CacheGeometry, CpuPreset, get_preset, list_presets,
                                preset_from_fields)

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
    mhz: float | None = None  # /proc/cpuinfo 'cpu MHz' of the first processor (the clock when read)
    max_freq_khz: int | None = None  # sysfs cpufreq cpuinfo_max_freq of cpu0

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


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def read_sysfs_caches(sysfs_root: str | os.PathLike = "/sys", cpu: int = 0) -> list[dict]:
    """cpu``N``'s cache levels from ``<root>/devices/system/cpu/cpuN/cache/index*``.

    One dict per index with the keys that could be read: index, level, type, size_bytes,
    ways, line_bytes, sets. Instruction caches are dropped. An absent tree gives [].
    """
    base = Path(sysfs_root) / "devices" / "system" / "cpu" / f"cpu{cpu}" / "cache"
    out = []
    if not base.is_dir():
        return out
    for index in sorted(base.glob("index*")):
        entry = {"index": index.name}
        level = _read_int(index / "level")
        kind = _read(index / "type")
        if level is None or kind is None or kind.lower() == "instruction":
            continue
        entry["level"], entry["type"] = level, kind
        size = _read(index / "size")
        if size:
            try:
                entry["size_bytes"] = parse_size(size)
            except ValueError:
                pass
        for key, fname in (("ways", "ways_of_associativity"), ("line_bytes", "coherency_line_size"),
                           ("sets", "number_of_sets")):
            value = _read_int(index / fname)
            if value is not None and value > 0:
                entry[key] = value
        out.append(entry)
    return out


def _cpufreq_path(sysfs_root) -> Path:
    return Path(sysfs_root) / "devices" / "system" / "cpu" / "cpu0" / "cpufreq" / "cpuinfo_max_freq"


def _mhz(info: dict) -> float | None:
    try:
        mhz = float(info.get("cpu mhz", ""))
    except ValueError:
        return None
    return mhz if mhz > 0 else None


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
        mhz=_mhz(info),
        max_freq_khz=_read_int(_cpufreq_path(sysfs_root)),
    )


def host_cpu_name(cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> str:
    """The CPU model name (single-spaced), or 'unknown'."""
    try:
        text = Path(cpuinfo_path).read_text()
    except OSError:
        text = ""
    return " ".join(parse_cpuinfo(text).get("model name", "unknown").split()) or "unknown"


def read_host_frequency(sysfs_root: str | os.PathLike = "/sys",
                        cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> tuple[float | None, str]:
    """(GHz, source): cpufreq's cpuinfo_max_freq, else /proc/cpuinfo 'cpu MHz', else (None, why)."""
    info = read_cpu_info(cpuinfo_path, sysfs_root)
    cpufreq = _cpufreq_path(sysfs_root)
    if info.max_freq_khz and info.max_freq_khz > 0:
        return info.max_freq_khz / 1e6, f"{cpufreq} (maximum frequency)"
    if info.mhz is not None:
        return info.mhz / 1e3, (
            f"{cpuinfo_path} 'cpu MHz' (frequency when read; a VM reports its nominal clock, turbo not included)"
        )
    return None, f"unavailable: no {cpufreq} and no 'cpu MHz' in {cpuinfo_path}"


# --------------------------------------------------------------------------- the host preset

LEVELS = ("l1d", "l2", "llc")


def _level_field(entry: dict | None, default: tuple[int, int, int]):
    """(geometry, source) of one level from its sysfs entry, the unread parts from ``default``;
    None when sysfs has nothing usable for it (then the caller assumes ``default``)."""
    if entry is None:
        return None
    size, ways, line = default
    got = []
    if "size_bytes" in entry:
        size = entry["size_bytes"]
        got.append("size")
    if "line_bytes" in entry:
        line = entry["line_bytes"]
        got.append("line")
    if "ways" in entry:
        ways = entry["ways"]
        got.append("ways")
    elif "sets" in entry and size % (entry["sets"] * line) == 0:
        ways = size // (entry["sets"] * line)
        got.append("ways (size / sets / line)")
    if not got:
        return None
    try:
        CacheGeometry(size, ways, line)
    except ValueError:
        return default, (f"assumed {format_size(default[0])} {default[1]}-way: sysfs {entry['index']} values "
                         f"{entry} are inconsistent")
    source = f"read: {', '.join(got)} from sysfs {entry['index']} = {format_size(size)} {ways}-way {line} B"
    if len(got) < 3:
        source += "; the rest assumed"
    return (size, ways, line), source


def host_fields(sysfs_root: str | os.PathLike = "/sys", cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> dict:
    """The CPU preset fields measured on this machine, as (value, source) pairs (see
    ``sim.timing.presets``): cache geometry from sysfs, frequency from cpufreq or /proc/cpuinfo.
    What cannot be read (latencies, MLP, peak bandwidth, a level sysfs lacks) is left out; an
    inconsistent level, or levels whose sizes do not grow L1d <= L2 <= LLC, are given as
    assumed values that say why."""
    caches = read_sysfs_caches(sysfs_root)
    higher = [c for c in caches if c["level"] >= 3]
    entries = {
        "l1d": next((c for c in caches if c["level"] == 1), None),
        "l2": next((c for c in caches if c["level"] == 2), None),
        "llc": max(higher, key=lambda c: c["level"]) if higher else None,
    }
    fields = {}
    for name, entry in entries.items():
        got = _level_field(entry, GENERIC[name][0])
        if got is not None:
            fields[name] = got
    sizes = [fields.get(name, GENERIC[name])[0][0] for name in LEVELS]
    if not sizes[0] <= sizes[1] <= sizes[2]:
        for name in LEVELS:
            fields[name] = (GENERIC[name][0], f"{GENERIC[name][1]} (the sysfs sizes do not grow L1d <= L2 <= LLC)")
    ghz, source = read_host_frequency(sysfs_root, cpuinfo_path)
    if ghz is not None:
        fields["freq_ghz"] = (ghz, f"read: {ghz:.3f} GHz from {source}")
    return fields


# Intel family 6 models -> the named preset of the same core (for its core structures).
INTEL_MODEL_PRESETS = {0x6A: "icx", 0x6C: "icx", 0x8F: "spr", 0xCF: "spr", 0x97: "adl", 0x9A: "adl",
                       0x8C: "tgl", 0x8D: "tgl"}
CORE_FIELDS = ("fill_buffers", "rob_entries", "page_walkers", "tlb")  # what a core of the same design shares


def same_core_preset(info: CpuInfo) -> str | None:
    """The named preset whose core this CPU has (Zen 3 -> milan, Zen 4 -> genoa; Intel by family 6 model),
    else None."""
    if info.zen in (3, 4):
        return {3: "milan", 4: "genoa"}[info.zen]
    if info.vendor == "intel" and info.family == 6 and info.model is not None:
        return INTEL_MODEL_PRESETS.get(info.model)
    return None


def get_preset_table(name: str) -> dict:
    """The (value, source) fields of a named preset."""
    return dict(PRESETS[name])


def core_fields(info: CpuInfo) -> dict:
    """Fill buffers, ROB, page walkers and TLBs of the named preset with the same core (sources say so);
    empty when no preset has this core (then ``GENERIC``'s assumptions apply)."""
    name = same_core_preset(info)
    if name is None:
        return {}
    table = get_preset_table(name)
    return {key: (table[key][0], f"from the {name} preset (same core as this {info.microarch} CPU): {table[key][1]}")
            for key in CORE_FIELDS}


def host_preset(sysfs_root: str | os.PathLike = "/sys", cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> CpuPreset:
    """The running machine as a CPU preset: ``host_fields``, the core structures of the same
    core's named preset (``core_fields``), the rest from ``sim.timing.presets.GENERIC`` (the
    sources say which values are read, which taken from a preset, which assumed); ``memprof
    calibrate`` replaces latencies, bandwidths and the walk cost with measurements."""
    info = read_cpu_info(cpuinfo_path, sysfs_root)
    return preset_from_fields(
        "host", f"this machine: {host_cpu_name(cpuinfo_path)}",
        {**core_fields(info), **host_fields(sysfs_root, cpuinfo_path)}, GENERIC,
        notes=("without `memprof calibrate`, latencies on this machine are assumptions: override them with --timing "
               "or a TOML file",),
    )


def cpu_preset_names() -> tuple[str, ...]:
    """The CPU presets a run can use: the named ones, then ``host``."""
    return list_presets() + ("host",)


def cpu_preset(name: str, *, sysfs_root: str | os.PathLike = "/sys",
               cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> CpuPreset:
    """A named preset, or ``host`` read from this machine; ValueError lists the known names."""
    key = str(name).strip().lower()
    if key == "host":
        return host_preset(sysfs_root, cpuinfo_path)
    if key not in list_presets():
        raise ValueError(f"unknown CPU preset {name!r}; known presets: {', '.join(cpu_preset_names())}")
    return get_preset(key)
