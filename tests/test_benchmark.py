"""The benchmark script still runs: tiny inputs, every kind of run, every line of its report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, console_script
from tests.dask_support import dask_required


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


def test_the_benchmark_dask_mode_compares_a_local_cluster_with_the_pool_and_stops_it(tmp_path: Path) -> None:
    dask_required()
    tiny: list[str] = ["--files", "40", "--big-files", "2", "--big-mb", "0.1", "--no-big2"]
    script: list[str] = ["--work", str(tmp_path), "--script", str(console_script())]
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "benchmark.py"), *tiny, *script, "--dask"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report: str = done.stdout
    assert report.count("process pool and Dask: output files, summary and --json record identical") == 2, (
        report
    )
    for line in (
        "dask-tree: 40 files",
        "Dask / process pool, tree:",
        "a Dask task costs",
        "Dask task overhead",
    ):
        assert line in report, report
    assert "(exit" not in report, report
    pids: list[int] = json.loads(re.search(r"PIDs (\[[0-9, ]+\])", report)[1])  # type: ignore[index]
    assert len(pids) == 3
    for pid in pids:  # the scheduler and both workers, stopped (and reaped) by the benchmark
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
