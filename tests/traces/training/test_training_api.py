"""Operation counts per phase (hand-derived), the radix sort of unique ids, and the phase
carried by TraceSpec / ModelTrace / the CLI."""

import numpy as np
import pytest
from click.testing import CliRunner

from sim.access import WRITE_FLAG
from traces.representations import build
from traces.spec import TraceSpec
from traces.training.kernels import radix_order
from traces.workloads import get_workload

WL = get_workload("1000,50", dim=16)


def test_dlrm_op_counts_per_phase_by_hand():
    rep = build("dlrm", WL)
    fwd = rep.op_counts()
    assert fwd.ops == {"lookups": 1.0, "divmods": 1.0, "rows": 1.0, "adds": 16.0} and fwd.per_batch == {}
    back = rep.op_counts("backward", "sparse", "sgd")  # + one loop step for the unique rows
    assert back.plain_ops == {"lookups": 2.0, "divmods": 1.0, "rows": 1.0, "adds": 16.0}
    train = rep.op_counts("train", "sparse", "adagrad")  # forward + backward + 2 fmas/float + 1 divmod/row
    assert train.plain_ops == {"lookups": 3.0, "divmods": 3.0, "rows": 2.0, "adds": 32.0, "fmas": 32.0}
    dense = rep.op_counts("train", "dense", "sgd")  # per batch: zero 1050 x 16 floats, update each once
    assert dense.per_batch == {"adds": 16800.0, "fmas": 16800.0} and dense.phase == "train"


def test_unknown_phase_in_op_counts():
    with pytest.raises(ValueError, match="unknown phase 'infer'; known: forward, backward, train"):
        build("dlrm", WL).op_counts("infer")


def test_radix_order_is_a_stable_argsort():
    ids = np.random.default_rng(3).integers(0, 1 << 40, 5000)
    ids[::7] = ids[0]  # ties keep their order
    assert np.array_equal(radix_order(ids), np.argsort(ids, kind="stable"))
    assert radix_order(np.zeros(0, dtype=np.int64)).size == 0


def test_trace_spec_carries_the_phase():
    with pytest.raises(ValueError, match="unknown phase"):
        TraceSpec(workload="1000,50", phase="inference")
    with pytest.raises(ValueError, match="unknown optimizer"):
        TraceSpec(workload="1000,50", optimizer="adam")
    forward = TraceSpec(workload="1000,50", dim=16, batch_size=8, batches=2)
    assert "phase" not in forward.describe() and "--phase" not in forward.to_argv()
    spec = TraceSpec(workload="1000,50", dim=16, batch_size=8, batches=2, phase="train", grad="dense")
    trace = spec.build()
    chunks = np.concatenate(list(trace))
    writes = int(np.count_nonzero(chunks >= WRITE_FLAG))
    assert writes > 0 and trace.header()["phase"] == "train"
    assert "grad_table_0" in [r["name"] for r in trace.header()["regions"]]
    assert spec.describe()["phase"] == "train"
    argv = spec.to_argv()
    assert argv[argv.index("--phase") + 1] == "train" and argv[argv.index("--grad") + 1] == "dense"
    assert spec.lookups_after(0) == trace.lookups


def test_cli_trace_phase(tmp_path):
    from memprof.cli.main import main
    from traces.format.tracefile import TraceReader

    out = tmp_path / "t.trace"
    args = ["trace", "--workload", "1000,50", "--dim", "16", "--batch-size", "8", "--batches", "2", "--model", "robe",
            "--param", "robe.size_floats=997", "--phase", "train", "--optimizer", "adagrad", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    header = TraceReader(out).header
    assert header["phase"] == "train" and header["optimizer"] == "adagrad"
    bad = CliRunner().invoke(main, ["trace", "--phase", "inference", "-o", str(out)])
    assert bad.exit_code == 2 and "forward" in bad.output and "train" in bad.output
