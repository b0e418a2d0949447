"""Measurements for the twin table: per representation and LLC size, cycles, LLC misses and DRAM
bytes of the kernel region, each from the best source this machine has, with that source named.

- cycles: perf ``cycles`` of the region where a PMU exists (under the resctrl way mask of
  the LLC size when resctrl exists); else wall-clock x frequency of native runs
  (``kernel_runner``, not under valgrind; the fastest of ``repeats`` runs: on a shared machine
  other processes only ever add time).
- LLC misses: perf's LLC-miss event where a PMU exists AND resctrl limited the LLC to
  the size asked; else cachegrind's data LL misses with ``--LL=<size>,<ways>,64``
  (one valgrind process per size for every representation: ``cachegrind_fork``).
- DRAM bytes: perf uncore IMC/UMC/DF or resctrl MBM where present; else unavailable, why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from memprof.hw import backends, resctrl
from memprof.hw import perf as perf_mod
from memprof.hw.host import CpuInfo, read_host_frequency
from memprof.hw.runspec import RunSpec
from sim.sizes import format_size

unavailable = backends.unavailable


@dataclass(frozen=True)
class Capabilities:
    """What this machine can count, and why not where it cannot."""

    pmu: bool
    pmu_why: str
    resctrl: bool
    resctrl_why: str
    valgrind: bool

    @classmethod
    def probe(cls, resctrl_root: str = resctrl.DEFAULT_ROOT) -> "Capabilities":
        from memprof.hw.cachegrind import find_valgrind

        cycles = perf_mod.probe_event("cycles")
        ok, why = resctrl.availability(resctrl_root)
        return cls(cycles.usable, "" if cycles.usable else f"perf cycles: {cycles.status}: {cycles.reason}",
                   ok, "" if ok else why, find_valgrind() is not None)

    def describe(self, geometries: dict[int, tuple[int, int, int]]) -> dict:
        """How each quantity is measured here (goes into the metadata and onto stderr)."""
        sizes = ", ".join(f"--LL={g[0]},{g[1]},{g[2]} ({format_size(g[0])}, {g[0] // (g[1] * g[2]):,} sets)"
                          for g in geometries.values())
        llc = ("resctrl way mask per LLC size, counted by the PMU" if self.pmu and self.resctrl else
               f"cachegrind {sizes} (LLC size emulated by valgrind's cache simulator"
               + ("" if self.resctrl else f"; no resctrl: {self.resctrl_why}")
               + ("" if self.pmu else f"; no PMU: {self.pmu_why}") + ")")
        cycles = ("perf cycles of the kernel region" + (" under the resctrl way mask" if self.resctrl else
                                                        " with the full host LLC (no resctrl)")
                  if self.pmu else "wall-clock x frequency of native runs with the full host LLC "
                                   f"(no PMU: {self.pmu_why})")
        dram = ("perf uncore IMC/UMC/DF events, or resctrl MBM, of the kernel region (unavailable per cell "
                "where neither opens)" if self.pmu or self.resctrl else
                f"unavailable here: no PMU ({self.pmu_why}) and no resctrl MBM ({self.resctrl_why})")
        return {"cycles": cycles, "llc_misses": llc, "dram_bytes": dram}


def _perf_value(rows: list[dict], quantity: str):
    for row in rows:
        if row["quantity"] == quantity:
            return row["value"]
    return None


def _dram_from_perf(rows: list[dict]) -> tuple[object, str]:
    """(bytes or 'unavailable (why)', source) from profile_perf's rows."""
    values = {r["quantity"]: r["value"] for r in rows if isinstance(r["value"], (int, float))}
    if "dram_read_bytes" in values and "dram_write_bytes" in values:
        return values["dram_read_bytes"] + values["dram_write_bytes"], "perf uncore dram_read_bytes + dram_write_bytes"
    for name, source in (("dram_bytes", "perf uncore dram_bytes"), ("mbm_dram_bytes", "resctrl mbm_total_bytes")):
        if name in values:
            return values[name], source
    return unavailable("no DRAM byte counter: no uncore IMC/UMC/DF event and no resctrl MBM"), "none"


def native_cycles(spec: RunSpec, *, repeats: int, timeout_s: float) -> tuple[float, str, int]:
    """(cycles, source, lookups): the shortest region wall time of ``repeats`` native runs x frequency."""
    ghz, freq_source = read_host_frequency()
    runs = [backends._run_plain(spec, timeout_s) for _ in range(repeats)]
    wall_ns = min(r["region_wall_ns"] for r in runs)
    lookups = runs[0]["lookups"]
    if ghz is None:
        return unavailable(f"no frequency to turn wall time into cycles: {freq_source}"), "none", lookups
    return wall_ns * ghz, (f"wall-clock x {ghz:.3f} GHz ({freq_source}), fastest of {repeats} native runs, "
                           "full host LLC"), lookups


