"""Executors: the same results, in task order, whether the job runs here or in worker processes."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from pfdicom_tagSub.executor import PoolExecutor, SerialExecutor, chunk_size, executor_make
from pfdicom_tagSub.models import FileResult, FileTask


@dataclass
class EchoJob:
    """A job that says which process ran it and what it was given."""

    def file_process(self, task: FileTask) -> FileResult:
        return FileResult(task.inputPath, "written", reason=str(os.getpid()), outputPath=task.outputDir)

    def libraries_load(self) -> None:
        pass


TASKS: list[FileTask] = [FileTask(f"/in/{number:03d}.dcm", f"/out/{number % 7}") for number in range(200)]


@pytest.mark.parametrize("workers", [0, 1, 2, 3])
def test_results_come_back_one_per_task_in_task_order(workers: int) -> None:
    with executor_make(EchoJob(), workers, len(TASKS)) as executor:
        results: list[FileResult] = list(executor.results(iter(TASKS)))
    assert [(result.inputPath, result.outputPath) for result in results] == [
        (task.inputPath, task.outputDir) for task in TASKS
    ]
    processes: set[str] = {result.reason for result in results}
    if workers <= 1:
        assert processes == {str(os.getpid())}
    else:
        assert str(os.getpid()) not in processes and 1 <= len(processes) <= workers


def test_zero_and_one_worker_run_in_this_process_more_in_a_pool() -> None:
    assert isinstance(executor_make(EchoJob(), 0, 10), SerialExecutor)
    assert isinstance(executor_make(EchoJob(), 1, 10), SerialExecutor)
    assert isinstance(executor_make(EchoJob(), 2, 10), PoolExecutor)


def test_a_single_file_runs_in_this_process_whatever_the_worker_count() -> None:
    assert isinstance(executor_make(EchoJob(), 8, 1), SerialExecutor)
    assert isinstance(executor_make(EchoJob(), 8, 0), SerialExecutor)


@pytest.mark.parametrize(
    ("files", "workers", "chunk"), [(1000, 2, 16), (150, 2, 4), (10, 4, 1), (0, 2, 1), (10**6, 8, 16)]
)
def test_chunks_are_large_but_many_per_worker(files: int, workers: int, chunk: int) -> None:
    assert chunk_size(files, workers) == chunk
