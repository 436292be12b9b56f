"""How many cores this process may use: the CPUs it may run on, and its control group's CPU quota.

A run without ``--threads`` uses one worker per core it may use. ``os.cpu_count`` counts the
machine's; a process pinned to some CPUs (``taskset``, a batch scheduler) may use only those, and
a container limited to 2 CPUs (``docker run --cpus 2``, a Kubernetes CPU limit) has a quota of 2
CPUs' time in its control group, whatever the machine has. The smaller of the two is the answer.

Key components:
    - cores_available: the count, from the process's affinity and its cgroup v2 or v1 quota
    - quota_v2, quota_v1: a control group's quota, in CPUs, from its files

Typical usage:
    workers = cores_available()

Dependencies:
    - none: ``os``, ``/proc/self/cgroup`` and the cgroup file system
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

PROC_CGROUP: str = "/proc/self/cgroup"
CGROUP_ROOT: str = "/sys/fs/cgroup"


def cores_available(procCgroup: str = PROC_CGROUP, cgroupRoot: str = CGROUP_ROOT) -> int:
    """The cores this process may use: its CPU affinity, capped by its control group's CPU quota
    (rounded up: 1.5 CPUs of time keep 2 workers busy); at least 1."""
    affinity: int = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    quota: float | None = cgroup_quota(procCgroup, cgroupRoot)
    if quota is not None:
        affinity = min(affinity, math.ceil(quota))
    return max(1, affinity)


def cgroup_quota(procCgroup: str, cgroupRoot: str) -> float | None:
    """The CPU quota of this process's control group and of those above it, in CPUs (the
    smallest); None when there is none, or no control group to read."""
    try:
        lines: list[str] = Path(procCgroup).read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        _hierarchy, controllers, path = [*line.split(":", 2), "", ""][:3]
        if controllers == "":  # cgroup v2: one hierarchy, the quota in cpu.max
            quotas += groups_quota(Path(cgroupRoot), path, quota_v2)
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's own hierarchy
            mount: Path = Path(cgroupRoot) / controllers
            quotas += groups_quota(mount if mount.is_dir() else Path(cgroupRoot) / "cpu", path, quota_v1)
    return min(quotas) if quotas else None


def groups_quota(mount: Path, path: str, reader: Callable[[Path], float | None]) -> list[float]:
    """The quotas of the group at ``path`` under ``mount`` and of every group above it.

    Inside a container the group's path is often that of the host, not found under the
    container's mount, whose root is then the container's own group.
    """
    parts: list[str] = [part for part in path.strip().split("/") if part and part != ".."]
    found: list[float] = []
    for depth in range(len(parts), -1, -1):
        directory: Path = mount.joinpath(*parts[:depth])
        if not directory.is_dir():
            continue
        quota: float | None = reader(directory)
        if quota is not None:
            found.append(quota)
    return found


def quota_v2(directory: Path) -> float | None:
    """A cgroup v2 group's quota in CPUs, from ``cpu.max`` (``200000 100000``: 2; ``max 100000``: none).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as group:
        ...     _ = (Path(group) / "cpu.max").write_text("150000 100000\\n")
        ...     quota_v2(Path(group))
        1.5
    """
    try:
        quota, _, period = (directory / "cpu.max").read_text().strip().partition(" ")
        return int(quota) / int(period) if quota != "max" and int(period) > 0 else None
    except (OSError, ValueError):
        return None


def quota_v1(directory: Path) -> float | None:
    """A cgroup v1 group's quota in CPUs, from ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us`` (-1: none)."""
    try:
        quota: int = int((directory / "cpu.cfs_quota_us").read_text().strip())
        period: int = int((directory / "cpu.cfs_period_us").read_text().strip())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
