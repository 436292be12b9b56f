"""Worker processes that never hang: each worker has its own pipe, so a dead one is noticed.

``multiprocessing.Pool`` waits forever for the results of a worker that was killed (the OOM
killer sends SIGKILL), and prints every worker's traceback on Ctrl-C. Here each worker has its
own pipe, and the parent knows which files each one holds, in order: the first is the one in
work. When a worker dies, the parent sees its process end and gives its files to a fresh worker,
the one it was working on once more only: a file that two workers died on fails, saying how.

Workers take no part in interrupts. They ignore SIGINT (Ctrl-C reaches the whole process group;
the parent alone decides, and stops them); SIGTERM ends them at once and quietly (the parent
sends it to stop them, and removes their temporary files after); and they die with the parent
(PR_SET_PDEATHSIG on Linux, a thread watching the parent's pid elsewhere), so that a killed run
leaves no worker behind. A worker starts with both signals held by its parent until its own
handling is set, so that no moment of its start can print a traceback.

Key components:
    - WorkerPool: ``start()``, ``results(tasks)`` in task order, ``stop(graceful)``
    - worker_main: the life of a worker process
    - TaskStream: tasks handed out (given-back ones first), results put back in task order

Typical usage:
    pool = WorkerPool(job, workers=2, chunk=16, method="fork")
    pool.start()
    try:
        for result in pool.results(tasks): ...
    finally:
        pool.stop(graceful=True)

Dependencies:
    - multiprocessing, ctypes (standard library)
    - pfdicom_tagSub.interrupts, models, errors
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import selectors
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

from pfdicom_tagSub.errors import RunError
from pfdicom_tagSub.interrupts import SignalsHeld, signals_unblock
from pfdicom_tagSub.models import FileResult, FileTask

RETRIES: int = 1
STOP_SECONDS: float = 2.0
CHUNK_BYTES: int = 4096  # a chunk of tasks stays far inside a pipe's buffer: sending it never waits
WINDOW_CHUNKS: int = 4
START_FAILURES_MAX: int = 3
PARENT_POLL_SECONDS: float = 0.5
PR_SET_PDEATHSIG: int = 1
WORKER_READY: str = "ready"


class Job(Protocol):
    """The per-file work (``executor.Job``, restated here so that the pool needs no executor)."""

    def file_process(self, task: FileTask) -> FileResult: ...


def worker_main(job: Job, connection: Connection, parentPid: int, inherited: tuple[int, ...] = ()) -> None:
    """The life of a worker: say it is ready, then answer each task of each chunk, until told to stop.

    Args:
        job, connection: the work, and this worker's end of its pipe.
        parentPid: the parent as the worker should find it; 0 when it is a fork server.
        inherited: the parent's ends of the workers' pipes, which a forked worker holds too (its
            own pipe's included): closed, so that a pipe ends when one of its two processes does.
    """
    for descriptor in inherited:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    worker_prepare(parentPid)
    try:
        connection.send(WORKER_READY)
        while (chunk := connection.recv()) is not None:
            for task in chunk:
                connection.send(job.file_process(task))
    except (EOFError, OSError):
        pass  # the parent has gone: there is no one left to answer


def worker_prepare(parentPid: int) -> None:
    """Set a new worker's signal handling, then let the signals its parent held reach it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent_follow(parentPid)
    signals_unblock()
    warnings.simplefilter("ignore")  # pydicom warns about odd values, file after file


def parent_follow(parentPid: int) -> None:
    """Die with the parent: the kernel kills this process when it dies, or a thread watches for that.

    Args:
        parentPid: the parent as the worker should find it; 0 when it is a fork server.
    """
    if not deathSignal_request():
        threading.Thread(target=parent_watch, args=(os.getppid(),), daemon=True).start()
    if parentPid and os.getppid() != parentPid:
        os._exit(0)  # it died before the request took effect


def deathSignal_request() -> bool:
    """Ask Linux to send this process SIGKILL when its parent dies; False where that cannot be asked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc: ctypes.CDLL = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def parent_watch(parent: int) -> None:
    """In a thread of the worker: end the process, silently, once its parent is gone."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def death_describe(exitCode: int | None) -> str:
    """How a worker process ended, for people.

    Example:
        >>> death_describe(-9), death_describe(1)
        ('killed by SIGKILL, as the out-of-memory killer does', 'exited with status 1')
    """
    if exitCode is None or exitCode >= 0:
        return f"exited with status {exitCode}"
    try:
        name: str = signal.Signals(-exitCode).name
    except ValueError:
        name = f"signal {-exitCode}"
    return f"killed by {name}" + (", as the out-of-memory killer does" if name == "SIGKILL" else "")


@dataclass
class Slot:
    """One task in the pool: its place in the task order, and how many workers died on it."""

    index: int
    task: FileTask
    deaths: int = 0


class TaskStream:
    """Tasks handed out in order (given-back ones first), results put back in task order.

    No more than ``window`` tasks are out at once, so that the results waiting for an earlier
    one stay few.
    """

    def __init__(self, tasks: Iterable[FileTask], window: int) -> None:
        self.source: Iterator[FileTask] = iter(tasks)
        self.window: int = window
        self.givenBack: deque[Slot] = deque()
        self.done: dict[int, FileResult] = {}
        self.issued: int = 0
        self.emitted: int = 0
        self.exhausted: bool = False

    def take(self, count: int) -> list[Slot]:
        """Up to ``count`` tasks, fewer when their paths are long."""
        slots: list[Slot] = []
        size: int = 0
        while len(slots) < count and size < CHUNK_BYTES:
            slot: Slot | None = self.givenBack.popleft() if self.givenBack else self.fresh()
            if slot is None:
                break
            slots.append(slot)
            size += len(slot.task.inputPath) + len(slot.task.outputDir)
        return slots

    def fresh(self) -> Slot | None:
        """The next task from the source, unless the window is full or the source is done."""
        if self.exhausted or self.issued - self.emitted >= self.window:
            return None
        task: FileTask | None = next(self.source, None)
        if task is None:
            self.exhausted = True
            return None
        self.issued += 1
        return Slot(self.issued - 1, task)

    def heldReturn(self, held: list[Slot], inWork: bool, how: str) -> None:
        """The tasks a dead worker held, to be handed out again before any other; but the one it was
        working on, when a worker died on it before, fails.

        Args:
            held: the tasks, in order.
            inWork: the first was in work (the worker had started).
            how: how the worker ended, for the reason.
        """
        if inWork and held:
            held[0].deaths += 1
            if held[0].deaths > RETRIES:
                lost: Slot = held.pop(0)
                reason: str = f"cannot be processed: worker processes died while processing it ({how}), twice"
                self.put(lost, FileResult(lost.task.inputPath, "failed", reason))
        self.givenBack.extendleft(reversed(held))

    def put(self, slot: Slot, result: FileResult) -> None:
        self.done[slot.index] = result

    def ready(self) -> Iterator[FileResult]:
        """The results that are next in task order."""
        while self.emitted in self.done:
            self.emitted += 1
            yield self.done.pop(self.emitted - 1)

    @property
    def hasWork(self) -> bool:
        """Tasks remain to be handed out."""
        return bool(self.givenBack) or not self.exhausted

    @property
    def finished(self) -> bool:
        """Every task's result has been given."""
        return self.exhausted and not self.givenBack and self.emitted == self.issued


@dataclass
class Worker:
    """A worker process and what it holds.

    Attributes:
        process, connection: the process and the parent's end of its pipe.
        held: the tasks sent and not yet answered, in order; the first is the one in work.
        chunks: per chunk sent and not all answered, [answers left, size]; the first is the one
            in work, once it has answered any.
        ready: it has started and said so.
    """

    process: Any
    connection: Connection
    held: deque[Slot] = field(default_factory=deque)
    chunks: deque[list[int]] = field(default_factory=deque)
    ready: bool = False

    def mayTake(self) -> bool:
        """Whether a chunk may be sent: none sent before waits unread in its pipe."""
        return not self.chunks or (len(self.chunks) == 1 and self.chunks[0][0] < self.chunks[0][1])

    def take(self, slots: list[Slot]) -> None:
        self.held.extend(slots)
        self.chunks.append([len(slots), len(slots)])

    def answered(self) -> Slot:
        """The task a result just received answers."""
        self.chunks[0][0] -= 1
        if self.chunks[0][0] == 0:
            self.chunks.popleft()
        return self.held.popleft()

    def stop_ask(self, graceful: bool) -> None:
        """Ask it to stop: once its tasks are done, or at once (SIGTERM)."""
        with contextlib.suppress(OSError):
            if graceful:
                self.connection.send(None)
            else:
                self.process.terminate()

    def end_await(self, deadline: float) -> None:
        """Wait for it to end, until the deadline; then kill it."""
        self.process.join(max(0.0, deadline - time.monotonic()))
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()


class WorkerPool:
    """Worker processes fed chunks of tasks through their own pipes; a dead one is replaced.

    Attributes:
        job: the per-file work, run in every worker.
        size: how many workers run at once.
        chunk: tasks per chunk sent.
        workers: the running workers.
        startFailures: workers in a row that died before they were ready.
    """

    def __init__(self, job: Job, workers: int, chunk: int, method: str) -> None:
        self.job: Job = job
        self.size: int = workers
        self.chunk: int = chunk
        self.context: Any = multiprocessing.get_context(method)
        # a fork server is the parent of its workers, and no worker can know its pid beforehand
        self.parentPid: int = 0 if method == "forkserver" else os.getpid()
        self.forked: bool = method == "fork"
        self.workers: list[Worker] = []
        self.startFailures: int = 0
        self.selector: selectors.PollSelector = selectors.PollSelector()  # no descriptor to inherit

    def start(self) -> None:
        """Start the workers; on any failure or interrupt, stop those started and raise.

        Raises:
            RunError: a worker process cannot be started.
        """
        try:
            for _ in range(self.size):
                self.worker_start()
        except BaseException:
            self.stop(graceful=False)
            raise

    def worker_start(self) -> None:
        """Start one worker, its pipe and bookkeeping complete before any signal is handled.

        Raises:
            RunError: the process cannot be started (no memory, too many processes).
        """
        ours, theirs = self.context.Pipe(duplex=True)
        process: Any = self.context.Process(
            target=worker_main, args=(self.job, theirs, self.parentPid, self.inherited(ours)), daemon=True
        )
        try:
            with SignalsHeld():  # the worker inherits them held, until it has set its own handling
                process.start()
                worker: Worker = Worker(process, ours)
                self.workers.append(worker)
                self.selector.register(ours, selectors.EVENT_READ, worker)
                self.selector.register(process.sentinel, selectors.EVENT_READ, worker)
        except OSError as err:
            ours.close()
            raise RunError(f"cannot start a worker process: {err.strerror or err}") from None
        finally:
            theirs.close()

    def inherited(self, ours: Connection) -> tuple[int, ...]:
        """The parent's ends of the pipes that a worker forked now inherits, its own pipe's included
        (nothing, when started otherwise)."""
        ends: list[Connection] = [*(worker.connection for worker in self.workers), ours]
        return tuple(end.fileno() for end in ends) if self.forked else ()

    def results(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        """One result per task, in task order, whatever becomes of the workers."""
        stream: TaskStream = TaskStream(tasks, max(self.size * self.chunk * WINDOW_CHUNKS, 2 * self.size))
        while True:
            yield from stream.ready()
            self.dispatch(stream)  # which also finds the end of the tasks
            if stream.finished:
                return
            self.answers_await(stream)

    def dispatch(self, stream: TaskStream) -> None:
        """Send a chunk to each worker that has none waiting unread."""
        for worker in self.workers:
            if not worker.mayTake():
                continue
            slots: list[Slot] = stream.take(self.chunk)
            if not slots:
                return
            worker.take(slots)
            with contextlib.suppress(OSError):  # it died: seen when its process's end is
                worker.connection.send([slot.task for slot in slots])

    def answers_await(self, stream: TaskStream) -> None:
        """Wait for results or ended workers, and take in whatever came."""
        for key, _events in self.selector.select():
            worker: Worker = key.data
            if worker not in self.workers:
                continue  # already found dead through its other handle
            if key.fileobj is worker.connection and self.answer_take(worker, stream):
                continue
            self.worker_lost(worker, stream)

    def answer_take(self, worker: Worker, stream: TaskStream) -> bool:
        """Take in what a worker sent; False when its pipe has closed: it has died."""
        try:
            while True:
                message: object = worker.connection.recv()
                if message == WORKER_READY:
                    worker.ready, self.startFailures = True, 0
                else:
                    assert isinstance(message, FileResult)
                    stream.put(worker.answered(), message)
                if not worker.connection.poll():
                    return True
        except (EOFError, OSError):
            return False

    def worker_lost(self, worker: Worker, stream: TaskStream) -> None:
        """A worker has died: what it sent is taken in, what it held goes to a fresh one.

        Raises:
            RunError: workers keep dying before they are even ready.
        """
        with contextlib.suppress(EOFError, OSError):
            if worker.connection.poll():  # results it sent before it died
                self.answer_take(worker, stream)
        self.worker_forget(worker)
        worker.process.join()
        how: str = death_describe(worker.process.exitcode)
        stream.heldReturn(list(worker.held), worker.ready, how)
        if not worker.ready:
            self.startFailures += 1
            if self.startFailures >= START_FAILURES_MAX:
                raise RunError(f"worker processes die as they start ({how})")
        if stream.hasWork:
            self.worker_start()

    def stop(self, graceful: bool) -> None:
        """End every worker: told to stop when all is done, else SIGTERM; SIGKILL for any that lingers."""
        with SignalsHeld():
            for worker in self.workers:
                worker.stop_ask(graceful)
            deadline: float = time.monotonic() + STOP_SECONDS
            for worker in list(self.workers):
                worker.end_await(deadline)
                self.worker_forget(worker)
            self.selector.close()

    def worker_forget(self, worker: Worker) -> None:
        """Take a worker out of the pool, its pipe closed."""
        self.workers.remove(worker)
        self.selector.unregister(worker.connection)
        self.selector.unregister(worker.process.sentinel)
        worker.connection.close()
