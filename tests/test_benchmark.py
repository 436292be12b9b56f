"""The benchmark script still runs: tiny inputs, every kind of run, every line of its report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, console_script


def test_the_benchmark_script_runs_on_tiny_inputs_and_reports_every_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "benchmark.py"),
            "--work",
            str(tmp_path),
            "--files",
            "40",
            "--big-files",
            "3",
            "--big-mb",
            "0.2",
            "--script",
            str(console_script()),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report: str = done.stdout
    for line in ("tree: 40 files", "big: 3 files", "big2: 6 files", "targets", "--version <= 0.3 s"):
        assert line in report, report
    for run in ("cp -r", "pydicom loop", "tool, 1 worker", "tool, 2 workers"):
        assert report.count(run) >= 2, report
    assert report.count("1 and 2 workers: output files, summary and --json record identical") == 3, report
    assert report.count("tool, 1 worker, --verify") == 2, report  # the tree and the big directory
    assert report.count("--verify, 1 worker: ") == 2, report
    assert "(exit" not in report, report
    assert len(list((tmp_path / "tree").rglob("*.dcm"))) == 40
    assert len({path.parent for path in (tmp_path / "tree").rglob("*.dcm")}) == 20
