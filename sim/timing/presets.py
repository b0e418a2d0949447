"""Named CPU presets for the timing model, and ``host`` read from the running machine.

A preset is one core of a named CPU running the lookup kernel alone: its L1d, L2 and LLC
geometry, and a ``TimingModel`` (frequency, load-to-use latencies, MLP, peak DRAM
bandwidth, compute costs). Every number carries its source in the comments and in
``CpuPreset.sources``; docs/timing-model.md has the table.

Conventions for all presets:
- Frequency: the single-core maximum turbo from the vendor's product page (one core runs
  the kernel; an all-core run would clock lower: override ``freq_ghz``).
- Latencies: approximate load-to-use latencies in core cycles, rounded, read from the
  public measurements cited (latency-versus-footprint charts); DRAM latency is the
  measured full-random latency in ns times the preset frequency. They vary with memory
  speed, mesh position, boost state and page size: treat them as nominal.
- LLC: what one core can hit. Intel server parts share one LLC over the die (SNC off);
  AMD Genoa's LLC is per CCD (32 MiB), not the 384 MiB socket total.
- Peak DRAM bandwidth: channels x MT/s x 8 bytes for the memory the platform specifies,
  decimal GB/s (the timing model's cap; one core cannot reach it, so it rarely binds).
- MLP: an assumption (misses one core keeps in flight for independent row gathers),
  bounded above by the core's L1D miss buffers; not a published figure. Sweep it.
- Compute costs: the TimingModel defaults (assumed); ``memprof calibrate`` measures
  per-model compute cycles on the host.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sim.sizes import format_size, parse_size
from sim.timing.model import TimingModel

KIB = 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class CacheGeometry:
    """One cache level: total size, associativity and line size (sets = size / (ways x line))."""

    size_bytes: int
    ways: int
    line_bytes: int = 64

    def __post_init__(self) -> None:
        for name in ("size_bytes", "ways", "line_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"cache geometry: {name} must be a positive integer, got {value!r}")
        if self.size_bytes % (self.ways * self.line_bytes):
            raise ValueError(
                f"cache geometry: size_bytes ({self.size_bytes}) must be a multiple of ways x line_bytes "
                f"({self.ways} x {self.line_bytes})"
            )

    @property
    def sets(self) -> int:
        return self.size_bytes // (self.ways * self.line_bytes)

    def describe(self) -> dict:
        return {"size_bytes": self.size_bytes, "size": format_size(self.size_bytes), "ways": self.ways,
                "line_bytes": self.line_bytes, "sets": self.sets}


@dataclass(frozen=True)
class CpuPreset:
    """A named CPU: cache geometry, timing model, and where each number came from."""

    name: str
    description: str
    timing: TimingModel
    l1d: CacheGeometry
    l2: CacheGeometry
    llc: CacheGeometry
    sources: tuple[str, ...]
    read_values: tuple[str, ...] = ()  # host only: parameters read from this machine (and from where)
    assumed_values: tuple[str, ...] = ()  # parameters not published/readable: assumptions
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("cpu preset: name must be non-empty")
        if not (self.l1d.size_bytes <= self.l2.size_bytes <= self.llc.size_bytes):
            raise ValueError(
                f"cpu preset {self.name!r}: cache sizes must grow L1d <= L2 <= LLC, got "
                f"{self.l1d.size_bytes} / {self.l2.size_bytes} / {self.llc.size_bytes}"
            )

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "l1d": self.l1d.describe(),
            "l2": self.l2.describe(),
            "llc": self.llc.describe(),
            "timing": self.timing.describe(),
            "sources": list(self.sources),
            "read_values": list(self.read_values),
            "assumed_values": list(self.assumed_values),
            "notes": list(self.notes),
        }


_MLP_NOTE = "mlp: assumed effective misses in flight for independent row gathers (not published)"
_COMPUTE_NOTE = "compute costs per op: TimingModel defaults (assumed); run `memprof calibrate` on the machine"


def _timing(name, freq_ghz, l1, l2, llc, dram_ns, mlp, peak_gbps) -> TimingModel:
    return TimingModel(
        name=name, freq_ghz=freq_ghz, l1_hit_cycles=l1, l2_hit_cycles=l2, llc_hit_cycles=llc,
        dram_cycles=round(dram_ns * freq_ghz), mlp=mlp, line_bytes=64, peak_dram_gbps=peak_gbps,
    )


def _icx() -> CpuPreset:
    # Intel Xeon Platinum 8380 (Ice Lake-SP, Sunny Cove cores), 40 cores.
    # Frequency: max turbo 3.4 GHz (base 2.3) -- Intel ARK, Xeon Platinum 8380.
    # Geometry: L1d 48 KiB 12-way, L2 1.25 MiB 20-way per core; L3 1.5 MiB/core x 40 = 60 MiB,
    #   12-way -- Intel 64 and IA-32 Architectures Optimization Reference Manual (Ice Lake
    #   server cache table); AnandTech "Intel 3rd Gen Xeon Scalable (Ice Lake SP) Review", 2021.
    # Latencies: L1 5, L2 14 cycles (optimization manual, Sunny Cove); L3 ~70 cycles (~21 ns at
    #   3.4 GHz over the mesh) and DRAM ~110 ns full random -- AnandTech ICX review, "Topology,
    #   Memory Subsystem & Latency" page; Chips and Cheese Ice Lake-SP measurements.
    # Peak DRAM: 8 channels DDR4-3200 x 8 B = 204.8 GB/s (Intel ARK: 8 channels, DDR4-3200).
    return CpuPreset(
        name="icx",
        description="Intel Xeon Platinum 8380 (Ice Lake-SP), one core at 3.4 GHz max turbo, 8ch DDR4-3200",
        timing=_timing("icx", 3.4, 5, 14, 70, 110, 10, 204.8),
        l1d=CacheGeometry(48 * KIB, 12), l2=CacheGeometry(1280 * KIB, 20), llc=CacheGeometry(60 * MIB, 12),
        sources=(
            "Intel ARK, Xeon Platinum 8380: 40 cores, 2.3 GHz base, 3.4 GHz max turbo, 60 MB L3, 8ch DDR4-3200",
            "Intel 64 and IA-32 Architectures Optimization Reference Manual: Sunny Cove L1d 48 KiB 12-way 5 cycles, "
            "L2 1.25 MiB 20-way ~14 cycles",
            "AnandTech, Intel 3rd Gen Xeon Scalable (Ice Lake SP) Review (2021), memory latency page, "
            "https://www.anandtech.com/show/16594/intel-3rd-gen-xeon-scalable-review/4: "
            "L3 ~21 ns, DRAM ~110 ns full random (approximate readings)",
        ),
        assumed_values=(_MLP_NOTE, _COMPUTE_NOTE),
    )


def _spr() -> CpuPreset:
    # Intel Xeon Platinum 8480+ (Sapphire Rapids, Golden Cove cores), 56 cores.
    # Frequency: max turbo 3.8 GHz (base 2.0) -- Intel ARK, Xeon Platinum 8480+.
    # Geometry: L1d 48 KiB 12-way, L2 2 MiB 16-way per core; L3 1.875 MiB/core x 56 = 105 MiB,
    #   15-way -- Intel ARK (105 MB L3); Chips and Cheese "Sapphire Rapids: Golden Cove Hits Servers".
    # Latencies: L1 5, L2 16 cycles; L3 ~33 ns (~125 cycles at 3.8 GHz, the mesh across four tiles);
    #   DRAM ~115 ns -- Chips and Cheese SPR article (Xeon Platinum 8480 on Intel DevCloud) and
    #   Chips and Cheese "Genoa-X: Server V-Cache Round 2" (SPR vs Genoa-X latency comparison).
    # Peak DRAM: 8 channels DDR5-4800 x 8 B = 307.2 GB/s (Intel ARK).
    return CpuPreset(
        name="spr",
        description="Intel Xeon Platinum 8480+ (Sapphire Rapids), one core at 3.8 GHz max turbo, 8ch DDR5-4800",
        timing=_timing("spr", 3.8, 5, 16, 125, 115, 12, 307.2),
        l1d=CacheGeometry(48 * KIB, 12), l2=CacheGeometry(2 * MIB, 16), llc=CacheGeometry(105 * MIB, 15),
        sources=(
            "Intel ARK, Xeon Platinum 8480+: 56 cores, 2.0 GHz base, 3.8 GHz max turbo, 105 MB L3, 8ch DDR5-4800",
            "Chips and Cheese, Sapphire Rapids: Golden Cove Hits Servers (2023), "
            "https://chipsandcheese.com/p/a-peek-at-sapphire-rapids: L2 2 MiB ~16 cycles, "
            "L3 ~33 ns, DRAM ~115 ns (approximate readings)",
            "Intel 64 and IA-32 Architectures Optimization Reference Manual: Golden Cove L1d 48 KiB 12-way 5 cycles",
        ),
        assumed_values=(_MLP_NOTE, _COMPUTE_NOTE),
    )


def _adl() -> CpuPreset:
    # Intel Core i9-12900K (Alder Lake-S), a P-core (Golden Cove).
    # Frequency: P-core max turbo 5.1 GHz (Turbo Boost Max 3.0: 5.2) -- Intel ARK, i9-12900K.
    # Geometry: L1d 48 KiB 12-way, L2 1.25 MiB 10-way per P-core, L3 30 MiB 12-way shared --
    #   Intel ARK (30 MB Smart Cache); Linux cpuid/sysfs dumps reported by AnandTech/Hardware Times.
    # Latencies: L1 5, L2 15 cycles, L3 ~65 cycles; DRAM ~92 ns with DDR5-4800 -- AnandTech,
    #   "The Intel 12th Gen Core i9-12900K Review", Core-to-Core and Cache Latency page (DDR4 vs DDR5).
    # Peak DRAM: 2 channels (128 bit) DDR5-4800 = 76.8 GB/s (Intel ARK, max memory bandwidth).
    return CpuPreset(
        name="adl",
        description="Intel Core i9-12900K (Alder Lake), one P-core at 5.1 GHz max turbo, DDR5-4800 dual channel",
        timing=_timing("adl", 5.1, 5, 15, 65, 92, 12, 76.8),
        l1d=CacheGeometry(48 * KIB, 12), l2=CacheGeometry(1280 * KIB, 10), llc=CacheGeometry(30 * MIB, 12),
        sources=(
            "Intel ARK, Core i9-12900K: P-core 3.2 GHz base / 5.1 GHz max turbo, 30 MB cache, DDR5-4800, 76.8 GB/s",
            "AnandTech, The Intel 12th Gen Core i9-12900K Review (2021), cache latency page, "
            "https://www.anandtech.com/show/17047/the-intel-12th-gen-core-i912900k-review-hybrid-performance-brings-hybrid-complexity/6: "
            "L2 ~15 cycles, "
            "L3 ~65 cycles, DRAM ~92 ns with DDR5-4800 (approximate readings)",
            "Hardware Times, Intel Sapphire Rapids-SP cache hierarchy (Golden Cove/Willow Cove table from a Linux patch), "
            "https://www.hardwaretimes.com/intel-sapphire-rapids-sp-cache-hierarchy-revealed-by-leaked-benchmark/: "
            "Golden Cove L1d 48 KiB 12-way, L2 1.25 MiB 10-way",
        ),
        assumed_values=(_MLP_NOTE, _COMPUTE_NOTE),
    )


def _tgl() -> CpuPreset:
    # Intel Core i7-1185G7 (Tiger Lake-UP3, Willow Cove cores), 4 cores.
    # Frequency: max turbo 4.8 GHz (base 3.0 at 28 W) -- Intel ARK, i7-1185G7.
    # Geometry: L1d 48 KiB 12-way, L2 1.25 MiB 20-way per core, L3 12 MiB 12-way (3 MiB/core) --
    #   Intel ARK (12 MB cache); Hardware Times Willow Cove table (Linux patch).
    # Latencies: L1 5, L2 14 cycles, L3 ~55 cycles (~11.5 ns at 4.8 GHz); DRAM ~105 ns with
    #   LPDDR4x-4266 -- AnandTech Tiger Lake (i7-1185G7) review, cache and memory latency page.
    # Peak DRAM: LPDDR4x-4266, 128 bit = 68.3 GB/s (Intel ARK memory types).
    return CpuPreset(
        name="tgl",
        description="Intel Core i7-1185G7 (Tiger Lake), one core at 4.8 GHz max turbo, LPDDR4x-4266",
        timing=_timing("tgl", 4.8, 5, 14, 55, 105, 10, 68.3),
        l1d=CacheGeometry(48 * KIB, 12), l2=CacheGeometry(1280 * KIB, 20), llc=CacheGeometry(12 * MIB, 12),
        sources=(
            "Intel ARK, Core i7-1185G7: 3.0 GHz base / 4.8 GHz max turbo, 12 MB cache, LPDDR4x-4266 / DDR4-3200",
            "Hardware Times (URL as for adl), Willow Cove column: L1d 48 KiB 12-way, L2 1.25 MiB 20-way, "
            "L3 12 MiB 12-way",
            "AnandTech, Intel Tiger Lake review deep dive (2020), https://www.anandtech.com/show/16084, cache latency: "
            "L2 ~14 cycles, "
            "L3 ~55 cycles, DRAM ~105 ns LPDDR4x (approximate readings)",
        ),
        assumed_values=(_MLP_NOTE, _COMPUTE_NOTE),
    )


def _genoa() -> CpuPreset:
    # AMD EPYC 9654 (Genoa, Zen 4), 96 cores in 12 CCDs of 8.
    # Frequency: max boost 3.7 GHz (base 2.4) -- AMD product page, EPYC 9654.
    # Geometry: L1d 32 KiB 8-way, L2 1 MiB 8-way per core, L3 32 MiB 16-way per CCD (384 MiB per
    #   socket, but a core hits only its CCD's L3) -- AMD Software Optimization Guide for Zen 4
    #   (family 19h); AMD product page (384 MB L3).
    # Latencies: L1 4 (integer load-to-use; FP loads 7-8), L2 14, L3 ~50 cycles average --
    #   AMD Zen 4 Software Optimization Guide; Chips and Cheese "Genoa-X: Server V-Cache Round 2"
    #   (Milan-X 50-cycle L3 baseline); DRAM ~115 ns -- same Chips and Cheese article.
    # Peak DRAM: 12 channels DDR5-4800 x 8 B = 460.8 GB/s (AMD product page).
    return CpuPreset(
        name="genoa",
        description="AMD EPYC 9654 (Genoa, Zen 4), one core at 3.7 GHz max boost, 12ch DDR5-4800, LLC = one CCD",
        timing=_timing("genoa", 3.7, 4, 14, 50, 115, 12, 460.8),
        l1d=CacheGeometry(32 * KIB, 8), l2=CacheGeometry(1 * MIB, 8), llc=CacheGeometry(32 * MIB, 16),
        sources=(
            "AMD product page, EPYC 9654: 96 cores, 2.4 GHz base / 3.7 GHz max boost, 384 MB L3 (32 MB per CCD), "
            "12ch DDR5-4800",
            "AMD Software Optimization Guide for AMD Family 19h (Zen 4): L1d 32 KiB 8-way 4-cycle integer "
            "load-to-use, L2 1 MiB 8-way 14 cycles, L3 32 MiB 16-way per CCX ~50 cycles",
            "Chips and Cheese, Genoa-X: Server V-Cache Round 2 (2023), "
            "https://chipsandcheese.com/2023/07/17/genoa-x-server-v-cache-round-2/: Milan-X 50-cycle L3 (+4 cycles "
            "for V-Cache), DRAM ~115 ns, similar to SPR (approximate readings)",
        ),
        assumed_values=(_MLP_NOTE, _COMPUTE_NOTE),
    )


_BUILDERS = {"icx": _icx, "spr": _spr, "adl": _adl, "tgl": _tgl, "genoa": _genoa}

# Used for `host` where the machine does not tell: a generic recent x86 server core.
HOST_DEFAULTS = {
    "freq_ghz": 3.0,
    "l1_hit_cycles": 5.0,
    "l2_hit_cycles": 14.0,
    "llc_hit_cycles": 50.0,
    "dram_ns": 100.0,
    "mlp": 10.0,
    "l1d": (32 * KIB, 8),
    "l2": (1 * MIB, 16),
    "llc": (32 * MIB, 16),
    "line_bytes": 64,
}


def list_presets() -> tuple[str, ...]:
    """Names ``get_preset`` accepts, ``host`` last."""
    return tuple(_BUILDERS) + ("host",)


def get_preset(name: str, *, sysfs_root: str | os.PathLike = "/sys", cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> CpuPreset:
    """A preset by name; ``host`` reads this machine (roots are parameters for tests)."""
    key = str(name).strip().lower()
    if key == "host":
        return host_preset(sysfs_root=sysfs_root, cpuinfo_path=cpuinfo_path)
    if key not in _BUILDERS:
        raise ValueError(f"unknown CPU preset {name!r}; known presets: {', '.join(list_presets())}")
    return _BUILDERS[key]()


# --------------------------------------------------------------------------- host

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

    One dict per index with the keys that could be read: level, type, size_bytes, ways,
    line_bytes, sets. Instruction caches are dropped. An absent tree gives [].
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


def read_cpuinfo(cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> dict:
    """The first processor's ``model name`` and ``cpu MHz`` (keys model_name, mhz) where present."""
    text = _read(Path(cpuinfo_path)) or ""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "model name" and "model_name" not in out and value:
            out["model_name"] = value
        elif key == "cpu mhz" and "mhz" not in out:
            try:
                mhz = float(value)
            except ValueError:
                continue
            if mhz > 0:
                out["mhz"] = mhz
        if "model_name" in out and "mhz" in out:
            break
    return out


