"""memprof doctor: one screen, every piece either ok or with what it would need."""

from click.testing import CliRunner

from memprof.cli.main import main
from memprof.hw import doctor
from memprof.hw.host import CpuInfo


def test_doctor_screen_covers_every_piece():
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for item in ("CPU", "perf", "hardware PMU", "VTune", "ittapi", "resctrl", "valgrind"):
        assert any(line.split()[1:2] and item in line for line in text.splitlines()), item
    lines = text.splitlines()
    for i, line in enumerate(lines):  # every missing piece says what it would need
        if line.startswith("missing"):
            assert lines[i + 1].strip().startswith("needs:"), line


def test_check_resctrl_on_a_fake_tree(fake_resctrl, tmp_path):
    checks = doctor.check_resctrl(str(fake_resctrl))
    assert checks[0].status == doctor.OK and "16 L3 ways" in checks[0].detail
    assert checks[1].item == "MBM" and checks[1].status == doctor.OK
    missing = doctor.check_resctrl(str(tmp_path / "absent"))
    assert missing[0].status == doctor.MISSING and missing[0].needs


def test_check_perf_without_perf(monkeypatch):
    monkeypatch.setenv("MEMPROF_PERF", "/nonexistent/perf")
    cpu = CpuInfo("amd", "AuthenticAMD", 25, 17, "AMD EPYC")
    (check,) = doctor.check_perf(cpu)
    assert check.status == doctor.MISSING and "linux-tools" in check.needs


def test_render_marks():
    text = doctor.render([doctor.Check("a", doctor.OK, "fine"), doctor.Check("bb", doctor.MISSING, "gone", "x")])
    assert text.splitlines() == ["ok       a   fine", "missing  bb  gone", "             needs: x"]
