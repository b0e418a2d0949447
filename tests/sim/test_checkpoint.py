"""sim.checkpoint: a Simulator (or MRC accumulator) saved mid-trace and restored into a fresh
one continues to exactly the counts of an uninterrupted run; other configurations, other
traces and foreign files are refused with one line."""

from __future__ import annotations

import io

import numpy as np
import pytest

from sim import checkpoint
from sim.checkpoint import (CheckpointError, CheckpointMismatch, load_simulator, read_checkpoint_arrays,
                            read_checkpoint_meta, restore_checkpoint)
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.mrc.stack import StackDistances
from sim.mrc.shards import ShardsRate, ShardsSize

TRACE = {"path": "/data/t.trace", "bytes": 123, "mtime_ns": 1}


def save_checkpoint(path, objects, **kwargs):
    """``sim.checkpoint.save_checkpoint`` into a file at ``path`` (the module takes a file object)."""
    with open(path, "wb") as handle:
        checkpoint.save_checkpoint(handle, objects, **kwargs)


def save_simulator(path, sim, **kwargs):
    with open(path, "wb") as handle:
        checkpoint.save_simulator(handle, sim, **kwargs)


def _trace(n=60_000, lines=3_000, seed=0, writes=True):
    rng = np.random.default_rng(seed)
    addrs = rng.integers(0, lines, n).astype(np.uint64) * np.uint64(64)
    if writes:
        addrs[rng.random(n) < 0.2] |= np.uint64(1 << 63)
    return addrs


def _arrays(sim):
    return {k: v.copy() for k, v in vars(sim).items() if isinstance(v, np.ndarray)}


