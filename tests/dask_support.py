"""A real Dask cluster on 127.0.0.1 for the tests: ``dask scheduler`` and ``dask worker`` processes.

Each process is started by this module and stopped by its PID (``stop``), whatever the test did;
the workers run without a nanny, so the PID of a worker is the process that runs its tasks (and
the PID its temporary files are named with) and a worker killed stays dead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

START_TIMEOUT: float = 120
WORKER_KEY: str = "not-the-key-of-the-run-0123456789"
STOP_TIMEOUT: float = 10
LOCAL: list[str] = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
SCHEDULER_OPTIONS: list[str] = ["scheduler", "--port", "0", *LOCAL]
# one thread (pydicom is pure Python), no nanny (a killed worker stays dead; its PID is its tasks')
WORKER_OPTIONS: list[str] = ["--nthreads", "1", "--no-nanny", *LOCAL]


class DaskTestsSkipped(UserWarning):
    """The Dask cluster tests did not run: shown in pytest's warnings summary."""


def dask_required() -> None:
    """Skip, loudly, where the ``dask`` extra is not installed."""
    if importlib.util.find_spec("distributed") is None:
        message: str = "Dask cluster tests SKIPPED: distributed is not installed (pip install '.[test,dask]')"
        warnings.warn(message, DaskTestsSkipped, stacklevel=2)
        pytest.skip(message)


def dask_command() -> str:
    """The ``dask`` command of this interpreter's environment."""
    return str(Path(sys.executable).parent / "dask")


@dataclass
class DaskCluster:
    """A scheduler and its workers, each a process of its own.

    Attributes:
        directory: where their scheduler file, logs and scratch space go.
        scheduler: the scheduler's process; workers: the workers' processes, by name.
        address: the scheduler's address, once it is up.
    """

    directory: Path
    scheduler: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    address: str = ""
    logs: list[IO[bytes]] = field(default_factory=list)

    def process_start(self, name: str, arguments: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log: IO[bytes] = open(self.directory / f"{name}.log", "wb")  # noqa: SIM115  # closed by stop
        self.logs.append(log)
        # Dask's scratch space here, not in the system's temporary directory (a killed scheduler's stays)
        scratch: dict[str, str] = {"DASK_TEMPORARY_DIRECTORY": str(self.directory)}
        return subprocess.Popen(
            [dask_command(), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
            env={**env, **scratch},
        )

    def scheduler_start(self, env: dict[str, str] | None = None) -> None:
        """Start the scheduler on a free port of 127.0.0.1; wait until it says where it is."""
        schedulerFile: Path = self.directory / "scheduler.json"
        self.scheduler = self.process_start(
            "scheduler",
            [*SCHEDULER_OPTIONS, "--scheduler-file", str(schedulerFile)],
            {**os.environ, **(env or {})},
        )
        self.wait_for(lambda: schedulerFile.is_file() and schedulerFile.stat().st_size > 0, "the scheduler")
        self.wait_for(lambda: "address" in self.schedulerFile_read(schedulerFile), "the scheduler file")
        self.address = self.schedulerFile_read(schedulerFile)["address"]

    @staticmethod
    def schedulerFile_read(path: Path) -> dict[str, str]:
        try:
            return json.loads(path.read_text())
        except ValueError:  # being written
            return {}

    def worker_start(self, name: str) -> None:
        """Start a worker of one thread (pydicom is pure Python); wait until the scheduler has it."""
        # a key of the workers' own, and no key file: a worker that took a key anywhere but from
        # the job would give other outputs than the command's own process
        config: Path = self.directory / f"{name}-config"
        config.mkdir()
        scratch: list[str] = ["--local-directory", str(self.directory / name)]
        self.workers[name] = self.process_start(
            name,
            ["worker", self.address, "--name", name, *WORKER_OPTIONS, *scratch],
            {**os.environ, "PFDICOM_TAGSUB_KEY": WORKER_KEY, "XDG_CONFIG_HOME": str(config)},
        )
        log: Path = self.directory / f"{name}.log"
        self.wait_for(lambda: b"Registered to:" in log.read_bytes(), f"worker {name}")

    def wait_for(self, ready: Callable[[], bool], what: str) -> None:
        """Wait until ``ready()`` holds; fail, naming the logs, if a process died or time ran out."""
        deadline: float = time.monotonic() + START_TIMEOUT
        while not ready():
            dead: list[str] = [
                f"{name} (exit {process.returncode})"
                for name, process in self.processes().items()
                if process.poll() is not None
            ]
            if dead or time.monotonic() > deadline:
                logs: str = "\n".join(
                    f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                    for path in sorted(self.directory.glob("*.log"))
                )
                raise RuntimeError(f"{what} did not start: dead {dead}\n{logs}")
            time.sleep(0.05)

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        both: dict[str, subprocess.Popen[bytes]] = dict(self.workers)
        if self.scheduler is not None:
            both["scheduler"] = self.scheduler
        return both

    def stop(self) -> None:
        """Stop every process started here, by its PID: the workers first, each with SIGTERM (SIGKILL
        once the scheduler is gone), then SIGKILL if it is still there."""
        # a worker whose scheduler is gone would wait for it: no use asking it to stop
        orphaned: bool = self.scheduler is not None and self.scheduler.poll() is not None
        for process in self.processes().values():  # workers, then the scheduler
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL if orphaned else signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.logs:
            log.close()


@contextlib.contextmanager
def cluster_running(
    directory: Path, workers: int, schedulerEnv: dict[str, str] | None = None
) -> Iterator[DaskCluster]:
    """A cluster of a scheduler and ``workers`` workers, stopped when the block ends, even by an error."""
    directory.mkdir(parents=True, exist_ok=True)
    cluster: DaskCluster = DaskCluster(directory)
    try:
        cluster.scheduler_start(schedulerEnv)
        for number in range(workers):
            cluster.worker_start(f"worker{number}")
        yield cluster
    finally:
        cluster.stop()
