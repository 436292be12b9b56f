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

Typical usage:
    with executor_make(job, workers=2, files=1000) as executor:
        for result in executor.results(tasks): ...

Dependencies:
    - multiprocessing (imported only when a pool is made)
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol

from pfdicom_tagSub.models import FileResult, FileTask

CHUNK_MAX: int = 16
CHUNKS_PER_WORKER: int = 16


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

    Every chunk costs the parent two thread hand-offs and a message each way (about a
    millisecond of its CPU under load), so chunks are as large as they can be while still
    giving each worker many of them, lest one worker idle at the end while another finishes.

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
    """The job in N worker processes, each taking chunks of tasks; results in task order."""

    def __init__(self, job: Job, workers: int, files: int) -> None:
        self.job: Job = job
        self.workers: int = workers
        self.chunk: int = chunk_size(files, workers)
        self.pool: Any = None

    def __enter__(self) -> PoolExecutor:
        import multiprocessing

        method: str = startMethod_choose()
        if method == "fork":
            self.job.libraries_load()
        context: Any = multiprocessing.get_context(method)
        self.pool = context.Pool(self.workers, initializer=worker_init, initargs=(self.job,))
        self.pool.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.pool.__exit__(kind, error, trace)

    def results(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        return self.pool.imap(worker_run, tasks, chunksize=self.chunk)


def executor_make(job: Job, workers: int, files: int) -> Executor:
    """The executor for a worker count: this process for 0 or 1, else a pool of processes."""
    if workers <= 1:
        return SerialExecutor(job)
    return PoolExecutor(job, workers, files)