def read_host_frequency(sysfs_root="/sys", cpuinfo_path="/proc/cpuinfo") -> tuple[float | None, str]:
    """(GHz, source): cpufreq's cpuinfo_max_freq, else /proc/cpuinfo 'cpu MHz', else (None, why)."""
    cpufreq = Path(sysfs_root) / "devices" / "system" / "cpu" / "cpu0" / "cpufreq" / "cpuinfo_max_freq"
    khz = _read_int(cpufreq)
    if khz and khz > 0:
        return khz / 1e6, f"{cpufreq} (maximum frequency)"
    info = read_cpuinfo(cpuinfo_path)
    if "mhz" in info:
        return info["mhz"] / 1e3, (
            f"{cpuinfo_path} 'cpu MHz' (frequency when read; a VM reports its nominal clock, turbo not included)"
        )
    return None, f"unavailable: no {cpufreq} and no 'cpu MHz' in {cpuinfo_path}"


def _geometry(level_name, entry, default, read, assumed) -> CacheGeometry:
    size, ways = default
    line = HOST_DEFAULTS["line_bytes"]
    if entry is None:
        assumed.append(f"{level_name}: not in sysfs; assumed {format_size(size)} {ways}-way {line} B lines")
        return CacheGeometry(size, ways, line)
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
    try:
        geometry = CacheGeometry(size, ways, line)
    except ValueError:
        assumed.append(
            f"{level_name}: sysfs values {entry} are inconsistent; assumed {format_size(default[0])} {default[1]}-way"
        )
        return CacheGeometry(default[0], default[1], HOST_DEFAULTS["line_bytes"])
    read.append(f"{level_name}: {', '.join(got)} from sysfs {entry['index']} = {format_size(size)} {ways}-way {line} B")
    if len(got) < 3:
        assumed.append(f"{level_name}: the rest assumed ({format_size(size)} {ways}-way {line} B)")
    return geometry


