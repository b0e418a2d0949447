"""The child entry point, the address remapping and the DLRM full-kernel trace, on small inputs."""

import json

import numpy as np
import pytest

pytest.importorskip("traces.representations")

from memprof.hw import kernel_runner
from memprof.hw.cachegrind_compare import dlrm_kernel_trace, regions_aligned, remap
from memprof.hw.runspec import RunSpec
from traces.spec import TraceSpec
from traces.batch import Batch


def test_runner_reports_region_and_addresses(tmp_path):
    out = tmp_path / "r.json"
    rc = kernel_runner.main(["--model", "dlrm", "--workload", "1000,300", "--dim", "16", "--batch-size", "8",
                             "--batches", "3", "--alpha", "0", "--result", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    assert result["lookups"] == 2 * 8 * 3  # two one-hot features, 8 samples, 3 batches
    assert result["samples"] == 24
    assert result["region_wall_ns"] > 0
    assert result["weights_addr"] % 4096 == 0  # page-aligned table buffer
    regions = result["regions"]
    assert [r["nbytes"] for r in regions] == [1000 * 16 * 4, 300 * 16 * 4]
    assert regions[1]["real_addr"] - regions[0]["real_addr"] == 1000 * 16 * 4
    assert regions_aligned(regions, 64)
    assert len(result["arrays"]) == 3 and result["mbm_status"] == "not requested"


def test_runner_rejects_unknown_parameter(capsys):
    assert kernel_runner.main(["--model", "dlrm", "--workload", "10", "--param", "nope=1"]) == 2
    assert "no parameter 'nope'" in capsys.readouterr().err


def test_batches_file_roundtrip(tmp_path):
    batches = [Batch(np.array([1, 2, 3], dtype=np.int64), np.array([0, 1, 3], dtype=np.int64), 1, 2)]
    kernel_runner.save_batches(tmp_path / "b.npz", batches)
    (back,) = kernel_runner.load_batches(tmp_path / "b.npz")
    assert back.indices.tolist() == [1, 2, 3] and back.offsets.tolist() == [0, 1, 3] and back.batch_size == 2


def test_aligned_empty():
    for n in (1, 7, 1000):
        assert kernel_runner.aligned_empty(n).ctypes.data % 4096 == 0


def test_remap_maps_each_region_onto_its_real_base():
    regions = [{"base_addr": 1 << 32, "nbytes": 8192, "real_addr": 0x7000_0000},
               {"base_addr": (1 << 32) + 8192, "nbytes": 128, "real_addr": 0x7000_2000}]
    virt = np.array([(1 << 32), (1 << 32) + 4160, (1 << 32) + 8192 + 64], dtype=np.uint64)
    assert remap(virt, regions).tolist() == [0x7000_0000, 0x7000_0000 + 4160, 0x7000_2000 + 64]
    with pytest.raises(ValueError):
        remap(np.array([5], dtype=np.uint64), regions)


def test_dlrm_kernel_trace_order_on_a_hand_built_batch():
    # one feature, two samples: bag 0 = [token a], bag 1 = empty, rows of 2 lines (dim 32)
    batch = Batch(np.array([7], dtype=np.int64), np.array([0, 1, 1], dtype=np.int64), 1, 2)
    table_lines = np.array([1000 * 64, 1001 * 64], dtype=np.uint64)
    arrays = {"offsets_addr": 64 * 10, "indices_addr": 64 * 20, "out_addr": 64 * 30}
    trace = dlrm_kernel_trace(table_lines, batch, arrays, dim=32)
    expected = [640, 640,            # offsets[0], offsets[1] (same line)
                1280,                # indices[0]
                1920, 64000,         # out row 0 line 0, table line 0
                1984, 64064,         # out row 0 line 1, table line 1
                640, 640]            # bag 1: offsets[1], offsets[2]; no lookups
    assert trace.tolist() == expected


def test_runspec_validation_and_argv():
    with pytest.raises(ValueError, match="warmup"):
        RunSpec(TraceSpec(model="dlrm"), warmup=-1)
    argv = RunSpec(TraceSpec(model="memrec", params=(("d", 100),), max_rows=5)).runner_argv(result="r.json",
                                                                                            flush_bytes=64)
    assert argv[1:3] == ["-m", "memprof.hw.kernel_runner"]
    assert argv[argv.index("--param") + 1] == "memrec.d=100" and argv[argv.index("--max-rows") + 1] == "5"
    assert argv[argv.index("--flush-bytes") + 1] == "64"


def test_runner_fails_fast_when_perf_is_gone(monkeypatch, capsys, tmp_path):
    ctl, ack = tmp_path / "ctl", tmp_path / "ack"
    import os

    os.mkfifo(ctl)
    os.mkfifo(ack)  # FIFOs exist but no perf holds them: must not block
    monkeypatch.setenv("MEMPROF_PERF_CONTROL", f"{ctl},{ack}")
    rc = kernel_runner.main(["--model", "dlrm", "--workload", "100", "--dim", "16", "--batch-size", "2",
                             "--batches", "1"])
    assert rc == 3
    assert "no perf is reading" in capsys.readouterr().err
