from __future__ import annotations

from pathlib import Path

from junit_summary import main, summarize

SUITE = '<testsuite name="s" tests="{t}" failures="{f}" errors="{e}" skipped="{s}"></testsuite>'


def test_counts_every_report(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(SUITE.format(t=5, f=0, e=0, s=1))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/b.xml").write_text(f"<testsuites>{SUITE.format(t=3, f=1, e=1, s=0)}</testsuites>")
    assert summarize(tmp_path) == (5, 2, 1)
    assert main(["x", str(tmp_path)]) == 1


def test_nothing_ran_is_a_failure(tmp_path: Path, capsys) -> None:
    assert main(["x", str(tmp_path)]) == 1
    assert capsys.readouterr().out.strip() == "tests: 0 passed, 0 failed, 0 skipped"
    (tmp_path / "ok.xml").write_text(SUITE.format(t=2, f=0, e=0, s=0))
    assert main(["x", str(tmp_path)]) == 0
