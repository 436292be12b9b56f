"""The default worker count: the cores the process may use, by its affinity and its cgroup's quota."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pfdicom_tagSub.cores import cgroup_quota, cores_available, quota_v1, quota_v2
from tests.conftest import EXAMPLES, console_script

RULES: str = json.dumps({"PatientID": "%_md5|7_PatientID"})


def group_make(root: Path, path: str, files: dict[str, str]) -> Path:
    directory: Path = root.joinpath(*[part for part in path.split("/") if part])
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("200000 100000\n", 2.0), ("150000 100000", 1.5), ("max 100000\n", None), ("junk", None)],
)
def test_a_cgroup_v2_quota_is_read_in_cpus(tmp_path: Path, text: str, cpus: float | None) -> None:
    assert quota_v2(group_make(tmp_path, "/", {"cpu.max": text})) == cpus


@pytest.mark.parametrize(("quota", "cpus"), [("300000", 3.0), ("-1", None)])
def test_a_cgroup_v1_quota_is_read_in_cpus(tmp_path: Path, quota: str, cpus: float | None) -> None:
    group: Path = group_make(tmp_path, "/", {"cpu.cfs_quota_us": quota, "cpu.cfs_period_us": "100000"})
    assert quota_v1(group) == cpus


def test_the_smallest_quota_of_the_group_and_those_above_it_counts(tmp_path: Path) -> None:
    group_make(tmp_path / "fs", "/", {"cpu.max": "400000 100000"})
    group_make(tmp_path / "fs", "/kubepods/pod1", {"cpu.max": "150000 100000"})
    group_make(tmp_path / "fs", "/kubepods/pod1/box", {"cpu.max": "max 100000"})
    (tmp_path / "cgroup").write_text("0::/kubepods/pod1/box\n")
    assert cgroup_quota(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == 1.5


def test_a_container_s_own_group_is_its_mount_s_root(tmp_path: Path) -> None:
    # inside a container the path names the host's group, which the container's mount does not hold
    group_make(tmp_path / "fs", "/", {"cpu.max": "200000 100000"})
    (tmp_path / "cgroup").write_text("0::/system.slice/docker-0123.scope\n")
    assert cgroup_quota(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == 2.0


def test_a_cgroup_v1_cpu_hierarchy_is_found(tmp_path: Path) -> None:
    group_make(
        tmp_path / "fs",
        "/cpu,cpuacct/docker/abc",
        {"cpu.cfs_quota_us": "100000", "cpu.cfs_period_us": "100000"},
    )
    (tmp_path / "cgroup").write_text("5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    assert cgroup_quota(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == 1.0


def test_no_cgroup_leaves_the_affinity(tmp_path: Path) -> None:
    missing: str = str(tmp_path / "none")
    assert cgroup_quota(missing, missing) is None
    assert cores_available(missing, missing) == len(os.sched_getaffinity(0))


def test_a_quota_caps_the_affinity_rounded_up(tmp_path: Path) -> None:
    group_make(tmp_path / "fs", "/", {"cpu.max": "50000 100000"})  # half a CPU: one worker
    (tmp_path / "cgroup").write_text("0::/\n")
    assert cores_available(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == 1


def start_line(cpus: set[int] | None, *threads: str, tmp_path: Path) -> str:
    """The run's start line, the process pinned to ``cpus``."""

    def pin() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    done = subprocess.run(
        [
            str(console_script()),
            str(EXAMPLES / "dicom"),
            str(tmp_path / f"out{len(os.listdir(tmp_path))}"),
            "-T",
            RULES,
            *threads,
        ],
        capture_output=True,
        text=True,
        preexec_fn=pin,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[0]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_without_threads_a_run_uses_every_core_it_may_use(tmp_path: Path) -> None:
    assert start_line({0}, tmp_path=tmp_path).endswith(", 1 worker")
    workers: int = int(start_line(None, tmp_path=tmp_path).rsplit(", ", 1)[1].split()[0])  # "N workers"
    assert 1 <= workers <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("threads", ["0", "1"])
def test_threads_zero_and_one_mean_one_worker(tmp_path: Path, threads: str) -> None:
    assert start_line(None, "--threads", threads, tmp_path=tmp_path).endswith(", 1 worker")
