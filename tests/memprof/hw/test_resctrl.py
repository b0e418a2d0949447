"""resctrl: way masks, a group's lifecycle and MBM on a fake tree built from the fixture."""

import os
import pytest

from memprof.hw import resctrl
from memprof.hw.resctrl import ResctrlError, ResctrlGroup, way_mask

MB = 1 << 20


@pytest.mark.parametrize("target_mb,ways", [(14, 7), (28, 14), (32, 16), (1, 1), (3, 2)])
def test_way_mask_rounds_up_whole_ways(target_mb, ways):
    # 32 MB, 16 ways -> 2 MB per way
    mask, granted = way_mask(target_mb * MB, 32 * MB, 0xFFFF)
    assert mask == (1 << ways) - 1
    assert granted == ways * 2 * MB


def test_way_mask_on_an_offset_contiguous_cbm_and_min_bits():
    mask, granted = way_mask(14 * MB, 28 * MB, 0x3FFF0, min_cbm_bits=2)  # 14 ways from bit 4
    assert mask == 0x7F << 4 and granted == 14 * MB
    mask, _ = way_mask(1 * MB, 28 * MB, 0x3FFF, min_cbm_bits=2)
    assert mask == 0x3


@pytest.mark.parametrize("target,cbm,match", [(64 * MB, 0xFFFF, "more than the whole LLC"),
                                              (14 * MB, 0xF0F, "not contiguous"), (0, 0xFFFF, "positive")])
def test_way_mask_errors(target, cbm, match):
    with pytest.raises(ValueError, match=match):
        way_mask(target, 32 * MB, cbm)


def test_availability_reasons(tmp_path):
    ok, why = resctrl.availability(tmp_path / "missing")
    assert not ok and "not mounted" in why
    (tmp_path / "empty").mkdir()
    ok, why = resctrl.availability(tmp_path / "empty")
    assert not ok and "schemata" in why


def test_read_info_from_fake_tree(fake_resctrl):
    info = resctrl.read_info(fake_resctrl)
    assert info.cbm_mask == 0xFFFF and info.num_ways == 16 and info.min_cbm_bits == 1
    assert info.domains == (0, 1) and info.mbm


def test_group_lifecycle_writes_schemata_tasks_and_is_removed(fake_resctrl):
    info = resctrl.read_info(fake_resctrl)
    with ResctrlGroup("memprof-test", 0x7F, info) as group:
        assert (fake_resctrl / "memprof-test" / "schemata").read_text() == "L3:0=7f;1=7f\n"
        group.add_pid(4242)
        assert (fake_resctrl / "memprof-test" / "tasks").read_text() == "4242\n"
    assert not (fake_resctrl / "memprof-test").exists()


def test_group_assigns_the_pid_on_entry(fake_resctrl):
    info = resctrl.read_info(fake_resctrl)
    with ResctrlGroup("memprof-pid", 0x3, info, pid=777) as group:
        assert (group.path / "tasks").read_text() == "777\n"
    assert not group.path.exists()
    with pytest.raises(ValueError, match="pid must be a positive integer"):
        ResctrlGroup("memprof-pid", 0x3, info, pid=0)


def test_a_refused_pid_removes_the_group(fake_resctrl, monkeypatch):
    info = resctrl.read_info(fake_resctrl)

    def refuse(self, pid):
        raise OSError(3, "No such process")

    monkeypatch.setattr(ResctrlGroup, "add_pid", refuse)
    with pytest.raises(ResctrlError, match="refused to move pid 4242"):
        with ResctrlGroup("memprof-gone", 0x3, info, pid=4242):
            pytest.fail("the body must not run")
    assert not (fake_resctrl / "memprof-gone").exists()


def test_llc_group_is_a_group_only_with_a_mask(fake_resctrl):
    info = resctrl.read_info(fake_resctrl)
    with resctrl.llc_group(None, info) as group:
        assert group is None
    with resctrl.llc_group(0x3, info, name="memprof-llc") as group:
        assert (fake_resctrl / "memprof-llc" / "schemata").read_text() == "L3:0=3;1=3\n"
    assert not (fake_resctrl / "memprof-llc").exists()
    with resctrl.llc_group(0x3, info) as group:
        assert group.path.name == f"memprof-{os.getpid()}"


def test_group_removed_on_ctrl_c(fake_resctrl):
    info = resctrl.read_info(fake_resctrl)
    with pytest.raises(KeyboardInterrupt):
        with ResctrlGroup("memprof-int", 0x3, info):
            raise KeyboardInterrupt
    assert not (fake_resctrl / "memprof-int").exists()


def test_group_refuses_existing_dir_and_bad_names(fake_resctrl):
    info = resctrl.read_info(fake_resctrl)
    (fake_resctrl / "taken").mkdir()
    with pytest.raises(ResctrlError, match="already exists"):
        ResctrlGroup("taken", 0x3, info).__enter__()
    assert (fake_resctrl / "taken").exists()  # not ours: left alone
    with pytest.raises(ValueError):
        ResctrlGroup("../evil", 0x3, info)


def test_mbm_sums_domains_and_reports_unavailable(fake_resctrl):
    info = resctrl.read_info(fake_resctrl)
    with ResctrlGroup("mbm", 0xF, info) as group:
        for dom, value in (("00", 1000), ("01", 2345)):
            d = group.path / "mon_data" / f"mon_L3_{dom}"
            d.mkdir(parents=True)
            (d / "mbm_total_bytes").write_text(f"{value}\n")
        assert group.mbm_total_bytes() == 3345
        (group.path / "mon_data" / "mon_L3_01" / "mbm_total_bytes").write_text("Unavailable\n")
        with pytest.raises(ValueError, match="Unavailable"):
            group.mbm_total_bytes()
    with pytest.raises(ValueError, match="no MBM"):
        resctrl.read_mbm_total_bytes(fake_resctrl / "nothing")


def test_schemata_domains():
    assert resctrl.parse_schemata_domains("MB:0=100\nL3:0=fff;1=fff;2=fff\n") == [0, 1, 2]
    with pytest.raises(ResctrlError):
        resctrl.parse_schemata_domains("MB:0=100\n")


REAL_OK, REAL_WHY = resctrl.availability()


@pytest.mark.hardware
@pytest.mark.skipif(not REAL_OK, reason=f"real resctrl unavailable: {REAL_WHY}")
def test_real_resctrl_group_roundtrip():
    info = resctrl.read_info()
    with ResctrlGroup(f"memprof-test-{os.getpid()}", info.cbm_mask & -info.cbm_mask, info) as group:
        assert group.path.exists()
    assert not group.path.exists()