def measure(specs: list[RunSpec], llc_sizes: list[int], geometries: dict[int, tuple[int, int, int]],
            d1: tuple[int, int, int], cpu: CpuInfo, caps: Capabilities, *, repeats: int = 3,
            timeout_s: float = 1800, log: Callable[[str], None] = lambda m: None) -> list[dict]:
    """One measurement dict per (spec, LLC size), in the columns of the twin table."""
    cells: dict[tuple[str, int], dict] = {}
    native: dict[str, tuple] = {}
    for spec in specs:
        for size in llc_sizes:
            cell = {"model": spec.model, "llc_bytes": size, "ll_ways": geometries[size][1]}
            if caps.pmu:
                rows = backends.profile_perf(spec, llc_bytes=size if caps.resctrl else None, cpu=cpu,
                                             timeout_s=timeout_s)
                cycles = _perf_value(rows, "cycles")
                cell.update(cycles=cycles, cycles_source="perf cycles, kernel region"
                            + (f", resctrl LLC {format_size(size)}" if caps.resctrl else ", full host LLC"),
                            lookups=_perf_value(rows, "lookups"))
                cell["dram_bytes"], cell["dram_bytes_source"] = _dram_from_perf(rows)
                granted = _perf_value(rows, "llc_bytes")
                if caps.resctrl and granted == size and isinstance(_perf_value(rows, "llc_misses"), (int, float)):
                    cell.update(llc_misses=_perf_value(rows, "llc_misses"),
                                llc_misses_source=f"perf LLC-miss event, resctrl LLC {format_size(size)}")
            else:
                if spec.model not in native:
                    log(f"twin: native runs of {spec.model} ({repeats}x, wall clock)")
                    native[spec.model] = native_cycles(spec, repeats=repeats, timeout_s=timeout_s)
                cycles, source, lookups = native[spec.model]
                cell.update(cycles=cycles, cycles_source=source, lookups=lookups,
                            dram_bytes=unavailable("no DRAM byte counter: " + "; ".join(
                                w for w in (caps.pmu_why, caps.resctrl_why and "no resctrl MBM") if w)),
                            dram_bytes_source="none")
            cells[(spec.model, size)] = cell
    plans = {}
    for size in llc_sizes:
        todo = [s for s in specs if "llc_misses" not in cells[(s.model, size)]]
        if not todo:
            continue
        if not caps.valgrind:
            for spec in todo:
                cells[(spec.model, size)].update(
                    llc_misses=unavailable("no PMU+resctrl for this LLC size and valgrind is not installed"),
                    llc_misses_source="none")
            continue
        plans[size] = todo
    if plans:
        results = _cachegrind_all(plans, geometries, d1, timeout_s, log)
        for size, todo in plans.items():
            ll = geometries[size]
            counts = results[size]
            for spec in todo:
                c = counts[spec.model]
                cells[(spec.model, size)].update(
                    llc_misses=c.ll_misses,
                    llc_misses_source=f"cachegrind --LL={ll[0]},{ll[1]},{ll[2]} --D1={d1[0]},{d1[1]},{d1[2]}: "
                                      "DLmr + DLmw of the kernel region",
                    cachegrind_ll_read_misses=c.ll_read_misses, cachegrind_ll_write_misses=c.ll_write_misses,
                    cachegrind_lookups=c.lookups)
    return [cells[(s.model, size)] for size in llc_sizes for s in specs]


def _cachegrind_all(plans: dict[int, list[RunSpec]], geometries, d1, timeout_s, log) -> dict:
    """{size: {model: ForkedCounts}}: one valgrind process per LL size (``run_forked_sizes``)."""
    from memprof.hw.cachegrind_fork import run_forked_sizes

    results = {}
    groups: dict[tuple[str, ...], list[int]] = {}
    for size, todo in plans.items():
        groups.setdefault(tuple(s.model for s in todo), []).append(size)
    for models, sizes in groups.items():
        lls = [geometries[s] for s in sizes]
        log("twin: cachegrind " + ", ".join(f"--LL={g[0]},{g[1]},{g[2]}" for g in lls)
            + f": {', '.join(models)} forked in one valgrind process per size")
        todo = plans[sizes[0]]
        for size, (counts, wall) in run_forked_sizes(todo, lls=lls, d1=d1, timeout_s=timeout_s).items():
            log(f"twin: cachegrind {format_size(size)}: {wall:.0f} s")
            results[size] = counts
    return results
