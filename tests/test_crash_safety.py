"""A run killed at any moment leaves only whole outputs, and running again completes the tree.

The installed console script runs on a tree of a few hundred small files and is killed with
SIGKILL (the whole process group, workers included) again and again: sometimes a random moment
after it starts, mostly a random number of written files into the run, with and without worker
processes. After every kill, each output with its final name must be byte for byte what an
uninterrupted run writes (so it parses); anything else may only be a file in a run's temporary
directory at the output root. A plain run afterwards must exit 0 and leave exactly the
uninterrupted run's tree, nothing more: the killed runs' temporary directories are gone.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pydicom
import pytest

from tests.conftest import README_RULES, console_script, script_run
from tests.safety_support import dataset_save, files_under, image_dataset

DIRECTORIES: int = 10
FILES_PER_DIRECTORY: int = 30
KILLS: int = 12
RULES: str = json.dumps(README_RULES)


@pytest.fixture(scope="module")
def crashTree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """The input tree, and what an uninterrupted run writes from it (relative name to bytes)."""
    root: Path = tmp_path_factory.mktemp("crash")
    inputDir: Path = root / "in"
    for directory in range(DIRECTORIES):
        for number in range(FILES_PER_DIRECTORY):
            serial: int = directory * FILES_PER_DIRECTORY + number + 1
            dataset = image_dataset(serial, patientID=f"MRN{directory:03d}", patientName=f"DOE^P{directory}")
            dataset_save(dataset, inputDir / f"patient{directory:02d}" / f"IM{number:04d}.dcm")
    reference: Path = root / "reference"
    run = script_run(inputDir, reference, "--tagStruct", RULES, "-v", "0")
    assert run.code == 0, run.err
    expected: dict[str, bytes] = {name: (reference / name).read_bytes() for name in files_under(reference)}
    assert len(expected) == DIRECTORIES * FILES_PER_DIRECTORY
    for name in expected:  # so that an output equal to these bytes parses too
        assert str(pydicom.dcmread(reference / name).PatientName).endswith("^ANON")
    return inputDir, expected


def run_kill(inputDir: Path, outputDir: Path, rng: random.Random, attempt: int) -> int:
    """Start a run and SIGKILL it; return how many files it reported written before the kill."""
    threads: list[str] = ["--threads", "2"] if attempt % 2 else []
    process = subprocess.Popen(
        [str(console_script()), str(inputDir), str(outputDir), "--tagStruct", RULES, "-v", "5", *threads],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    saved: int = 0
    assert process.stdout is not None
    if attempt % 4 == 0:  # a moment after the start line: walking, or the first files
        process.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.15))
    else:  # a moment after a random number of outputs were committed
        target: int = rng.randint(1, 6)
        for line in process.stdout:
            saved += line.startswith("saved: ")
            if saved >= target:
                break
        time.sleep(rng.uniform(0.0, 0.005))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return saved


def outputs_checkWhole(outputDir: Path, expected: dict[str, bytes]) -> int:
    """Every output with a final name is what the uninterrupted run wrote; the rest is temporary.

    Returns:
        How many outputs have their final name.
    """
    final: int = 0
    for name in files_under(outputDir):
        if name in expected:
            assert (outputDir / name).read_bytes() == expected[name], f"{name} differs after a kill"
            final += 1
        else:
            where: str = Path(name).parts[0]
            assert where.startswith(".pfdicom_tagSub-tmp-"), f"{name}: neither an output nor a temporary file"
    return final


def test_killed_runs_leave_only_whole_outputs_and_a_rerun_completes_the_tree(
    crashTree: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    inputDir, expected = crashTree
    outputDir: Path = tmp_path / "out"
    rng = random.Random(20240115)
    progress: list[int] = []
    for attempt in range(KILLS):
        run_kill(inputDir, outputDir, rng, attempt)
        progress.append(outputs_checkWhole(outputDir, expected))

    assert progress == sorted(progress), "a kill took away an output"
    midRun: int = sum(0 < done < len(expected) for done in progress)
    assert midRun >= 10, f"fewer than 10 kills landed mid-run: {progress}"

    rerun = script_run(inputDir, outputDir, "--tagStruct", RULES, "-v", "1")

    assert rerun.code == 0, rerun.err
    assert f"{len(expected) - progress[-1]} written, {progress[-1]} kept (output exists)" in rerun.out
    assert files_under(outputDir) == sorted(expected)
    assert {name: (outputDir / name).read_bytes() for name in expected} == expected


def zombie_make() -> subprocess.Popen[bytes]:
    """A child that has exited and is not reaped yet, as a killed run's worker may stay."""
    child = subprocess.Popen(["true"])
    status: Path = Path(f"/proc/{child.pid}/stat")
    for _ in range(500):
        if status.read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z":
            return child
        time.sleep(0.01)
    pytest.fail("the child did not become a zombie")


@pytest.fixture
def keptTree(tmp_path: Path, cli) -> tuple[Path, Path, dict[str, bytes]]:
    """A tree whose outputs all exist already, and those outputs."""
    for number in range(3):
        dataset_save(image_dataset(number + 1), tmp_path / "in" / "s1" / f"IM{number}.dcm")
    run = cli(tmp_path / "in", tmp_path / "out", "--tagStruct", RULES, "-v", "0")
    assert run.code == 0, run.err
    outputs: dict[str, bytes] = {
        name: (tmp_path / "out" / name).read_bytes() for name in files_under(tmp_path / "out")
    }
    return tmp_path / "in", tmp_path / "out", outputs


def leftover_make(outputDir: Path, pid: int, owned: bool = True) -> Path:
    """A temporary directory as a run on this host with that pid leaves it, half an output inside."""
    host: str = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())
    leftover: Path = outputDir / f".pfdicom_tagSub-tmp-{host}-{pid}-0123456789abcdef"
    leftover.mkdir()
    (leftover / f"{pid}-0.dcm").write_bytes(b"half an output")
    if owned:
        (leftover / ".pfdicom_tagSub-owner").write_text(
            f"pfdicom_tagSub: temporary files of one run; removed when the run ends\nhost {host}\npid {pid}\n"
        )
    return leftover


@pytest.mark.parametrize("owner", ["dead", "zombie", "running", "unowned"])
def test_a_rerun_removes_the_temporary_directories_of_dead_runs_only(
    keptTree: tuple[Path, Path, dict[str, bytes]], cli, owner: str
) -> None:
    inputDir, outputDir, outputs = keptTree
    child: subprocess.Popen[bytes] | None = None
    if owner == "zombie":
        if not Path("/proc/self/stat").exists():
            pytest.skip("no /proc: zombies cannot be told from running processes here")
        child = zombie_make()
    pid: int = {"running": os.getpid()}.get(owner) or (child.pid if child else 999999999)
    leftover: Path = leftover_make(outputDir, pid, owned=owner != "unowned")

    try:
        run = cli(inputDir, outputDir, "--tagStruct", RULES, "-v", "0")
    finally:
        if child is not None:
            child.wait()

    assert run.code == 0, run.err
    # another run at work keeps its files; a directory without the owner file is not a run's at all
    assert leftover.exists() == (owner in ("running", "unowned"))
    assert {name: (outputDir / name).read_bytes() for name in outputs} == outputs
