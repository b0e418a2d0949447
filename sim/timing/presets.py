"""Named CPU presets for the timing model, as data with a source for every number.

A preset is one core of a named CPU running the lookup kernel alone: its L1d, L2 and LLC
geometry, its TLBs, and a ``TimingModel`` (frequency, load-to-use latencies, fill buffers,
instruction window, page walkers, peak DRAM bandwidth; compute costs are the TimingModel
defaults). Each preset below is one table
of fields, every field a (value, source) pair; ``preset_from_fields`` builds the
``CpuPreset``. A preset for the running machine is built the same way from fields
measured there (``memprof.hw.host`` reads them), the missing ones taken from ``GENERIC``.
docs/timing-model.md has the table.

Fields: ``freq_ghz``; ``l1_hit_cycles``, ``l2_hit_cycles``, ``llc_hit_cycles`` (core
cycles); ``dram_ns`` (DRAM latency; ``dram_cycles = round(dram_ns * freq_ghz)``);
``fill_buffers`` (L1D miss buffers: lines in flight per core); ``rob_entries`` (reorder
buffer); ``page_walkers``; ``page_walk_cycles`` (a walk beyond its page-table reads);
``peak_dram_gbps`` (None: no cap); ``l1d``, ``l2``, ``llc`` as (size_bytes, ways) or
(size_bytes, ways, line_bytes); ``tlb``: page size -> ((DTLB entries, ways), (STLB
entries, ways)) for "4KB", "2MB", "1GB"; ``pde_cache``: entries of the paging-structure
cache of the level above the leaf.

Conventions for the named presets:
- Frequency: the single-core maximum turbo from the vendor's product page (one core runs
  the kernel; an all-core run would clock lower: override ``freq_ghz``).
- Latencies: approximate load-to-use latencies in core cycles, rounded, read from the
  public measurements cited (latency-versus-footprint charts); DRAM latency is the
  measured full-random latency in ns. They vary with memory speed, mesh position, boost
  state and page size: treat them as nominal.
- LLC: what one core can hit. Intel server parts share one LLC over the die (SNC off);
  AMD Genoa's LLC is per CCD (32 MiB), not the 384 MiB socket total.
- Peak DRAM bandwidth: channels x MT/s x 8 bytes for the memory the platform specifies,
  decimal GB/s (the timing model's cap; one core cannot reach it, so it rarely binds).
- Fill buffers, ROB, TLBs, page walkers: the vendor's or a cited measurement's figure;
  ``page_walk_cycles`` and ``pde_cache`` are not published: assumed (``memprof calibrate``
  measures the walk cost on the host).
- Compute costs: the TimingModel defaults (assumed); ``memprof calibrate`` measures
  compute cycles per lookup on the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from sim.sizes import format_size
from sim.timing.model import TimingModel
from sim.tlb import PAGE_NAMES, TlbConfig

KIB = 1024
MIB = 1024 * 1024

ASSUMED = "assumed"  # sources of assumed values start with this word


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


def check_tlb_table(name: str, table) -> dict:
    """The ``tlb`` field: every page size of ``PAGE_NAMES`` -> ((DTLB entries, ways), (STLB entries, ways))."""
    if not isinstance(table, Mapping) or set(table) != set(PAGE_NAMES):
        raise ValueError(f"cpu preset {name!r}: tlb must give each page size {', '.join(PAGE_NAMES)}, got {table!r}")
    return dict(table)


@dataclass(frozen=True)
class CpuPreset:
    """A named CPU: cache geometry, timing model, and where each number came from.

    ``sources`` maps each field (see the module docstring) to its source; a source that
    starts with "assumed" marks an assumption rather than a published or measured number.
    """

    name: str
    description: str
    timing: TimingModel
    l1d: CacheGeometry
    l2: CacheGeometry
    llc: CacheGeometry
    sources: Mapping[str, str]
    tlb: Mapping[str, TlbConfig] = field(default_factory=dict)  # page size name (PAGE_NAMES) -> DTLB/STLB/PSC
    pde_cache: int = 32
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("cpu preset: name must be non-empty")
        if not (self.l1d.size_bytes <= self.l2.size_bytes <= self.llc.size_bytes):
            raise ValueError(
                f"cpu preset {self.name!r}: cache sizes must grow L1d <= L2 <= LLC, got "
                f"{self.l1d.size_bytes} / {self.l2.size_bytes} / {self.llc.size_bytes}"
            )
        object.__setattr__(self, "sources", dict(self.sources))

    @property
    def assumed(self) -> tuple[str, ...]:
        """The fields whose values are assumptions."""
        return tuple(name for name, source in self.sources.items() if source.startswith(ASSUMED))

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "l1d": self.l1d.describe(),
            "l2": self.l2.describe(),
            "llc": self.llc.describe(),
            "tlb": {size: config.describe() for size, config in self.tlb.items()},
            "pde_cache_entries": self.pde_cache,
            "timing": self.timing.describe(),
            "sources": dict(self.sources),
            "assumed": list(self.assumed),
            "notes": list(self.notes),
        }


FIELDS = ("freq_ghz", "l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles", "dram_ns", "fill_buffers", "rob_entries",
          "page_walkers", "page_walk_cycles", "peak_dram_gbps", "l1d", "l2", "llc", "tlb", "pde_cache")

_WALK = (20, "assumed: ~20 cycles for a walk whose upper levels hit the paging-structure caches, beyond its "
             "page-table reads (not published; `memprof calibrate` measures it on the host)")
_PDE = (32, "assumed: 32 paging-structure-cache entries for the level above the leaf (Intel and AMD do not "
            "publish the sizes)")
_SUNNY_TLB = ({"4KB": ((64, 4), (2048, 16)), "2MB": ((32, 4), (2048, 16)), "1GB": ((8, 8), (1024, 8))},
              "Intel Optimization Reference Manual, Sunny Cove TLB table: load DTLB 64 x 4K (4-way), 32 x 2M, 8 x 1G; "
              "STLB 2048 entries 4K/2M (16-way), 1024 x 1G (approximate reading)")
_GOLDEN_TLB = ({"4KB": ((96, 6), (2048, 16)), "2MB": ((32, 4), (2048, 16)), "1GB": ((8, 8), (1024, 8))},
               "Intel Architecture Day 2021 (Golden Cove): load DTLB 64 -> 96 entries; STLB 2048 4K/2M, 1024 x 1G "
               "as Sunny Cove (Optimization Reference Manual; approximate reading)")
_SUNNY_CORE = {
    "fill_buffers": (12, "Intel Architecture Day 2021: Willow/Sunny Cove 12 L1D fill buffers (Golden Cove 16)"),
    "rob_entries": (352, "Intel Architecture Day 2018/2019 (Sunny Cove): 352-entry reorder buffer"),
    "page_walkers": (2, "Intel Architecture Day 2021: 2 page walkers before Golden Cove (which has 4)"),
}
_GOLDEN_CORE = {
    "fill_buffers": (16, "Intel Architecture Day 2021 (Golden Cove): L1D fill buffers 12 -> 16"),
    "rob_entries": (512, "Intel Architecture Day 2021 (Golden Cove): 512-entry reorder buffer"),
    "page_walkers": (4, "Intel Architecture Day 2021 (Golden Cove): page walkers 2 -> 4"),
}
COMPUTE_NOTE = "assumed: the TimingModel defaults per operation; `memprof calibrate` measures them on the machine"

# --------------------------------------------------------------------------- the named presets

ICX = {
    "description": "Intel Xeon Platinum 8380 (Ice Lake-SP), one core at 3.4 GHz max turbo, 8ch DDR4-3200",
    "freq_ghz": (3.4, "Intel ARK, Xeon Platinum 8380: 40 cores, 2.3 GHz base, 3.4 GHz max turbo"),
    "l1_hit_cycles": (5, "Intel 64 and IA-32 Architectures Optimization Reference Manual: Sunny Cove L1d 5 cycles"),
    "l2_hit_cycles": (14, "Intel Optimization Reference Manual: Sunny Cove L2 ~14 cycles"),
    "llc_hit_cycles": (70, "AnandTech, Intel 3rd Gen Xeon Scalable (Ice Lake SP) Review (2021), memory latency page, "
                           "https://www.anandtech.com/show/16594/intel-3rd-gen-xeon-scalable-review/4: L3 ~21 ns "
                           "= ~70 cycles at 3.4 GHz over the mesh (approximate reading)"),
    "dram_ns": (110, "AnandTech ICX review (URL above): DRAM ~110 ns full random (approximate reading); "
                     "Chips and Cheese Ice Lake-SP measurements"),
    **_SUNNY_CORE, "page_walk_cycles": _WALK, "tlb": _SUNNY_TLB, "pde_cache": _PDE,
    "peak_dram_gbps": (204.8, "Intel ARK, Xeon Platinum 8380: 8 channels DDR4-3200 x 8 B = 204.8 GB/s"),
    "l1d": ((48 * KIB, 12), "Intel Optimization Reference Manual: Sunny Cove L1d 48 KiB 12-way"),
    "l2": ((1280 * KIB, 20), "Intel Optimization Reference Manual: Sunny Cove L2 1.25 MiB 20-way"),
    "llc": ((60 * MIB, 12), "Intel ARK: 60 MB L3 (1.5 MiB/core x 40), 12-way (Optimization Reference Manual, "
                            "Ice Lake server cache table; AnandTech ICX review)"),
}

SPR = {
    "description": "Intel Xeon Platinum 8480+ (Sapphire Rapids), one core at 3.8 GHz max turbo, 8ch DDR5-4800",
    "freq_ghz": (3.8, "Intel ARK, Xeon Platinum 8480+: 56 cores, 2.0 GHz base, 3.8 GHz max turbo"),
    "l1_hit_cycles": (5, "Intel Optimization Reference Manual: Golden Cove L1d 5 cycles"),
    "l2_hit_cycles": (16, "Chips and Cheese, Sapphire Rapids: Golden Cove Hits Servers (2023), "
                          "https://chipsandcheese.com/p/a-peek-at-sapphire-rapids: L2 ~16 cycles"),
    "llc_hit_cycles": (125, "Chips and Cheese SPR article (URL above): L3 ~33 ns = ~125 cycles at 3.8 GHz, the mesh "
                            "across four tiles (approximate reading)"),
    "dram_ns": (115, "Chips and Cheese SPR article (Xeon Platinum 8480 on Intel DevCloud) and Genoa-X: Server "
                     "V-Cache Round 2 (SPR vs Genoa-X): DRAM ~115 ns (approximate reading)"),
    **_GOLDEN_CORE, "page_walk_cycles": _WALK, "tlb": _GOLDEN_TLB, "pde_cache": _PDE,
    "peak_dram_gbps": (307.2, "Intel ARK, Xeon Platinum 8480+: 8 channels DDR5-4800 x 8 B = 307.2 GB/s"),
    "l1d": ((48 * KIB, 12), "Intel Optimization Reference Manual: Golden Cove L1d 48 KiB 12-way"),
    "l2": ((2 * MIB, 16), "Chips and Cheese SPR article: L2 2 MiB 16-way per core"),
    "llc": ((105 * MIB, 15), "Intel ARK: 105 MB L3 (1.875 MiB/core x 56), 15-way (Chips and Cheese SPR article)"),
}

ADL = {
    "description": "Intel Core i9-12900K (Alder Lake), one P-core at 5.1 GHz max turbo, DDR5-4800 dual channel",
    "freq_ghz": (5.1, "Intel ARK, Core i9-12900K: P-core 3.2 GHz base / 5.1 GHz max turbo"),
    "l1_hit_cycles": (5, "Intel Optimization Reference Manual: Golden Cove L1d 5 cycles"),
    "l2_hit_cycles": (15, "AnandTech, The Intel 12th Gen Core i9-12900K Review (2021), cache latency page, "
                          "https://www.anandtech.com/show/17047/the-intel-12th-gen-core-i912900k-review-hybrid-"
                          "performance-brings-hybrid-complexity/6: L2 ~15 cycles (approximate reading)"),
    "llc_hit_cycles": (65, "AnandTech i9-12900K review (URL above): L3 ~65 cycles (approximate reading)"),
    "dram_ns": (92, "AnandTech i9-12900K review (URL above): DRAM ~92 ns with DDR5-4800 (approximate reading)"),
    **_GOLDEN_CORE, "page_walk_cycles": _WALK, "tlb": _GOLDEN_TLB, "pde_cache": _PDE,
    "peak_dram_gbps": (76.8, "Intel ARK, Core i9-12900K: DDR5-4800, 2 channels (128 bit), max bandwidth 76.8 GB/s"),
    "l1d": ((48 * KIB, 12), "Hardware Times, Intel Sapphire Rapids-SP cache hierarchy (Golden Cove table from a "
                            "Linux patch), https://www.hardwaretimes.com/intel-sapphire-rapids-sp-cache-hierarchy-"
                            "revealed-by-leaked-benchmark/: Golden Cove L1d 48 KiB 12-way"),
    "l2": ((1280 * KIB, 10), "Hardware Times (URL above): Golden Cove client L2 1.25 MiB 10-way"),
    "llc": ((30 * MIB, 12), "Intel ARK, Core i9-12900K: 30 MB Smart Cache; 12-way (Linux cpuid/sysfs dumps)"),
}

TGL = {
    "description": "Intel Core i7-1185G7 (Tiger Lake), one core at 4.8 GHz max turbo, LPDDR4x-4266",
    "freq_ghz": (4.8, "Intel ARK, Core i7-1185G7: 3.0 GHz base / 4.8 GHz max turbo"),
    "l1_hit_cycles": (5, "Intel Optimization Reference Manual: Willow Cove L1d 5 cycles"),
    "l2_hit_cycles": (14, "AnandTech, Intel Tiger Lake review deep dive (2020), https://www.anandtech.com/show/16084, "
                          "cache latency: L2 ~14 cycles (approximate reading)"),
    "llc_hit_cycles": (55, "AnandTech Tiger Lake review (URL above): L3 ~55 cycles, ~11.5 ns at 4.8 GHz "
                           "(approximate reading)"),
    "dram_ns": (105, "AnandTech Tiger Lake review (URL above): DRAM ~105 ns with LPDDR4x-4266 (approximate reading)"),
    **_SUNNY_CORE, "page_walk_cycles": _WALK, "pde_cache": _PDE,
    "tlb": (_SUNNY_TLB[0], "Intel Optimization Reference Manual: Willow Cove keeps Sunny Cove's TLBs (approximate)"),
    "peak_dram_gbps": (68.3, "Intel ARK, Core i7-1185G7: LPDDR4x-4266, 128 bit = 68.3 GB/s"),
    "l1d": ((48 * KIB, 12), "Hardware Times (URL as for adl), Willow Cove column: L1d 48 KiB 12-way"),
    "l2": ((1280 * KIB, 20), "Hardware Times (URL as for adl), Willow Cove column: L2 1.25 MiB 20-way"),
    "llc": ((12 * MIB, 12), "Intel ARK: 12 MB cache (3 MiB/core x 4); Hardware Times Willow Cove column: 12-way"),
}

GENOA = {
    "description": "AMD EPYC 9654 (Genoa, Zen 4), one core at 3.7 GHz max boost, 12ch DDR5-4800, LLC = one CCD",
    "freq_ghz": (3.7, "AMD product page, EPYC 9654: 96 cores, 2.4 GHz base / 3.7 GHz max boost"),
    "l1_hit_cycles": (4, "AMD Software Optimization Guide for AMD Family 19h (Zen 4): 4-cycle integer load-to-use "
                         "(FP loads 7-8)"),
    "l2_hit_cycles": (14, "AMD Zen 4 Software Optimization Guide: L2 14 cycles"),
    "llc_hit_cycles": (50, "AMD Zen 4 Software Optimization Guide: L3 ~50 cycles average; Chips and Cheese, Genoa-X: "
                           "Server V-Cache Round 2 (2023), https://chipsandcheese.com/2023/07/17/genoa-x-server-v-"
                           "cache-round-2/: Milan-X 50-cycle L3 (+4 cycles for V-Cache)"),
    "dram_ns": (115, "Chips and Cheese Genoa-X article (URL above): DRAM ~115 ns, similar to SPR "
                     "(approximate reading)"),
    "fill_buffers": (22, "AMD Software Optimization Guide for Family 17h/19h: the L1D tracks up to 22 outstanding "
                         "misses (approximate: Zen 4's guide keeps the figure)"),
    "rob_entries": (320, "AMD Zen 4 Software Optimization Guide / Hot Chips 2023: 320-entry retire queue"),
    "page_walkers": (6, "Chips and Cheese, AMD's Zen 4 Part 2: Memory Subsystem (2022): 6 page table walkers, "
                        "as Zen 3"),
    "page_walk_cycles": _WALK, "pde_cache": _PDE,
    "tlb": ({"4KB": ((72, 72), (3072, 12)), "2MB": ((72, 72), (3072, 12)), "1GB": ((72, 72), (3072, 12))},
            "AMD Zen 4 Software Optimization Guide: L1 DTLB 72 entries fully associative (all page sizes); L2 DTLB "
            "3072 entries 4K/2M (1G pages smashed into 2M entries); 12-way assumed"),
    "peak_dram_gbps": (460.8, "AMD product page, EPYC 9654: 12 channels DDR5-4800 x 8 B = 460.8 GB/s"),
    "l1d": ((32 * KIB, 8), "AMD Zen 4 Software Optimization Guide: L1d 32 KiB 8-way"),
    "l2": ((1 * MIB, 8), "AMD Zen 4 Software Optimization Guide: L2 1 MiB 8-way"),
    "llc": ((32 * MIB, 16), "AMD Zen 4 Software Optimization Guide: L3 32 MiB 16-way per CCX; AMD product page: "
                            "384 MB per socket, but a core hits only its CCD's L3"),
}

MILAN = {
    "description": "AMD EPYC 7763 (Milan, Zen 3), one core at 3.5 GHz max boost, 8ch DDR4-3200, LLC = one CCD",
    "freq_ghz": (3.5, "AMD product page, EPYC 7763: 64 cores, 2.45 GHz base / 3.5 GHz max boost"),
    "l1_hit_cycles": (4, "AMD Software Optimization Guide for Family 19h (Zen 3): 4-cycle integer load-to-use"),
    "l2_hit_cycles": (12, "AMD Zen 3 Software Optimization Guide: L2 12 cycles"),
    "llc_hit_cycles": (46, "AMD Zen 3 Software Optimization Guide: L3 ~46 cycles average (approximate)"),
    "dram_ns": (110, "Chips and Cheese, Zen 3 / Milan memory latency measurements: ~110 ns (approximate reading)"),
    "fill_buffers": (22, "AMD Software Optimization Guide for Family 17h/19h: the L1D tracks up to 22 outstanding "
                         "misses (approximate)"),
    "rob_entries": (256, "AMD Zen 3 (Hot Chips 33, 2021): 256-entry retire queue"),
    "page_walkers": (6, "AMD Zen 3 Software Optimization Guide: six page table walkers (Zen 2: two)"),
    "page_walk_cycles": _WALK, "pde_cache": _PDE,
    "tlb": ({"4KB": ((64, 64), (2048, 16)), "2MB": ((64, 64), (2048, 16)), "1GB": ((64, 64), (2048, 16))},
            "AMD Zen 3 Software Optimization Guide: L1 DTLB 64 entries fully associative (all page sizes); L2 DTLB "
            "2048 entries 4K/2M (1G smashed into 2M); 16-way assumed"),
    "peak_dram_gbps": (204.8, "AMD product page, EPYC 7763: 8 channels DDR4-3200 x 8 B = 204.8 GB/s"),
    "l1d": ((32 * KIB, 8), "AMD Zen 3 Software Optimization Guide: L1d 32 KiB 8-way"),
    "l2": ((512 * KIB, 8), "AMD Zen 3 Software Optimization Guide: L2 512 KiB 8-way"),
    "llc": ((32 * MIB, 16), "AMD Zen 3 Software Optimization Guide: L3 32 MiB 16-way per CCX (8 cores)"),
}

PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {"icx": ICX, "spr": SPR, "adl": ADL, "tgl": TGL, "genoa": GENOA, "milan": MILAN}
)

# For a machine where a field cannot be measured: a generic recent x86 server core.
GENERIC = {
    "freq_ghz": (3.0, "assumed: generic x86 server core"),
    "l1_hit_cycles": (5.0, "assumed (latencies cannot be read from the machine)"),
    "l2_hit_cycles": (14.0, "assumed (latencies cannot be read from the machine)"),
    "llc_hit_cycles": (50.0, "assumed (latencies cannot be read from the machine)"),
    "dram_ns": (100.0, "assumed: 100 ns"),
    "fill_buffers": (12.0, "assumed: 12 L1D miss buffers (Intel Sunny Cove's count)"),
    "rob_entries": (352.0, "assumed: Sunny Cove's 352-entry ROB"),
    "page_walkers": (2.0, "assumed: 2 page walkers"),
    "page_walk_cycles": _WALK,
    "tlb": ({"4KB": ((64, 4), (2048, 16)), "2MB": ((32, 4), (2048, 16)), "1GB": ((8, 8), (1024, 8))},
            "assumed: Sunny Cove's TLBs"),
    "pde_cache": _PDE,
    "peak_dram_gbps": (None, "assumed unknown (memory channels and speed are not readable without root): no "
                             "bandwidth cap"),
    "l1d": ((32 * KIB, 8, 64), "assumed: generic 32 KiB 8-way"),
    "l2": ((1 * MIB, 16, 64), "assumed: generic 1 MiB 16-way"),
    "llc": ((32 * MIB, 16, 64), "assumed: generic 32 MiB 16-way"),
}


def preset_from_fields(name: str, description: str, fields: Mapping[str, tuple[Any, str]],
                       defaults: Mapping[str, tuple[Any, str]] | None = None,
                       notes: tuple[str, ...] = ()) -> CpuPreset:
    """A ``CpuPreset`` from (value, source) fields (module docstring); a field missing from
    ``fields`` is taken from ``defaults`` (none by default: then every field is required).
    ``dram_cycles = round(dram_ns * freq_ghz)``; the timing model's line size is the LLC's."""
    unknown = [key for key in fields if key not in FIELDS]
    if unknown:
        raise ValueError(f"cpu preset {name!r}: unknown field(s) {', '.join(unknown)}; fields: {', '.join(FIELDS)}")
    merged = {**(defaults or {}), **fields}
    missing = [key for key in FIELDS if key not in merged]
    if missing:
        raise ValueError(f"cpu preset {name!r}: missing field(s) {', '.join(missing)}")
    value = {key: merged[key][0] for key in FIELDS}
    l1d, l2, llc = (CacheGeometry(*value[level]) for level in ("l1d", "l2", "llc"))
    timing = TimingModel(
        name=name, freq_ghz=value["freq_ghz"], l1_hit_cycles=value["l1_hit_cycles"],
        l2_hit_cycles=value["l2_hit_cycles"], llc_hit_cycles=value["llc_hit_cycles"],
        dram_cycles=round(value["dram_ns"] * value["freq_ghz"]), fill_buffers=value["fill_buffers"],
        rob_entries=value["rob_entries"], page_walkers=value["page_walkers"],
        page_walk_cycles=value["page_walk_cycles"], line_bytes=llc.line_bytes,
        peak_dram_gbps=value["peak_dram_gbps"],
    )
    tlb = {size: TlbConfig(page_bytes=PAGE_NAMES[size], dtlb_entries=dtlb[0], dtlb_ways=dtlb[1], stlb_entries=stlb[0],
                           stlb_ways=stlb[1], psc_entries=int(value["pde_cache"]))
           for size, (dtlb, stlb) in check_tlb_table(name, value["tlb"]).items()}
    sources = {key: str(merged[key][1]) for key in FIELDS}
    sources["compute costs"] = COMPUTE_NOTE
    return CpuPreset(name=name, description=description, timing=timing, l1d=l1d, l2=l2, llc=llc, tlb=tlb,
                     pde_cache=int(value["pde_cache"]), sources=sources, notes=tuple(notes))


def list_presets() -> tuple[str, ...]:
    """Names ``get_preset`` accepts."""
    return tuple(PRESETS)


def get_preset(name: str) -> CpuPreset:
    """A named preset (case and surrounding spaces ignored); ValueError lists the known names."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise ValueError(f"unknown CPU preset {name!r}; known presets: {', '.join(list_presets())}")
    table = PRESETS[key]
    return preset_from_fields(key, table["description"], {k: v for k, v in table.items() if k != "description"})
