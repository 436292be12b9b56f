"""Executors: one protocol for where the per-file job runs, tasks in and results out in task order.

The engine hands an executor a stream of tasks and reads back one result per task, in the same
order, whatever runs them: this process (``SerialExecutor``), N worker processes
(``PoolExecutor``) or the workers of a Dask distributed cluster (``DaskExecutor``). pydicom is
pure Python, so only processes run it on several cores at once. The job is whatever has
``file_process(task) -> result``; executors never look inside it.

Key components:
    - Job: the protocol of the per-file work
    - Executor: the protocol of an executor (a context manager with ``results``)
    - SerialExecutor, PoolExecutor: in this process, or in a pool of worker processes
    - DaskExecutor: on a Dask cluster, in batches of files (``dask_check`` checks ``--dask`` first)
    - executor_make: the executor for a worker count, or for a Dask scheduler's address

Typical usage:
    with executor_make(job, workers=2, files=1000) as executor:
        for result in executor.results(tasks): ...

Dependencies:
    - pfdicom_tagSub.pool, the worker processes (imported only when a pool is made)
    - dask distributed, the optional extra (imported only for ``--dask``)
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import secrets
import threading
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from pfdicom_tagSub import __pkg_name__, __version__
from pfdicom_tagSub.errors import RunError, TagSubError, UsageError, line_first
from pfdicom_tagSub.models import FileResult, FileTask

if TYPE_CHECKING:
    from pfdicom_tagSub.pool import WorkerPool

CHUNK_MAX: int = 16
CHUNKS_PER_WORKER: int = 16
DASK_EXTRA: str = "pip install 'pfdicom_tagSub[dask]'"
BATCH_MIN: int = 50
BATCH_MAX: int = 500
BATCHES_PER_THREAD: int = 4
BATCHES_IN_FLIGHT_PER_THREAD: int = 3


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


def executor_make(job: Job, workers: int, files: int, dask: str = "", daskTimeout: float = 30) -> Executor:
    """The executor for a worker count: this process for 0 or 1 (or one file), else a pool of
    processes, no more than there are files; the Dask cluster whose scheduler is at ``dask`` when
    one is given."""
    if dask:
        return DaskExecutor(job, dask, daskTimeout, files)
    workers = min(workers, files)  # a worker with no file to take would only cost its start
    if workers <= 1:
        return SerialExecutor(job)
    return PoolExecutor(job, workers, files)


def dask_check(address: str, timeout: float, threads: bool) -> None:
    """Refuse ``--dask`` before anything is read: with ``--threads``, Dask not installed, not an
    address of a scheduler, a timeout that is no time.

    Raises:
        UsageError: naming the extra to install, or what is wrong.
    """
    if threads:
        raise UsageError("--dask runs the files on the cluster's workers: drop --threads")
    if timeout <= 0:
        raise UsageError(f"--daskTimeout {timeout:g}: give a number of seconds above 0")
    try:
        from distributed.comm import get_address_host_port
    except ImportError:
        raise UsageError(f"--dask needs Dask, an optional extra: {DASK_EXTRA}") from None
    try:
        get_address_host_port(address)
    except ValueError as err:
        raise UsageError(
            f"--dask {address!r}: not the address of a Dask scheduler ({err}); give tcp://HOST:PORT"
        ) from None


def batch_size(files: int, threads: int) -> int:
    """How many files one Dask task takes.

    A task costs the scheduler, the client and the network some milliseconds whatever it holds,
    and a file takes a worker about two, so tasks hold at least 50 files; up to 500, as long as
    every worker thread still gets several of them.

    Example:
        >>> batch_size(300, 2), batch_size(1000, 2), batch_size(10**6, 16)
        (50, 125, 500)
    """
    return max(BATCH_MIN, min(BATCH_MAX, files // max(1, threads * BATCHES_PER_THREAD)))


def batches_make(tasks: Iterable[FileTask], size: int) -> Iterator[list[FileTask]]:
    """The tasks in lists of ``size`` (the last one shorter), made as they are consumed."""
    iterator: Iterator[FileTask] = iter(tasks)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def batch_run(job: Job, tasks: list[FileTask]) -> list[FileResult]:
    """Process a batch of files on a Dask worker."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about odd values, file after file
        return [job.file_process(task) for task in tasks]


def task_absolute(task: FileTask) -> FileTask:
    """A task as a worker on another machine finds its files: by paths from the root, not from
    this process's working directory."""
    return FileTask(os.path.abspath(task.inputPath), os.path.abspath(task.outputDir))


def result_localize(result: FileResult, task: FileTask, sent: FileTask) -> FileResult:
    """A worker's result in the terms of the task as it was walked here, relative paths kept relative."""
    result.inputPath = task.inputPath
    if sent.outputDir != task.outputDir and result.outputPath.startswith(sent.outputDir + os.sep):
        result.outputPath = os.path.join(task.outputDir, result.outputPath[len(sent.outputDir) + 1 :])
    return result


def batch_failed(batch: list[FileTask], error: BaseException) -> list[FileResult]:
    """The results of a batch that the cluster gave up on (its workers kept dying): every file failed."""
    reason: str = f"not processed: the Dask workers running its batch died ({type(error).__name__})"
    return [FileResult(task.inputPath, "failed", reason) for task in batch]


