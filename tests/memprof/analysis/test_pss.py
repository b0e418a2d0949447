"""The PSS Table 2 reproduction: its shape, the budget cap, the published values beside ours,
the plots, and ``memprof reproduce --table pss`` (no timing assertions: only that times exist)."""

import json
import math

import pytest
from click.testing import CliRunner

from memprof.analysis import pss
from memprof.cli.main import main
from memprof.report.pss_plot import panel_plot

TINY = dict(rows=(1 << 22,), compressions=(10, 10000), chunks=(32,), chunk=32, chunk_compression=10000,
            batch_size=64, repeats=1)


def test_cell_bytes_by_hand():
    # 4M = 4,194,304 rows x 128 floats / 10 = 53,687,091.2 -> 53,687,092 floats; memory + gradient
    assert pss.cell_bytes(1 << 22, 128, 10, 32) == 2 * 4 * 53_687_092
    assert pss.robe_floats(100, 4, 1000, 32) == 32  # at least one chunk


def test_published_values_are_the_papers():
    # spot checks typed from the paper's Table 2 (seeds/002)
    assert pss.PUBLISHED["a"][10][0] == 0.40
    assert pss.PUBLISHED["b"][10][5] == 69.73
    assert pss.PUBLISHED["c"][10000][2] == 2.45
    assert pss.PUBLISHED["f"][1][6] == 4.00
    # its panels (d), (e) at Z = 32 repeat (a), (b) at 100x (so they were run at 100x), within 0.03
    # (the sparse panels (c), (f) are noisier)
    for chunk_panel, comp_panel in (("d", "a"), ("e", "b")):
        pairs = zip(pss.PUBLISHED[chunk_panel][32], pss.PUBLISHED[comp_panel][100])
        assert all(abs(x - y) <= 0.03 + 1e-9 for x, y in pairs)


def test_table_shape_budget_cap_and_published_beside():
    budget = pss.cell_bytes(1 << 22, 128, 10, 32) - 1  # 10x does not fit, 10^4x does
    frame, meta = pss.pss_table(pss.PssConfig(budget_bytes=budget, **TINY))
    assert list(frame.columns) == list(pss.PSS_COLUMNS)
    assert set(frame["panel"]) == set("abcdef")
    over = frame[frame["compression"] == 10]
    assert len(over) == 3 and (over["status"] == "over the memory budget").all()
    assert over["measured_ms_per_iteration"].str.startswith("unavailable (needs 0.40 GiB").all()
    fits = frame[frame["compression"] == 10000]
    values = fits["measured_ms_per_iteration"].tolist()
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in values)
    a10 = frame[(frame["panel"] == "a") & (frame["compression"] == 10)]
    assert a10["published_gpu"].tolist() == [0.40]
    assert "Table 2" in meta["source"]
    grids = pss.grids_markdown(frame, meta)
    assert "## (a) forward" in grids and "unavailable (budget) (0.40)" in grids
    assert panel_plot(frame, "b")[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_config_is_a_value_error():
    with pytest.raises(ValueError, match="4M .. 256M"):
        pss.PssConfig(rows=(1000,))


def _fake_cell(rows, compression, chunk, config):
    return {"forward": 1.0, "backward_dense": 2.0, "backward_sparse": 3.0}


def _fake_model(rows, compression, chunk, config):
    return {"forward": 4.0, "backward_dense": 5.0, "backward_sparse": 6.0}


def test_reproduce_table_pss_writes_its_files(tmp_path, monkeypatch):
    monkeypatch.setattr(pss, "measure_cell", _fake_cell)
    monkeypatch.setattr(pss, "model_cell", _fake_model)
    out = tmp_path / "pss"
    result = CliRunner().invoke(main, ["reproduce", "--table", "pss", "--pss-rows", "4M,256M", "--budget", "1GiB",
                                       "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["metadata.json", "pss.csv", "pss.json", "pss.md"] + [f"pss_{p}.png" for p in "abcdef"])
    doc = json.loads((out / "pss.json").read_text())
    assert doc["schema"] == "memprof.pss/1"
    big = [r for r in doc["rows"] if r["rows"] == 1 << 28 and r["compression"] == 10]
    assert big and all(r["measured_ms_per_iteration"].startswith("unavailable") for r in big)
    assert "| 10x | 1.000 / 4.000 (0.40) |" in result.output  # measured / modelled (published)


@pytest.mark.parametrize("args,word", [(["--table", "pss", "--llc", "14MB"], "--llc does not apply"),
                                      (["--budget", "1GiB"], "applies to --table pss only"),
                                      (["--table", "pss", "--pss-rows", "5M"], "--pss-rows"),
                                      (["--table", "pss", "--budget", "lots"], "--budget")])
def test_reproduce_pss_bad_input_exits_2(tmp_path, args, word):
    result = CliRunner().invoke(main, ["reproduce", *args, "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and word in result.output


def test_the_modelled_column_prices_the_dense_update_of_a_larger_memory_higher():
    # Dense gradients zero and scatter into a buffer the size of ROBE's memory: at 1000x a 4M x 128
    # table keeps 524,288 floats (2 MiB), at 10^4x 52,429 (205 KiB): more lines, more modelled time.
    config = pss.PssConfig(rows=(1 << 22,), compressions=(1000, 10000), chunks=(32,), batch_size=256, repeats=1,
                           budget_bytes=1 << 30, cpu="icx")
    frame, meta = pss.pss_table(config)
    dense = frame[frame["panel"] == "b"].set_index("compression")["modelled_ms_per_iteration"]
    assert all(isinstance(v, float) and v > 0 for v in dense)
    assert dense[1000] > dense[10000]
    assert "icx preset" in meta["modelled"]
    assert " / " in pss.grids_markdown(frame, meta)
