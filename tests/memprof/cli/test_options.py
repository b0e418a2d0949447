"""The shared options: one default per concept in every command, options that do not apply
to the chosen mode refused by name, and --l1/--l2/--prefetch acting on a workload analysis."""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.cli.main import main

# A workload small enough to simulate in a moment, with reuse beyond a few KB.
SMALL = ["--workload", "5000,300,70,20000", "--dim", "16", "--batch-size", "32", "--batches", "4", "--no-progress"]
# Enough distinct lines (about 1 MB) to overflow a 64 KB LLC while the preset's 1.25 MB L2 keeps them.
MEDIUM = ["--workload", "5000,300,70,20000", "--dim", "64", "--batch-size", "256", "--batches", "4", "--no-progress"]


@pytest.fixture(scope="module")
def npy_trace(tmp_path_factory):
    rng = np.random.default_rng(7)
    addrs = rng.zipf(1.3, 40_000).astype(np.uint64) % np.uint64(6000) * np.uint64(64)
    path = tmp_path_factory.mktemp("trace") / "t.npy"
    np.save(path, addrs)
    return str(path)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def csv_rows(result) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout))


def refused(result, option: str):
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output


# -- inapplicable options are refused, naming the option ---------------------------------------

@pytest.mark.parametrize("args,option", [
    (["--model", "memrec"], "--model"),
    (["--workload", "100,10"], "--workload"),
    (["--seed", "3"], "--seed"),
    (["--batches", "5"], "--batches"),
    (["--cpu", "icx"], "--cpu"),
    (["--timing", "fill_buffers=4"], "--timing"),
    (["--private-levels"], "--private-levels"),
    (["--l1-ways", "4"], "--l1-ways"),
    (["--l1", "4KB", "--sample-sets", "1/4"], "--sample-sets"),
    (["--all-columns"], "--all-columns"),
])
def test_simulate_trace_refuses_workload_options(npy_trace, args, option):
    refused(run("simulate", "--trace", npy_trace, "--llc", "64KB", *args), option)


@pytest.mark.parametrize("args,option", [
    (["--l1-ways", "4"], "--l1-ways"),
    (["--l2-policy", "fifo"], "--l2-policy"),
    (["--sample-sets", "1/4"], "--sample-sets"),  # the preset's private levels are on by default
    (["--no-private-levels", "--l2", "256KB"], "--l2"),
    (["--warmup", "5000"], "--warmup"),
])
def test_simulate_workload_refuses_inapplicable_cache_options(args, option):
    refused(run("simulate", "--llc", "64KB", *SMALL, *args), option)


@pytest.mark.parametrize("args,option", [
    (["--cpu", "icx"], "--cpu"),
    (["--alpha", "0.5"], "--alpha"),
    (["--seed", "2"], "--seed"),
    (["--private-levels"], "--private-levels"),
])
def test_sweep_trace_refuses_workload_options(npy_trace, args, option):
    refused(run("sweep", "--trace", npy_trace, "--llc", "64KB", "--no-progress", *args), option)


def test_sweep_workload_refuses_trace_options():
    refused(run("sweep", "--param", "alpha=1", "--window-warmup", "1k", *SMALL), "--window-warmup")


def test_reproduce_refuses_inapplicable_cache_options(tmp_path):
    refused(run("reproduce", "-o", tmp_path, "--l2-ways", "4", *SMALL), "--l2-ways")
    refused(run("reproduce", "-o", tmp_path, "--sample-sets", "1/4", *SMALL), "--sample-sets")


def test_mrc_trace_refuses_workload_options(npy_trace):
    refused(run("mrc", "--trace", npy_trace, "--seed", "3"), "--seed")
    refused(run("mrc", "--trace", npy_trace, "--batch-size", "8"), "--batch-size")


def test_simulate_partitioned_refuses_inapplicable_options(npy_trace):
    refused(run("simulate-partitioned", "--trace", npy_trace, "--llc", "64KB", "--partitions", "2",
                "--alpha", "0.5"), "--alpha")
    refused(run("simulate-partitioned", "--trace", npy_trace, "--llc", "64KB", "--partitions", "2",
                "--l2-ways", "4"), "--l2-ways")


def test_commands_without_a_cache_refuse_cache_options(tmp_path):
    refused(run("trace", "--llc", "1MB", "-o", tmp_path / "x.trace", *SMALL[:-1]), "--llc")
    refused(run("bench", "--llc", "1MB"), "--llc")  # (bench's --threads is the kernels' thread count)


# -- one default per concept --------------------------------------------------------------------

def _defaults(command: str) -> dict:
    return {p.name: p.default for p in main.commands[command].params}


def test_one_default_per_concept_across_commands():
    analysis = [_defaults(c) for c in ("simulate", "sweep", "reproduce")]
    for defaults in analysis:
        assert defaults["batches"] == 100  # the one --batches default
        assert defaults["threads"] == (os.cpu_count() or 1)
        assert defaults["inclusive"] is False and defaults["cache_seed"] == 0 and defaults["seed"] == 0
    assert _defaults("simulate-partitioned")["inclusive"] is False
    for command in ("simulate", "sweep", "reproduce", "simulate-partitioned"):
        policy = next(p for p in main.commands[command].params if p.name == "policy")
        assert policy.type.case_sensitive is False and "drrip" in policy.type.choices


def test_policy_is_a_checked_case_insensitive_choice(npy_trace):
    upper = csv_rows(run("simulate", "--trace", npy_trace, "--llc", "64KB", "--policy", "FIFO", "--format", "csv"))
    lower = csv_rows(run("simulate", "--trace", npy_trace, "--llc", "64KB", "--policy", "fifo", "--format", "csv"))
    assert upper["llc_misses"].tolist() == lower["llc_misses"].tolist()
    refused(run("sweep", "--param", "alpha=1", "--policy", "nosuch", *SMALL), "--policy")