CONFIGS = {
    "lru": dict(config=CacheConfig("64KB", 8)),
    "drrip-seeded": dict(config=CacheConfig("64KB", 8, policy="drrip", seed=7)),
    "random": dict(config=CacheConfig("32KB", 4, policy="random", seed=3)),
    "hierarchy-prefetch": dict(config=CacheConfig("128KB", 16), l1=CacheConfig("4KB", 4), l2=CacheConfig("16KB", 8),
                               prefetch=True, inclusive=True),
    "sampled": dict(config=CacheConfig("128KB", 8), sample_sets="1/4"),
    "threads": dict(config=CacheConfig("128KB", 8, policy="srrip"), threads=2),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("cut", [7_000, 33_333])  # inside the 20,000-access warm-up, and after it
def test_restored_run_equals_uninterrupted(tmp_path, name, cut):
    kwargs = CONFIGS[name]
    addrs = _trace()
    whole = Simulator(**kwargs, warmup=20_000)
    for part in np.array_split(addrs, 5):
        whole.feed(part)

    first = Simulator(**kwargs, warmup=20_000)
    first.feed(addrs[:cut])
    path = tmp_path / "sim.ckpt.npz"
    save_simulator(path, first, trace=TRACE)
    del first
    second = Simulator(**kwargs, warmup=20_000)
    load_simulator(path, second, trace=TRACE)
    assert second.fed == cut
    second.feed(addrs[cut:])

    assert second.result() == whole.result()
    for key, value in _arrays(whole).items():
        np.testing.assert_array_equal(getattr(second, key), value, err_msg=key)


def test_restore_copies_in_place_and_keeps_alignment(tmp_path):
    sim = Simulator(CacheConfig("64KB", 8))
    sim.feed(_trace(5000))
    save_simulator(tmp_path / "c.npz", sim, trace=TRACE)
    fresh = Simulator(CacheConfig("64KB", 8))
    before = {k: v.ctypes.data for k, v in vars(fresh).items() if isinstance(v, np.ndarray) and v.size}
    load_simulator(tmp_path / "c.npz", fresh, trace=TRACE)
    after = {k: v.ctypes.data for k, v in vars(fresh).items() if isinstance(v, np.ndarray) and v.size}
    assert before == after  # same buffers: the engine's 64-byte-aligned arrays stay aligned


def test_new_array_attributes_are_saved_generically(tmp_path):
    # the engine may add state arrays: every ndarray attribute travels, whatever its name
    sim = Simulator(CacheConfig("64KB", 8))
    sim._future_state = np.arange(10, dtype=np.int16)
    sim.feed(_trace(5000))
    sim._future_state[3] = -7
    save_simulator(tmp_path / "c.npz", sim, trace=TRACE)
    fresh = Simulator(CacheConfig("64KB", 8))
    fresh._future_state = np.zeros(10, dtype=np.int16)
    load_simulator(tmp_path / "c.npz", fresh, trace=TRACE)
    assert fresh._future_state[3] == -7

    missing = Simulator(CacheConfig("64KB", 8))
    with pytest.raises(CheckpointMismatch, match="_future_state"):
        load_simulator(tmp_path / "c.npz", missing, trace=TRACE)
    retyped = Simulator(CacheConfig("64KB", 8))
    retyped._future_state = np.zeros(10, dtype=np.int32)
    with pytest.raises(CheckpointMismatch, match="int16"):
        load_simulator(tmp_path / "c.npz", retyped, trace=TRACE)


@pytest.mark.parametrize("other, needle", [
    (dict(config=CacheConfig("128KB", 8)), "configuration"),
    (dict(config=CacheConfig("64KB", 8, policy="fifo")), "fifo"),
    (dict(config=CacheConfig("64KB", 8), warmup=10), "warmup"),
    (dict(config=CacheConfig("64KB", 8), sample_sets="1/2"), "sampled_sets"),
    (dict(config=CacheConfig("64KB", 8, seed=5)), "seed"),
    (dict(config=CacheConfig("64KB", 8), tag_bits=32), "tag_bits"),
    (dict(config=CacheConfig("64KB", 8), l1=CacheConfig("4KB", 4)), "levels"),
])
def test_other_configuration_is_refused_with_one_line(tmp_path, other, needle):
    sim = Simulator(CacheConfig("64KB", 8))
    sim.feed(_trace(5000))
    save_simulator(tmp_path / "c.npz", sim, trace=TRACE)
    with pytest.raises(CheckpointMismatch) as info:
        load_simulator(tmp_path / "c.npz", Simulator(**other), trace=TRACE)
    message = str(info.value)
    assert needle in message and "\n" not in message and "--resume" in message


def test_other_trace_is_refused(tmp_path):
    sim = Simulator(CacheConfig("64KB", 8))
    save_simulator(tmp_path / "c.npz", sim, trace=TRACE)
    with pytest.raises(CheckpointMismatch, match="another trace.*mtime_ns"):
        load_simulator(tmp_path / "c.npz", Simulator(CacheConfig("64KB", 8)), trace={**TRACE, "mtime_ns": 2})


def test_config_fingerprint_and_object_names_are_checked(tmp_path):
    a, b = Simulator(CacheConfig("64KB", 8)), Simulator(CacheConfig("128KB", 8))
    save_checkpoint(tmp_path / "c.npz", {"llc0": a, "llc1": b}, trace=TRACE, config={"chunk": 1})
    with pytest.raises(CheckpointMismatch, match="another configuration"):
        restore_checkpoint(tmp_path / "c.npz", {"llc0": a, "llc1": b}, trace=TRACE, config={"chunk": 2})
    with pytest.raises(CheckpointMismatch, match="llc0"):
        restore_checkpoint(tmp_path / "c.npz", {"llc0": a}, trace=TRACE, config={"chunk": 1})


def test_foreign_and_corrupted_files_are_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint_meta(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.arange(3))
    with pytest.raises(CheckpointError, match="not a sim-checkpoint file"):
        read_checkpoint_meta(plain)


def test_extra_data_and_arrays_round_trip(tmp_path):
    sim = Simulator(CacheConfig("64KB", 8))
    rows = [{"model": "dlrm", "cycles": 1.5, "ratio": float("inf"), "ok": True}]
    save_checkpoint(tmp_path / "c.npz", {"s": sim}, trace=TRACE, extra={"rows": rows, "batches_done": 3},
                    arrays={"curve.w": np.array([0.25, 0.5])})
    extra = restore_checkpoint(tmp_path / "c.npz", {"s": Simulator(CacheConfig("64KB", 8))}, trace=TRACE)
    assert extra == {"rows": rows, "batches_done": 3}
    np.testing.assert_array_equal(read_checkpoint_arrays(tmp_path / "c.npz")["curve.w"], [0.25, 0.5])


class _Unsaveable:
    def __init__(self):
        self.counts = np.zeros(3)
        self.callback = print  # neither an array, a scalar nor an object with attributes


def test_a_failed_capture_writes_nothing():
    # atomic replacement of the file is the caller's job; the module writes only once all
    # state is captured, so a failure leaves the caller's file untouched
    handle = io.BytesIO()
    with pytest.raises(CheckpointError, match="callback"):
        checkpoint.save_checkpoint(handle, {"sim": Simulator(CacheConfig("64KB", 8)), "odd": _Unsaveable()},
                                   trace=TRACE)
    assert handle.getvalue() == b""


def test_file_objects_round_trip():
    sim = Simulator(CacheConfig("64KB", 8))
    sim.feed(_trace(5000))
    handle = io.BytesIO()
    checkpoint.save_simulator(handle, sim, trace=TRACE, extra={"n": 1})
    handle.seek(0)
    fresh = Simulator(CacheConfig("64KB", 8))
    assert load_simulator(handle, fresh, trace=TRACE) == {"n": 1}
    assert fresh.result() == sim.result()


ACCUMULATORS = {
    "exact": lambda: StackDistances(line_bytes=64),
    "exact-sets": lambda: StackDistances(line_bytes=64, sets=8),
    "shards-rate": lambda: ShardsRate(0.25, line_bytes=64, seed=1),
    "shards-size": lambda: ShardsSize(300, line_bytes=64, seed=2),
}


@pytest.mark.parametrize("name", sorted(ACCUMULATORS))
def test_accumulators_resume_to_the_same_curve(tmp_path, name):
    make = ACCUMULATORS[name]
    addrs = _trace(80_000, lines=20_000, seed=4)  # grows the hash table and the time axis after the cut
    whole = make()
    whole.update(addrs)
    first = make()
    first.update(addrs[:9_000])
    save_checkpoint(tmp_path / "a.npz", {"acc": first}, trace=TRACE)
    second = make()
    restore_checkpoint(tmp_path / "a.npz", {"acc": second}, trace=TRACE)
    second.update(addrs[9_000:])
    a, b = whole.curve(), second.curve()
    assert (a.accesses, a.compulsory_misses, a.footprint_lines) == (b.accesses, b.compulsory_misses, b.footprint_lines)
    np.testing.assert_array_equal(a.reuse_weight, b.reuse_weight)
    np.testing.assert_array_equal(a.reuse_lo, b.reuse_lo)
