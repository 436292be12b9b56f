"""Executors: one protocol for where the per-file job runs, tasks in and results out in task order.

The engine hands an executor a stream of tasks and reads back one result per task, in the same
order, whatever runs them: this process (``SerialExecutor``) or N worker processes
(``PoolExecutor``). pydicom is pure Python, so only processes run it on several cores at once.
The job is whatever has ``file_process(task) -> result``; executors never look inside it.

Key components:
    - Job: the protocol of the per-file work
    - Executor: the protocol of an executor (a context manager with ``results``)
    - SerialExecutor, PoolExecutor: in this process, or in a pool of worker processes
    - executor_make: the executor for a worker count
    - cores_usable, workers_cap: the cores this process may use; the workers worth starting

Typical usage:
    with executor_make(job, workers=2, files=1000) as executor:
        for result in executor.results(tasks): ...

Dependencies:
    - pfdicom_tagSub.pool, the worker processes (imported only when a pool is made)
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from pfdicom_tagSub.models import FileResult, FileTask

if TYPE_CHECKING:
    from pfdicom_tagSub.pool import WorkerPool

CHUNK_MAX: int = 16
CHUNKS_PER_WORKER: int = 16
CPU_MAX: str = "/sys/fs/cgroup/cpu.max"


class Job(Protocol):
    """The per-file work an executor runs.

    Attributes:
        tempDir: where it writes its temporary files, given by the engine before the run.
    """

    tempDir: str

    def file_process(self, task: FileTask) -> FileResult:
        """Process one file; never raises for a problem with the file."""
        ...

    def libraries_load(self) -> None:
        """Load, before workers are forked, what every worker would otherwise load itself."""
        ...


class Executor(Protocol):
    """Runs a job over tasks; results come back in task order."""

    def __enter__(self) -> Executor: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    def results(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        """One result per task, in task order."""
        ...


class SerialExecutor:
    """The job in this process, one task after the other."""

    def __init__(self, job: Job) -> None:
        self.job: Job = job
        self.warnings: warnings.catch_warnings[Any] = warnings.catch_warnings()

    def __enter__(self) -> SerialExecutor:
        self.warnings.__enter__()
        warnings.simplefilter("ignore")  # pydicom warns about odd values, file after file
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.warnings.__exit__(kind, error, trace)

    def results(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        return map(self.job.file_process, tasks)


_workerJob: Job | None = None


def worker_init(job: Job) -> None:
    """Give a worker process the run's job, once."""
    global _workerJob
    _workerJob = job
    warnings.simplefilter("ignore")


def worker_run(task: FileTask) -> FileResult:
    """Process one file in a worker process."""
    assert _workerJob is not None, "worker_init has not run"
    return _workerJob.file_process(task)


def chunk_size(files: int, workers: int) -> int:
    """How many files a worker takes at a time.

    Every chunk costs the parent a message and a wake-up, so chunks are as large as they can be
    while still giving each worker many of them, lest one worker idle at the end while another
    finishes.

    Example:
        >>> chunk_size(1000, 2), chunk_size(150, 2), chunk_size(10, 4)
        (16, 4, 1)
    """
    return max(1, min(CHUNK_MAX, files // (workers * CHUNKS_PER_WORKER)))


def startMethod_choose() -> str:
    """Fork when this process runs no other thread (fast, nothing to re-import), else a clean server."""
    import multiprocessing

    methods: list[str] = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


class PoolExecutor:
    """The job in N worker processes, each taking chunks of tasks; results in task order.

    A worker that dies has its files given to a fresh one (``pool.WorkerPool``); on an interrupt,
    or any error, the workers are stopped before the exception goes on.
    """

    def __init__(self, job: Job, workers: int, files: int) -> None:
        self.job: Job = job
        self.workers: int = workers
        self.chunk: int = chunk_size(files, workers)
        self.pool: WorkerPool | None = None

    def __enter__(self) -> PoolExecutor:
        from pfdicom_tagSub.pool import WorkerPool  # multiprocessing only when there are workers

        method: str = startMethod_choose()
        if method == "fork":
            self.job.libraries_load()
        pool: WorkerPool = WorkerPool(self.job, self.workers, self.chunk, method)
        pool.start()
        self.pool = pool
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.pool is not None:
            self.pool.stop(graceful=kind is None)

    def results(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        assert self.pool is not None, "results asked outside the with block"
        return self.pool.results(tasks)


def cores_usable() -> int:
    """The cores this process may run on: its CPU affinity, lowered by a cgroup CPU quota."""
    try:
        cores: int = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        with open(CPU_MAX, encoding="ascii") as limit:
            quota, period = limit.read().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def workers_cap(threads: int, files: int, cores: int) -> tuple[int, str]:
    """The workers worth starting for ``--threads``, and why fewer, if so ('' when as asked).

    Example:
        >>> workers_cap(8, 3, 4), workers_cap(8, 100, 2), workers_cap(2, 100, 4)
        ((3, 'one per file'), (2, 'as many as the 2 usable cores'), (2, ''))
    """
    if threads <= 1 or files == 0:
        return min(max(threads, 0), 1), ""
    if files < threads and files <= cores:
        return max(files, 1), "one per file"
    if cores < threads:
        return cores, f"as many as the {cores} usable core{'' if cores == 1 else 's'}"
    return threads, ""


def executor_make(job: Job, workers: int, files: int) -> Executor:
    """The executor for a worker count: this process for 0 or 1, else a pool of processes."""
    if workers <= 1:
        return SerialExecutor(job)
    return PoolExecutor(job, workers, files)
