"""TraceSpec.to_argv read back by the CLI's own workload options (spec -> argv -> click -> spec),
and the CLI's --param booleans agreeing with the sweep's and the kernel runner's."""

import click
import pytest
from click.testing import CliRunner

from memprof.analysis.sweep import parse_axis
from memprof.cli.options import line_option, parse_model_params, workload_options, workload_opts
from traces.spec import TraceSpec, parse_param_items


def _parse(argv: list[str]) -> TraceSpec:
    captured = []

    @click.command()
    @click.option("--model", required=True)
    @workload_options
    @line_option
    def command(model, params, **kwargs):
        captured.append(workload_opts(kwargs, model, parse_model_params(params, [model])))

    result = CliRunner().invoke(command, argv)
    assert result.exit_code == 0, result.output
    return captured[0]


@pytest.mark.parametrize("spec", [
    TraceSpec("dlrm"),
    TraceSpec("memrec", workload="100,20,5", dim=8, batch_size=3, batches=7, seed=9, alpha=0.0, pooling="uniform:1-4",
              line_bytes=128, params={"d": 50, "shared": False, "l": 4}),
    TraceSpec("robe", workload="criteo-kaggle", alpha=1.2345678901234567, params={"compression": 12.5}),
    TraceSpec("qr", workload="avazu", pooling="poisson:3", params={"combine": "add"}),
    TraceSpec("hashing", workload="5000,300", batch_size=16, skew="meta-2021"),
])
def test_to_argv_round_trips_through_the_cli_options(spec):
    assert _parse(spec.to_argv()) == spec


def test_a_dataset_spec_round_trips(tmp_path):
    data = tmp_path / "lookups.npz"
    data.write_bytes(b"")  # --data only needs an existing file to parse
    spec = TraceSpec("dlrm", workload="100,20", data=str(data), batches=2)
    assert _parse(spec.to_argv()) == spec


@pytest.mark.parametrize("text, value", [("yes", True), ("on", True), ("1", True), ("true", True),
                                         ("no", False), ("off", False), ("0", False), ("false", False)])
def test_booleans_mean_the_same_in_cli_sweep_and_child_argv(text, value):
    assert parse_model_params([f"memrec.shared={text}"], ["memrec"])["memrec"]["shared"] is value
    (axis,) = parse_axis(f"memrec.shared={text}", ["dlrm", "memrec"])
    assert axis.values == (value,)
    assert parse_param_items("memrec", [f"shared={text}"]) == {"shared": value}


def test_a_bad_boolean_is_a_usage_error_everywhere():
    with pytest.raises(click.BadParameter, match="expected a boolean"):
        parse_model_params(["memrec.shared=maybe"], ["memrec"])
    with pytest.raises(ValueError, match="expected a boolean"):
        parse_axis("memrec.shared=maybe", ["dlrm", "memrec"])
    with pytest.raises(ValueError, match="expected a boolean"):
        parse_param_items("memrec", ["shared=maybe"])
