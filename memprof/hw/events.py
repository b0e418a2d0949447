"""Which perf events measure cycles, LLC misses and DRAM traffic on which CPU (SPEC section 5).

Each measured quantity has an ordered list of candidate events; ``perf.select_events``
probes each candidate alone and keeps the first that opens. Generic events (cycles,
instructions, task-clock) are "certain" where a PMU exists; every vendor event is
"uncertain" (it may be missing from this perf's tables or this kernel) and is never put
in a ``{group}``: an unsupported group member makes the whole group fail (exit 255).

Scopes: "task" events count the benchmark process; "system" events (uncore IMC, AMD
L3/UMC/DF) only exist system-wide (``perf stat -a``) and count every core: they are run
in a second perf session scoped by the same enable/disable FIFO commands.

Notes kept honest in the output:
- AMD ``cache-misses`` is an L2 event and ``LLC-load-misses`` is not supported on Zen;
  neither is ever reported as LLC misses.
- Intel uncore CAS counts are printed by perf already scaled to MiB; AMD UMC CAS
  commands and DF beats are 64-byte units.
"""

from __future__ import annotations

from dataclasses import dataclass

from memprof.hw.host import CpuInfo

LINE = 64


@dataclass(frozen=True)
class EventChoice:
    """One way to measure a quantity: one perf event, or several summed (per channel)."""

    events: tuple[str, ...]
    scope: str = "task"  # "task" or "system"
    bytes_per_count: float | None = None  # counts -> bytes (CAS commands: 64), None = not a byte count
    note: str = ""

    def __post_init__(self) -> None:
        if not self.events:
            raise ValueError("EventChoice needs at least one event")
        if self.scope not in ("task", "system"):
            raise ValueError(f"scope {self.scope!r}: expected 'task' or 'system'")

    @property
    def label(self) -> str:
        return self.events[0] if len(self.events) == 1 else f"{self.events[0]} + {len(self.events) - 1} more"


@dataclass(frozen=True)
class Quantity:
    """A measured quantity (output column) and its candidate events, best first."""

    name: str
    candidates: tuple[EventChoice, ...]
    certain: bool = False
    description: str = ""


def _choice(*events: str, scope: str = "task", bpc: float | None = None, note: str = "") -> EventChoice:
    return EventChoice(tuple(events), scope, bpc, note)


SOFTWARE = (
    Quantity("task_clock_ms", (_choice("task-clock"),), certain=True,
             description="CPU time of the benchmark threads during the kernel region (software event)"),
)

GENERIC = (
    Quantity("cycles", (_choice("cycles"),), certain=True, description="core cycles"),
    Quantity("instructions", (_choice("instructions"),), certain=True, description="instructions retired"),
)

INTEL = GENERIC + (
    Quantity("llc_load_misses", (
        _choice("mem_load_retired.l3_miss", note="retired loads that missed L3"),
        _choice("LLC-load-misses", note="generic cache event mapped by the kernel"),
    ), description="demand loads missing the LLC"),
    Quantity("llc_miss_lines", (
        _choice("ocr.demand_data_rd.l3_miss", note="offcore demand data reads that missed L3"),
    ), description="demand data reads served beyond the LLC"),
    Quantity("dram_read_bytes", (
        _choice("uncore_imc/cas_count_read/", scope="system", note="IMC CAS reads, perf scales to MiB"),
        _choice("uncore_imc_free_running/data_read/", scope="system", note="client free-running IMC counter"),
    ), description="DRAM bytes read, whole socket"),
    Quantity("dram_write_bytes", (
        _choice("uncore_imc/cas_count_write/", scope="system", note="IMC CAS writes, perf scales to MiB"),
        _choice("uncore_imc_free_running/data_write/", scope="system", note="client free-running IMC counter"),
    ), description="DRAM bytes written, whole socket"),
)

_AMD_L3 = Quantity("llc_misses", (
    _choice("l3_lookup_state.l3_miss", scope="system", note="amd_l3 PMU, counts the whole CCX"),
), description="L3 lookups that missed (L3 PMU)")

ZEN4 = GENERIC + (
    _AMD_L3,
    Quantity("dram_fill_lines", (
        _choice("ls_any_fills_from_sys.dram_io_all", note="L1D fills from DRAM or IO, this process"),
    ), description="demand fills of this process served by DRAM/IO (lines)"),
    Quantity("dram_read_bytes", (
        _choice("umc_cas_cmd.rd", scope="system", bpc=LINE, note="amd_umc CAS reads x 64 B (perf >= ~6.8)"),
    ), description="DRAM bytes read, whole socket"),
    Quantity("dram_write_bytes", (
        _choice("umc_cas_cmd.wr", scope="system", bpc=LINE, note="amd_umc CAS writes x 64 B (perf >= ~6.8)"),
    ), description="DRAM bytes written, whole socket"),
)

ZEN3 = GENERIC + (
    _AMD_L3,
    Quantity("dram_fill_lines", (
        _choice("ls_any_fills_from_sys.mem_io_local", note="L1D fills from local DRAM or IO, this process"),
    ), description="demand fills of this process served by DRAM/IO (lines)"),
    Quantity("dram_bytes", (
        _choice(*(f"dram_channel_data_controller_{i}" for i in range(8)), scope="system", bpc=LINE,
                note="amd_df DRAM channel beats x 64 B, 8 channels summed"),
    ), description="DRAM bytes read + written, whole socket"),
)

ZEN5 = ZEN4

OTHER = GENERIC


def event_set(cpu: CpuInfo) -> tuple[Quantity, ...]:
    """The quantities to try on ``cpu`` (software events first, then vendor events)."""
    arch = cpu.microarch
    if arch == "intel":
        hw = INTEL
    elif arch in ("zen4",):
        hw = ZEN4
    elif arch == "zen5":
        hw = ZEN5
    elif arch in ("zen3", "zen2", "zen1", "amd"):
        hw = ZEN3
    else:
        hw = OTHER
    return SOFTWARE + hw


NEVER_LLC = {
    "amd": "cache-misses is an L2 event on AMD Zen and LLC-load-misses is not supported; neither is used as LLC",
}
