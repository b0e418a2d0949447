"""cachegrind geometry checks, argv and output parsing."""

from pathlib import Path

import pytest

from memprof.hw.cachegrind import (CachegrindFormatError, build_argv, check_geometry, parse_file, parse_text)

FIX = Path(__file__).parents[2] / "fixtures" / "cachegrind"
MB = 1 << 20


@pytest.mark.parametrize("size_mb,sets", [(14, 16384), (28, 32768), (56, 65536)])
def test_fourteen_way_makes_paper_sizes_legal(size_mb, sets):
    assert check_geometry(size_mb * MB, 14, 64) == sets


@pytest.mark.parametrize("size,ways,line,match", [
    (56 * MB, 16, 64, "power-of-two number of sets: .* = 57344 sets; 14-way gives 65536 sets"),
    (14 * MB, 16, 64, "14-way gives 16384"),
    (32 * MB, 16, 48, "power-of-two line"),
    (1000, 3, 64, "whole number"),
])
def test_illegal_geometries_are_refused_with_the_reason(size, ways, line, match):
    with pytest.raises(ValueError, match=match):
        check_geometry(size, ways, line)


def test_argv():
    argv = build_argv(["python", "-m", "x"], out_file="/tmp/cg.out", ll=(14 * MB, 14, 64), d1=(32768, 8, 64))
    assert argv[:4] == ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--cachegrind-out-file=/tmp/cg.out"]
    assert "--LL=14680064,14,64" in argv and "--D1=32768,8,64" in argv
    assert argv[-3:] == ["python", "-m", "x"]
    with pytest.raises(ValueError):
        build_argv(["x"], out_file="o", ll=(56 * MB, 16, 64))


def test_captured_output_functions_sum_to_summary():
    result = parse_file(FIX / "local_true.out")
    assert result.events == ("Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw")
    assert result.desc["LL cache"].startswith("1835008 B, 64 B, 14-way")
    for event in result.events:  # cachegrind's own summary line is the independent check
        assert sum(c[event] for c in result.functions.values()) == result.summary[event]
    assert result.ll_misses()["ll_misses"] == 1013 + 311 + 1072


def test_handmade_unknown_functions_and_short_lines():
    result = parse_file(FIX / "handmade.out")
    kernel = result.function_totals("???")
    # two '???' blocks in fl=??? plus one in a named library; short lines padded with zeros
    assert kernel["Ir"] == 1000 + 10 + 5
    assert kernel["DLmr"] == 200 + 1 + 1
    assert kernel["DLmw"] == 1
    assert result.functions[("/usr/lib/python3.11/Objects/obmalloc.c", "_PyObject_Malloc")]["Ir"] == 520
    for event in result.events:
        assert sum(c[event] for c in result.functions.values()) == result.summary[event]


def test_truncated_and_invalid_files():
    with pytest.raises(CachegrindFormatError, match="no 'summary:'"):
        parse_file(FIX / "truncated.out")
    with pytest.raises(CachegrindFormatError, match="summary: before the events"):
        parse_text("summary: 1 2\n")
    with pytest.raises(CachegrindFormatError, match="no 'events:'"):
        parse_text("desc: I1 cache: 1\n")
    with pytest.raises(CachegrindFormatError, match="integers"):
        parse_text("events: Ir\nfl=a\nfn=b\n1 x\nsummary: 1\n")
    with pytest.raises(CachegrindFormatError, match="2 counts for 1 events"):
        parse_text("events: Ir\nfl=a\nfn=b\n1 2 3\nsummary: 1\n")