def test_trace_mode_llc_is_non_inclusive_unless_asked(npy_trace):
    # L2 (32KB) ~ LLC (64KB): an inclusive LLC back-invalidates L2 copies of its victims, so the
    # L2 hits differ; the default must equal --no-inclusive.
    base = ["simulate", "--trace", npy_trace, "--llc", "64KB", "--l2", "32KB", "--format", "csv"]
    default, non_inclusive, inclusive = (csv_rows(run(*base, *extra)).iloc[0]
                                         for extra in ([], ["--no-inclusive"], ["--inclusive"]))
    assert default["l2_hits"] == non_inclusive["l2_hits"]
    assert inclusive["l2_hits"] != non_inclusive["l2_hits"]


def test_workload_mode_llc_is_non_inclusive_unless_asked():
    # The preset's L2 (1.25 MB) outgrows this LLC: an inclusive LLC back-invalidates the L2 copies
    # of its victims, so lines the L2 would have kept miss there again: more LLC accesses.
    base = ["simulate", "--llc", "64KB", "--model", "dlrm", "--format", "csv", *MEDIUM]
    default, non_inclusive, inclusive = (csv_rows(run(*base, *extra)).set_index("model").loc["dlrm"]
                                         for extra in ([], ["--no-inclusive"], ["--inclusive"]))
    assert default["llc_accesses"] == non_inclusive["llc_accesses"]
    assert inclusive["llc_accesses"] > non_inclusive["llc_accesses"]


def test_cache_seed_seeds_the_policy_and_seed_is_refused_on_a_trace(npy_trace):
    base = ["simulate", "--trace", npy_trace, "--llc", "64KB", "--policy", "random", "--format", "csv"]
    first = csv_rows(run(*base, "--cache-seed", "0")).iloc[0]
    again = csv_rows(run(*base)).iloc[0]
    other = csv_rows(run(*base, "--cache-seed", "1")).iloc[0]
    assert first["llc_misses"] == again["llc_misses"]  # the default cache seed is 0
    assert other["llc_misses"] != first["llc_misses"]
    refused(run(*base, "--seed", "1"), "--seed")  # a trace has no token generator: --seed never seeds the policy


def test_workload_seed_and_cache_seed_are_separate_streams():
    base = ["simulate", "--llc", "64KB", "--model", "dlrm", "--policy", "random", "--no-private-levels",
            "--format", "csv", *MEDIUM]
    first = csv_rows(run(*base)).set_index("model").loc["dlrm"]
    cache = csv_rows(run(*base, "--cache-seed", "5")).set_index("model").loc["dlrm"]
    tokens = csv_rows(run(*base, "--seed", "5")).set_index("model").loc["dlrm"]
    # the cache seed changes only the replacement choices: same accesses, other misses
    assert cache["accesses"] == first["accesses"] and cache["llc_misses"] != first["llc_misses"]
    # the workload seed changes the tokens drawn, hence the lookups' addresses
    assert tokens["llc_misses"] != first["llc_misses"]


# -- one hierarchy in every command -------------------------------------------------------------

def test_simulate_and_reproduce_give_the_same_rows(tmp_path):
    from memprof.analysis.reproduce import MEMREC_PAPER_PARAMS

    params = [a for k, v in MEMREC_PAPER_PARAMS.items() for a in ("--param", f"memrec.{k}={v}")]
    sizes = ["--llc", "64KB,56MB"]  # 64KB: the LLC evicts, so the hierarchy's defaults all matter
    simulated = csv_rows(run("simulate", "--model", "memrec", *params, *sizes, "--format", "csv", *MEDIUM))
    result = run("reproduce", "-o", tmp_path, *sizes, *MEDIUM)
    assert result.exit_code == 0, result.output
    reproduced = pd.read_csv(tmp_path / "results.csv")
    columns = ["llc_accesses", "llc_hits", "llc_misses", "dram_read_bytes", "cycles"]
    for size in (64 << 10, 56 << 20):
        for model in ("dlrm", "memrec"):
            a = simulated[(simulated["llc_bytes"] == size) & (simulated["model"] == model)][columns]
            b = reproduced[(reproduced["llc_bytes"] == size) & (reproduced["model"] == model)][columns]
            assert len(a) == len(b) == 1
            assert a.iloc[0].tolist() == b.iloc[0].tolist(), (size, model)


def test_l2_replaces_the_preset_level_on_a_workload():
    from sim.timing.presets import get_preset

    # A direct-mapped L2 with the preset L2's set count: under LRU every hit of the 1-way L2 is a
    # hit of the preset's 20-way one on the same stream (the stack property), so it misses more,
    # and each L2 miss is one more LLC access.
    l2 = get_preset("icx").l2
    direct = l2.sets * 64
    base = ["simulate", "--llc", "1MB", "--model", "dlrm", "--cpu", "icx", "--format", "csv", *MEDIUM]
    preset = csv_rows(run(*base)).set_index("model").loc["dlrm"]
    small = csv_rows(run(*base, "--l2", direct, "--l2-ways", "1")).set_index("model").loc["dlrm"]
    assert small["accesses"] == preset["accesses"]
    assert small["llc_accesses"] > preset["llc_accesses"]


def test_prefetch_reaches_the_workload_simulator():
    base = ["simulate", "--llc", "64KB", "--model", "dlrm", "--format", "csv", *SMALL]
    plain = csv_rows(run(*base)).set_index("model").loc["dlrm"]
    fetched = csv_rows(run(*base, "--prefetch")).set_index("model").loc["dlrm"]
    assert fetched["prefetch_fills"] > 0
    assert plain.get("prefetch_fills", 0) == 0
