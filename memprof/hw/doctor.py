"""``memprof doctor``: what this machine can measure, and what each missing piece would need.

Every check is a ``Check(item, status, detail, needs)``; status is "ok", "limited" or
"missing". Probing runs ``perf stat -e cycles -- true`` and the like (fast, harmless).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from memprof.hw import cachegrind, perf as perf_mod, resctrl, vtune
from memprof.hw.host import CpuInfo, read_cpu_info
from memprof.hw.events import event_set
from memprof.hw.region import itt_module

OK, LIMITED, MISSING = "ok", "limited", "missing"


@dataclass(frozen=True)
class Check:
    item: str
    status: str
    detail: str
    needs: str = ""


def check_perf(cpu: CpuInfo, perf: str | None = None, paranoid_path: str = perf_mod.PARANOID_PATH) -> list[Check]:
    perf = perf or perf_mod.find_perf()
    if not perf:
        return [Check("perf", MISSING, "no 'perf' on PATH",
                      "install linux-tools / linux-perf for this kernel (or set MEMPROF_PERF)")]
    version = perf_mod.perf_version(perf) or "unknown version"
    checks = [Check("perf", OK, f"{perf} {version}" + ("" if perf_mod.supports_json(version) else
                                                       " (no -j JSON output before perf 6.0; CSV is used)"))]
    level = perf_mod.paranoid_level(paranoid_path)
    root = os.geteuid() == 0
    if level is None:
        checks.append(Check("perf_event_paranoid", LIMITED, f"{paranoid_path} unreadable", "a Linux kernel with perf events"))
    elif level > 0 and not root:
        checks.append(Check("perf_event_paranoid", LIMITED, f"{level}: system-wide (uncore) events need privileges",
                            "run as root, grant CAP_PERFMON, or 'sysctl kernel.perf_event_paranoid=0'"))
    else:
        checks.append(Check("perf_event_paranoid", OK, f"{level}" + (" (running as root)" if root else "")))
    hw = [perf_mod.probe_event(e, "task", perf) for e in ("cycles", "instructions")]
    if all(p.usable for p in hw):
        checks.append(Check("hardware PMU", OK, "cycles and instructions count"))
    else:
        bad = next(p for p in hw if not p.usable)
        needs = ("bare metal, or a VM with a virtual PMU (KVM: -cpu host,pmu=on; cloud: a metal or PMU-enabled "
                 "instance type)") if cpu.hypervisor or bad.status == perf_mod.NOT_SUPPORTED else \
                "a kernel with this CPU's perf support"
        checks.append(Check("hardware PMU", MISSING, f"{bad.event}: {bad.reason}", needs))
    sw = perf_mod.probe_event("task-clock", "task", perf)
    checks.append(Check("software events", OK if sw.usable else MISSING,
                        "task-clock counts (CPU time of the kernel region)" if sw.usable else sw.reason))
    for quantity in event_set(cpu):
        if quantity.certain:
            continue
        results = []
        usable = False
        for choice in quantity.candidates:
            probes = [perf_mod.probe_event(e, choice.scope, perf) for e in choice.events]
            if all(p.usable for p in probes):
                results, usable = [f"{choice.label} ({choice.scope})"], True
                break
            bad = next(p for p in probes if not p.usable)
            results.append(f"{bad.event}: {bad.status}")
        checks.append(Check(f"event {quantity.name}", OK if usable else MISSING, "; ".join(results),
                            "" if usable else "a hardware PMU exposing this event (and perf tables that name it)"))
    return checks


def check_vtune(cpu: CpuInfo) -> list[Check]:
    path = vtune.find_vtune()
    checks = []
    if path:
        detail = path if cpu.vendor == "intel" else f"{path} (hardware events need an Intel CPU; this is {cpu.vendor_id})"
        checks.append(Check("VTune", OK if cpu.vendor == "intel" else LIMITED, detail))
    else:
        checks.append(Check("VTune", MISSING, "no 'vtune' on PATH",
                            "Intel oneAPI VTune Profiler (source vtune-vars.sh) on an Intel CPU"))
    module, why = itt_module()
    checks.append(Check("ittapi", OK if module else MISSING, "importable" if module else why,
                        "" if module else "pip install ittapi (scopes VTune to the kernel)"))
    return checks


def check_resctrl(root: str = resctrl.DEFAULT_ROOT) -> list[Check]:
    ok, why = resctrl.availability(root)
    if not ok:
        return [Check("resctrl", MISSING, why, "Intel RDT CAT or AMD PQoS hardware (usually bare metal), root, and "
                      "'mount -t resctrl resctrl /sys/fs/resctrl'")]
    info = resctrl.read_info(root)
    detail = f"{info.num_ways} L3 ways (cbm_mask {info.cbm_mask:#x}), domains {list(info.domains)}"
    checks = [Check("resctrl", OK, detail)]
    checks.append(Check("MBM", OK if info.mbm else MISSING,
                        "mbm_total_bytes available" if info.mbm else "no mbm_total_bytes monitoring",
                        "" if info.mbm else "a CPU with memory bandwidth monitoring"))
    return checks


def check_valgrind() -> list[Check]:
    path = cachegrind.find_valgrind()
    if not path:
        return [Check("valgrind", MISSING, "no 'valgrind' on PATH", "apt install valgrind (cachegrind backend)")]
    version = cachegrind.valgrind_version(path) or "unknown version"
    return [Check("valgrind", OK, f"{path} {version}: cachegrind backend works without a PMU")]


def check_cpu(cpu: CpuInfo) -> list[Check]:
    checks = [Check("CPU", OK if cpu.vendor != "other" else LIMITED, cpu.describe()
                    + (", under a hypervisor" if cpu.hypervisor else ""))]
    if cpu.caches:
        for level in cpu.caches:
            checks.append(Check(f"cache L{level.level}", OK, level.describe()))
    else:
        checks.append(Check("cache geometry", MISSING, "no /sys/devices/system/cpu/cpu0/cache tree",
                            "sysfs; pass --llc explicitly"))
    if cpu.has_avx512:
        checks.append(Check("AVX-512", LIMITED, "present; valgrind 3.19 cannot run it",
                            "the cachegrind backend compiles the kernel with NUMBA_CPU_NAME=generic"))
    return checks


def diagnose(cpu: CpuInfo | None = None) -> list[Check]:
    cpu = cpu or read_cpu_info()
    return check_cpu(cpu) + check_perf(cpu) + check_vtune(cpu) + check_resctrl() + check_valgrind()


def render(checks: list[Check]) -> str:
    width = max(len(c.item) for c in checks)
    lines = []
    for c in checks:
        mark = {OK: "ok     ", LIMITED: "limited", MISSING: "missing"}[c.status]
        lines.append(f"{mark}  {c.item.ljust(width)}  {c.detail}")
        if c.needs:
            lines.append(f"{' ' * 9}{' ' * width}  needs: {c.needs}")
    return "\n".join(lines) + "\n"