class DaskExecutor:
    """The job on the workers of a Dask distributed cluster, in batches of files; results in task order.

    The job goes to every worker once (scattered), pickled: its rules travel with it, never on a
    command line. A task is a batch of files; a few per worker thread are in flight at a time, and
    their results are taken in the order they were sent, so memory does not grow with the tree.
    Workers write into the run's temporary directory at the output root (a shared file system);
    only this process gives outputs their final names, so a batch that Dask reruns after its
    worker died leaves nothing but temporary files, which the run removes.

    Attributes:
        job: the per-file work, scattered with its temporary directory made absolute.
        address: the scheduler's address; timeout: how long to wait for it and for a worker.
        files: how many files the run has, to size the batches.
        client: the Dask client while the executor is entered.
    """

    def __init__(self, job: Job, address: str, timeout: float, files: int) -> None:
        self.job: Job = job
        self.address: str = address
        self.timeout: float = timeout
        self.files: int = files
        self.client: Any = None
        self.jobFuture: Any = None
        self.batch: int = BATCH_MIN
        self.inFlight: int = 2
        self.token: str = secrets.token_hex(4)
        self.logLevels: dict[str, int] = {}

    def __enter__(self) -> DaskExecutor:
        from distributed import Client

        scheduler_probe(self.address, self.timeout)
        self.logLevels = daskLog_silence()
        try:
            self.client = Client(self.address, timeout=self.timeout, set_as_default=False)
            threads: int = workers_wait(self.client, self.address, self.timeout)
            self.batch = batch_size(self.files, threads)
            self.inFlight = max(2, BATCHES_IN_FLIGHT_PER_THREAD * threads)
            job: Job = copy.copy(self.job)
            job.tempDir = os.path.abspath(job.tempDir) if job.tempDir else ""
            self.jobFuture = self.client.scatter(job, broadcast=True, hash=False)
        except BaseException as err:
            if self.client is not None:
                self.client.close()
            daskLog_restore(self.logLevels)
            if isinstance(err, Exception) and not isinstance(err, TagSubError):
                raise self.lost(err) from None
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.client.close()
        daskLog_restore(self.logLevels)

    def results(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        pending: deque[tuple[list[FileTask], Any]] = deque()
        for index, batch in enumerate(batches_make(tasks, self.batch)):
            pending.append((batch, self.batch_submit(index, batch)))
            if len(pending) >= self.inFlight:
                yield from self.batch_gather(*pending.popleft())
        while pending:
            yield from self.batch_gather(*pending.popleft())

    def lost(self, error: Exception) -> RunError:
        """The run's end when the cluster fails it: the scheduler lost, or a task failing in Dask itself."""
        from concurrent.futures import CancelledError

        why: str = f"{type(error).__name__}: {line_first(error)}"
        if isinstance(error, OSError | CancelledError):  # Dask's closed connections and cancelled futures
            why = "the connection to the scheduler was lost"
        return RunError(
            f"--dask {self.address}: the cluster stopped running the files ({why}); the outputs "
            "written are whole and kept: run again to finish"
        )

    def batch_submit(self, index: int, batch: list[FileTask]) -> Any:
        """Send one batch to the cluster; its future."""
        return self.client.submit(
            batch_run,
            self.jobFuture,
            [task_absolute(task) for task in batch],
            key=f"{__pkg_name__}-{self.token}-{index}",
            pure=False,
        )

    def batch_gather(self, batch: list[FileTask], future: Any) -> list[FileResult]:
        """The results of one batch, once its worker has sent them.

        Raises:
            RunError: the scheduler is lost, or the cluster failed otherwise than by losing workers.
        """
        from distributed import KilledWorker

        try:
            results: list[FileResult] = future.result()
        except KilledWorker as err:
            return batch_failed(batch, err)
        except Exception as err:
            raise self.lost(err) from None
        finally:
            future.release()
        return [
            result_localize(*trio) for trio in zip(results, batch, map(task_absolute, batch), strict=True)
        ]


def daskLog_silence() -> dict[str, int]:
    """Quiet Dask's loggers in this process (the run says what went wrong, in one line; Dask's log
    would add tracebacks to it); their levels before, to restore."""
    names: list[str] = [
        name for name in logging.root.manager.loggerDict if name.split(".")[0] == "distributed"
    ]
    levels: dict[str, int] = {name: logging.getLogger(name).level for name in ["distributed", *names]}
    for name in levels:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    return levels


def daskLog_restore(levels: dict[str, int]) -> None:
    """Give Dask's loggers back the levels ``daskLog_silence`` found."""
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def scheduler_probe(address: str, timeout: float) -> None:
    """Reach the scheduler once before a client is made (a client that cannot connect leaves noise
    behind it when it is collected).

    Raises:
        RunError: no scheduler answered within ``timeout`` seconds.
    """
    import asyncio

    from distributed.comm import connect

    async def probe() -> None:
        comm: Any = await connect(address, timeout=timeout)
        await comm.close()

    try:
        asyncio.run(probe())
    except OSError as err:
        detail: str = "" if str(err).startswith("Timed out") else f" ({err})"
        raise RunError(f"--dask {address}: no Dask scheduler answered within {timeout:g} s{detail}") from None


def workers_wait(client: Any, address: str, timeout: float) -> int:
    """Wait for the cluster to have a worker, check that its workers run this version; their threads.

    Raises:
        RunError: no worker within ``timeout`` seconds; a worker without this tool, or another version.
    """
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise RunError(f"--dask {address}: the scheduler has no worker (waited {timeout:g} s)") from None
    import importlib.metadata

    versions: dict[str, object] = client.run(importlib.metadata.version, __pkg_name__, on_error="return")
    for worker, version in sorted(versions.items()):
        if version != __version__:
            found: str = (
                f"has {__pkg_name__} {version}" if isinstance(version, str) else f"lacks {__pkg_name__}"
            )
            raise RunError(
                f"--dask {address}: worker {worker} {found}; "
                f"install {__pkg_name__} {__version__} on every worker"
            )
    return sum(client.nthreads().values())