def host_preset(sysfs_root: str | os.PathLike = "/sys", cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> CpuPreset:
    """The running machine: cache geometry from sysfs, frequency from cpufreq or /proc/cpuinfo,
    latencies and MLP assumed (``HOST_DEFAULTS``); ``read_values``/``assumed_values`` say which."""
    read: list[str] = []
    assumed: list[str] = []
    caches = read_sysfs_caches(sysfs_root)
    l1 = next((c for c in caches if c["level"] == 1), None)
    l2 = next((c for c in caches if c["level"] == 2), None)
    higher = [c for c in caches if c["level"] >= 3]
    llc = max(higher, key=lambda c: c["level"]) if higher else None
    l1d = _geometry("L1d", l1, HOST_DEFAULTS["l1d"], read, assumed)
    l2g = _geometry("L2", l2, HOST_DEFAULTS["l2"], read, assumed)
    llcg = _geometry("LLC", llc, HOST_DEFAULTS["llc"], read, assumed)
    if not (l1d.size_bytes <= l2g.size_bytes <= llcg.size_bytes):
        assumed.append("cache sizes from sysfs did not grow L1d <= L2 <= LLC; all geometry assumed")
        l1d = CacheGeometry(*HOST_DEFAULTS["l1d"])
        l2g = CacheGeometry(*HOST_DEFAULTS["l2"])
        llcg = CacheGeometry(*HOST_DEFAULTS["llc"])

    ghz, freq_source = read_host_frequency(sysfs_root, cpuinfo_path)
    if ghz is None:
        ghz = HOST_DEFAULTS["freq_ghz"]
        assumed.append(f"freq_ghz: {freq_source}; assumed {ghz} GHz")
    else:
        read.append(f"freq_ghz: {ghz:.3f} from {freq_source}")
    info = read_cpuinfo(cpuinfo_path)
    model_name = info.get("model_name", "unknown CPU (no 'model name' in cpuinfo)")

    dram_cycles = round(HOST_DEFAULTS["dram_ns"] * ghz)
    assumed.extend([
        f"l1_hit_cycles {HOST_DEFAULTS['l1_hit_cycles']:g}, l2_hit_cycles {HOST_DEFAULTS['l2_hit_cycles']:g}, "
        f"llc_hit_cycles {HOST_DEFAULTS['llc_hit_cycles']:g}: assumed (latencies cannot be read from sysfs)",
        f"dram_cycles {dram_cycles}: assumed {HOST_DEFAULTS['dram_ns']:g} ns x {ghz:.3f} GHz",
        f"mlp {HOST_DEFAULTS['mlp']:g}: assumed",
        "peak_dram_gbps: unknown (memory channels and speed are not readable without root); no bandwidth cap",
        _COMPUTE_NOTE,
    ])
    timing = TimingModel(
        name="host", freq_ghz=ghz, l1_hit_cycles=HOST_DEFAULTS["l1_hit_cycles"],
        l2_hit_cycles=HOST_DEFAULTS["l2_hit_cycles"], llc_hit_cycles=HOST_DEFAULTS["llc_hit_cycles"],
        dram_cycles=dram_cycles, mlp=HOST_DEFAULTS["mlp"], line_bytes=llcg.line_bytes, peak_dram_gbps=None,
    )
    return CpuPreset(
        name="host",
        description=f"this machine: {model_name}",
        timing=timing, l1d=l1d, l2=l2g, llc=llcg,
        sources=(f"{Path(sysfs_root) / 'devices/system/cpu/cpu0/cache'}", f"{cpuinfo_path}"),
        read_values=tuple(read), assumed_values=tuple(assumed),
        notes=("latencies on this machine are assumptions: override them with --timing or a TOML file",),
    )


_WS = re.compile(r"\s+")


def host_cpu_name(cpuinfo_path: str | os.PathLike = "/proc/cpuinfo") -> str:
    """The CPU model name (single-spaced), or 'unknown'."""
    return _WS.sub(" ", read_cpuinfo(cpuinfo_path).get("model_name", "unknown"))
