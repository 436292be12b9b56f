"""The worker pool: results in task order whatever becomes of the workers.

The jobs here kill their own worker process on chosen tasks (SIGKILL, as the out-of-memory
killer does), sleep, or cannot even be loaded: real processes die, and the pool must notice,
give the dead worker's files to a fresh one, fail a file that two workers died on with the
reason, and never hang. An alarm ends any test that would.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pfdicom_tagSub.errors import RunError
from pfdicom_tagSub.models import FileResult, FileTask
from pfdicom_tagSub.pool import STOP_SECONDS, TaskStream, WorkerPool

HANG_SECONDS: int = 60


@pytest.fixture(autouse=True)
def hangGuard() -> Iterator[None]:
    """A test that hangs fails after a minute instead of stalling the suite."""

    def expire(number: int, frame: object) -> None:
        raise TimeoutError("the pool hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(HANG_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@dataclass
class KillingJob:
    """Says which process ran each task; its worker is killed on the victims' tasks, every time, or
    only the first time when ``markers`` names a directory to remember that in."""

    victims: frozenset[str] = frozenset()
    markers: str = ""
    pause: float = 0.0
    tempDir: str = ""

    def file_process(self, task: FileTask) -> FileResult:
        if task.inputPath in self.victims:
            marker: str = os.path.join(self.markers, os.path.basename(task.inputPath)) if self.markers else ""
            if not marker or not os.path.exists(marker):
                if marker:
                    Path(marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.pause)
        return FileResult(task.inputPath, "written", reason=str(os.getpid()))

    def libraries_load(self) -> None:
        pass


@dataclass
class SleepingJob:
    """Sleeps a long time on one task."""

    sleeper: str
    tempDir: str = ""
    seen: list[str] = field(default_factory=list)

    def file_process(self, task: FileTask) -> FileResult:
        if task.inputPath == self.sleeper:
            time.sleep(HANG_SECONDS)
        return FileResult(task.inputPath, "written")

    def libraries_load(self) -> None:
        pass


def job_refuse() -> None:
    raise RuntimeError("this job cannot be loaded in a worker")


class UnloadableJob(KillingJob):
    """A job that no worker can load: every worker dies as it starts."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (job_refuse, ())


def tasks_make(count: int) -> list[FileTask]:
    return [FileTask(f"/in/{number:04d}.dcm", "/out") for number in range(count)]


def pool_run(
    job: object, tasks: list[FileTask], workers: int = 2, chunk: int = 2, method: str = "fork"
) -> list[FileResult]:
    pool = WorkerPool(job, workers, chunk, method)  # type: ignore[arg-type]
    pool.start()
    try:
        return list(pool.results(tasks))
    finally:
        pool.stop(graceful=True)


@pytest.mark.parametrize("chunk", [1, 2, 3])
@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 33])
def test_results_come_back_in_task_order_for_any_number_of_tasks_and_chunks(count: int, chunk: int) -> None:
    tasks: list[FileTask] = tasks_make(count)
    results: list[FileResult] = pool_run(KillingJob(), tasks, workers=2, chunk=chunk)
    assert [result.inputPath for result in results] == [task.inputPath for task in tasks]
    assert str(os.getpid()) not in {result.reason for result in results}


def test_a_file_that_kills_its_worker_every_time_fails_with_the_reason_and_its_neighbours_come_back() -> None:
    tasks: list[FileTask] = tasks_make(40)
    victims: frozenset[str] = frozenset({tasks[7].inputPath, tasks[8].inputPath, tasks[30].inputPath})

    results: list[FileResult] = pool_run(KillingJob(victims), tasks, workers=2, chunk=4)

    assert [result.inputPath for result in results] == [task.inputPath for task in tasks]
    for result in results:
        if result.inputPath in victims:
            assert (result.outcome, result.reason) == (
                "failed",
                "cannot be processed: worker processes died while processing it "
                "(killed by SIGKILL, as the out-of-memory killer does), twice",
            )
        else:
            assert result.outcome == "written", result


def test_a_worker_killed_once_has_its_file_done_again_by_a_fresh_worker(tmp_path: Path) -> None:
    tasks: list[FileTask] = tasks_make(30)
    victim: str = tasks[10].inputPath

    results: list[FileResult] = pool_run(
        KillingJob(frozenset({victim}), str(tmp_path)), tasks, workers=2, chunk=3
    )

    assert [(result.inputPath, result.outcome) for result in results] == [
        (task.inputPath, "written") for task in tasks
    ]
    assert (tmp_path / os.path.basename(victim)).exists()  # it was killed once, on that file
    assert len({result.reason for result in results}) >= 3  # the two first workers and the fresh one


def test_workers_ignore_ctrl_c_which_is_the_parent_s_to_handle() -> None:
    pool = WorkerPool(KillingJob(pause=0.005), 2, 1, "fork")
    pool.start()
    try:
        results: Iterator[FileResult] = pool.results(tasks_make(60))
        first: list[FileResult] = [next(results) for _ in range(5)]
        for worker in pool.workers:
            os.kill(worker.process.pid, signal.SIGINT)  # what Ctrl-C sends to the whole process group
        rest: list[FileResult] = list(results)
    finally:
        pool.stop(graceful=True)
    assert [result.outcome for result in first + rest] == ["written"] * 60
    assert len({result.reason for result in first + rest}) == 2  # the same two workers throughout


def test_stopping_ends_a_stuck_worker_within_seconds() -> None:
    tasks: list[FileTask] = tasks_make(10)
    pool = WorkerPool(SleepingJob(tasks[5].inputPath), 2, 1, "fork")
    pool.start()
    results: Iterator[FileResult] = pool.results(tasks)
    assert next(results).outcome == "written"
    processes = [worker.process for worker in pool.workers]
    started: float = time.monotonic()

    pool.stop(graceful=False)

    assert time.monotonic() - started < STOP_SECONDS + 3
    assert all(process.exitcode is not None for process in processes)


def test_workers_that_die_as_they_start_end_the_run_with_the_reason() -> None:
    with pytest.raises(RunError, match=r"worker processes die as they start \(exited with status 1\)"):
        pool_run(UnloadableJob(), tasks_make(5), workers=1, chunk=1, method="spawn")


def test_a_task_stream_gives_back_a_dead_worker_s_tasks_first_and_fails_one_died_on_twice() -> None:
    stream = TaskStream(tasks_make(6), window=10)
    held = stream.take(3)
    stream.heldReturn(held, inWork=True, how="killed by SIGKILL")
    again = stream.take(2)
    assert [slot.index for slot in again] == [0, 1]
    stream.heldReturn(again, inWork=True, how="killed by SIGKILL")
    assert [(result.inputPath, result.outcome) for result in stream.ready()] == [("/in/0000.dcm", "failed")]
    assert [slot.index for slot in stream.take(5)] == [1, 2, 3, 4, 5]
