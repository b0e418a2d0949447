"""``memprof validate --cores N``: both modes measured and predicted on a tiny point, and the
options it refuses in one line."""

from click.testing import CliRunner

from memprof.analysis.validate_cores import CORES_VALIDATE_COLUMNS, _ring, run_validate_cores
from memprof.cli.main import main
from traces.spec import TraceSpec

TINY = TraceSpec("dlrm", "2000,2000", dim=16, batch_size=16, seed=3, alpha=1.05)


def test_each_core_reads_its_own_batches_of_one_seeded_stream():
    # core c of the processes mode loops over batches c*B .. c*B+B-1 (the prediction's order)
    a, b = _ring(TINY, 0, 4), _ring(TINY, 2, 2)
    assert all((x.indices == y.indices).all() for x, y in zip(a[2:], b))


def test_both_modes_are_measured_and_predicted():
    frame = run_validate_cores([TINY], 2, batches=2, repeat=1)
    assert list(frame.columns) == list(CORES_VALIDATE_COLUMNS)
    assert sorted(frame["mode"]) == ["processes", "threads"]
    assert dict(zip(frame["mode"], frame["tables"])) == {"processes": "private", "threads": "shared"}
    for column in ("measured_ns_per_lookup_per_core", "predicted_ns_per_lookup_per_core",
                   "measured_one_core_ns_per_lookup", "predicted_one_core_ns_per_lookup"):
        assert (frame[column] > 0).all(), column


def test_cores_beyond_the_machine_or_with_threads_are_refused():
    too_many = CliRunner().invoke(main, ["validate", "--cores", "4096"])
    assert too_many.exit_code == 2 and "CPUs" in too_many.output and "Traceback" not in too_many.output
    both = CliRunner().invoke(main, ["validate", "--cores", "2", "--threads", "2"])
    assert both.exit_code == 2 and "--threads" in both.output
