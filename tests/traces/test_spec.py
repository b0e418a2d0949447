"""TraceSpec: validation, the trace it builds, its argv round trip through the kernel runner's
parser, pickling, lookups after a warm-up; coerce_param's booleans."""

import pickle

import numpy as np
import pytest

from traces.spec import TraceSpec, coerce_param, format_param, parse_param_items
from traces.stream import model_trace
from traces.workloads import get_workload

SMALL = dict(workload="100,20", dim=16, batch_size=4, batches=3)


@pytest.mark.parametrize("fields, constraint", [
    (dict(model="nope"), "unknown model 'nope'"),
    (dict(batch_size=0), "batch_size=0: must be >= 1"),
    (dict(batches=0), "batches=0: must be >= 1"),
    (dict(dim=0), "dim=0: must be >= 1"),
    (dict(max_rows=0), "max_rows=0: must be >= 1"),
    (dict(seed=-1), "seed=-1: must be >= 0"),
    (dict(line_bytes=48), "line_bytes=48: must be a positive power of two"),
    (dict(alpha=-0.5), "alpha=-0.5: must be a finite number >= 0"),
    (dict(alpha=float("nan")), "must be a finite number >= 0"),
    (dict(batch_size=2.5), "batch_size=2.5: must be an integer"),
    (dict(workload="criteo-nope"), "not a preset"),
    (dict(workload="100,20", pooling="1,2,3"), "exactly 2"),
    (dict(model="memrec", params={"nope": 1}), "memrec has no parameter 'nope'"),
    (dict(model="memrec", params={"d": "many"}), "memrec.d=many: expected int"),
    (dict(model="memrec", params={"shared": "maybe"}), "memrec.shared=maybe: expected a boolean"),
])
def test_violated_constraints_are_value_errors_that_name_them(fields, constraint):
    with pytest.raises(ValueError, match=constraint.replace("(", r"\(").replace(".", r"\.")):
        TraceSpec(**fields)


def test_params_are_typed_and_sorted_whatever_form_they_come_in():
    spec = TraceSpec("memrec", params={"shared": "off", "d": "500", "l": "none"})
    assert spec.params == (("d", 500), ("l", None), ("shared", False))
    assert spec == TraceSpec("memrec", params=(("shared", False), ("l", None), ("d", 500)))
    assert TraceSpec("robe", params={"compression": "10"}).param_dict == {"compression": 10.0}


@pytest.mark.parametrize("text, value", [(w, True) for w in ("true", "1", "yes", "on", "TRUE", "On")]
                         + [(w, False) for w in ("false", "0", "no", "off", "False", "NO")])
def test_coerce_param_booleans(text, value):
    assert coerce_param("memrec", "shared", text) is value
    assert parse_param_items("memrec", [f"memrec.shared={text}"]) == {"shared": value}


def test_coerce_param_rejects_what_is_not_a_boolean_or_the_type():
    for text in ("2", "y", "", "truthy"):
        with pytest.raises(ValueError, match="expected a boolean"):
            coerce_param("memrec", "shared", text)
    with pytest.raises(ValueError, match="expected int"):
        coerce_param("memrec", "d", "1.5")
    with pytest.raises(ValueError, match="no parameter"):
        coerce_param("dlrm", "d", "1")


def test_format_param_reads_back_to_the_same_value():
    for model, field, value in (("memrec", "shared", False), ("memrec", "l", None), ("robe", "compression", 0.1),
                                ("memrec", "d", 12345), ("qr", "combine", "add")):
        assert coerce_param(model, field, format_param(value)) == value


def test_param_items_of_another_model_are_skipped():
    assert parse_param_items("memrec", ["robe.chunk=8", "d=7"]) == {"d": 7}
    with pytest.raises(ValueError, match="unknown model 'zz'"):
        parse_param_items("memrec", ["zz.d=1"])


def test_build_is_the_seeded_model_trace():
    spec = TraceSpec("memrec", seed=4, alpha=0.8, pooling="2", params={"d": 100}, **SMALL)
    expected = model_trace("memrec", get_workload("100,20", 16), batch_size=4, batches=3, seed=4, alpha=0.8,
                           pooling="2", d=100)
    assert np.array_equal(np.concatenate(list(spec.chunks())), np.concatenate(list(expected)))
    assert spec.build().header() == expected.header()


def test_max_rows_caps_every_table():
    assert TraceSpec("dlrm", workload="100,20", max_rows=30).workload_spec().cardinalities == (30, 20)


@pytest.mark.parametrize("spec", [
    TraceSpec("dlrm"),
    TraceSpec("memrec", workload="100,20,5", dim=8, batch_size=3, batches=7, seed=9, alpha=0.0, pooling="poisson:2",
              line_bytes=128, params={"d": 50, "shared": False, "l": 4}, max_rows=10),
    TraceSpec("robe", workload="criteo-kaggle", alpha=1.2345678901234567, params={"compression": 12.5}),
])
def test_to_argv_round_trips_through_the_kernel_runners_parser(spec):
    from memprof.hw import kernel_runner

    args = kernel_runner.parser().parse_args(spec.to_argv())
    assert kernel_runner.trace_spec(args) == spec


def test_pickles_to_an_equal_spec():
    spec = TraceSpec("memrec", params={"d": 50, "shared": False}, **SMALL)
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_lookups_after_a_warm_up_on_a_batch_boundary():
    # dlrm, dim 16: one 64-byte line per lookup; a batch = 4 samples x 2 features x bag 2 = 16 lookups = 16 lines
    spec = TraceSpec("dlrm", pooling="2", **SMALL)
    assert spec.lookups_after(0) == 4 * 3 * 2 * 2
    assert spec.lookups_after(16) == 4 * 2 * 2 * 2  # the first batch only warmed the cache
    assert spec.lookups_after(5) is None  # the warm-up ends inside the first batch
