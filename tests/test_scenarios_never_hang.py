"""Never hang: a dead worker, Ctrl-C, SIGTERM and a killed parent each end the run, cleanly.

The installed command runs with two workers on a tree of a few hundred small files, in a process
group of its own, as a shell runs a command. Ctrl-C is SIGINT to the whole group (what a
terminal sends); ``docker stop`` is SIGTERM to the main process only; the OOM killer is SIGKILL
to one process. Each interrupt is tried many times at random moments, some of them just as the
workers start, and every try must end within 5 s with one line and the right exit code, with no
traceback, no worker left running, no temporary file left, and only whole outputs.

A signal is sent once the program's ``main`` has set its handlers (seen in /proc): before that,
the interpreter is still starting and a Ctrl-C is Python's own. ``PFDICOM_SIGNAL_TRIES`` sets the
number of Ctrl-C tries (SIGTERM gets a third as many).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from tests.conftest import console_script
from tests.safety_support import dataset_save, files_under, image_dataset, tree_state
from tests.scenario_support import RULES, observation_write, temporaries

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads process state in /proc")

DIRECTORIES: int = 6
FILES_PER_DIRECTORY: int = 30
FILES: int = DIRECTORIES * FILES_PER_DIRECTORY
SIGINT_TRIES: int = int(os.environ.get("PFDICOM_SIGNAL_TRIES", "40"))
SIGTERM_TRIES: int = max(1, SIGINT_TRIES // 3)
END_SECONDS: float = 5.0
WORKERS_END_SECONDS: float = 2.0
HANG_SECONDS: float = 30.0
NOTE: str = "pfdicom_tagSub: warning: --threads 2: 1 worker"  # on a machine of one core
INTERRUPTED = re.compile(
    rf"pfdicom_tagSub: interrupted(: (\d+) of {FILES} files written| before any file was processed); "
    "run again to complete"
)


@pytest.fixture(scope="module")
def signalTree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputDir: Path = tmp_path_factory.mktemp("signals") / "in"
    for directory in range(DIRECTORIES):
        for number in range(FILES_PER_DIRECTORY):
            serial: int = directory * FILES_PER_DIRECTORY + number + 1
            dataset_save(
                image_dataset(serial, patientID=f"MRN{directory:03d}"),
                inputDir / f"p{directory}" / f"{number}.dcm",
            )
    return inputDir


def interactive_signals() -> None:
    """In the child: SIGINT as an interactive shell leaves it (not ignored, as it is for a job that
    was started in the background of a script, which the tool rightly leaves ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_start(inputDir: Path, outputDir: Path, *extra: str) -> subprocess.Popen[str]:
    """The command with two workers, in a process group of its own, as a shell starts it."""
    return subprocess.Popen(
        [str(console_script()), str(inputDir), str(outputDir), "-T", RULES, "--threads", "2", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=interactive_signals,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
    )


def handlers_set(pid: int) -> bool:
    """Whether the process catches SIGTERM: its ``main`` has set its handlers."""
    try:
        status: str = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # it has ended
    caught: re.Match[str] | None = re.search(r"SigCgt:\s*([0-9a-f]+)", status)
    return caught is not None and bool(int(caught.group(1), 16) & (1 << (signal.SIGTERM - 1)))


def main_await(process: subprocess.Popen[str]) -> None:
    while not handlers_set(process.pid) and process.poll() is None:
        time.sleep(0.002)


def process_state(pid: int) -> tuple[int, str] | None:
    """A process's group and state letter; None when it is gone."""
    try:
        fields: list[str] = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[2]), fields[0]


def process_ended(pid: int) -> bool:
    """Gone, or a zombie (ended, not yet reaped by whoever adopted it)."""
    state: tuple[int, str] | None = process_state(pid)
    return state is None or state[1] in ("Z", "X")


def group_running(group: int) -> list[int]:
    """The processes of a process group that have not ended (zombies have)."""
    running: list[int] = []
    for entry in os.listdir("/proc"):
        state: tuple[int, str] | None = process_state(int(entry)) if entry.isdigit() else None
        if state is not None and state[0] == group and state[1] not in ("Z", "X"):
            running.append(int(entry))
    return running


def workers_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def outputs_checkWhole(outputDir: Path) -> int:
    """Every output with its final name is whole, rules applied; how many there are."""
    names: list[str] = files_under(outputDir)
    for name in names:
        assert str(pydicom.dcmread(outputDir / name).PatientName) == "ANON^PATIENT", name
    return len(names)


@dataclass
class Try:
    """One interrupted run: its exit code, what it printed, and the time from the signal to its end."""

    code: int
    out: str
    err: str
    seconds: float


def interrupt_try(
    inputDir: Path, outputDir: Path, number: int, toGroup: bool, moment: float, atStart: bool
) -> Try:
    """Run, send the signal at a moment (just after the start line, when the workers start, if
    ``atStart``), and wait for the end."""
    process = run_start(inputDir, outputDir)
    main_await(process)
    if atStart:
        assert process.stdout is not None
        process.stdout.readline()
    time.sleep(moment)
    sent: float = time.monotonic()
    try:
        if toGroup:
            os.killpg(process.pid, number)
        else:
            os.kill(process.pid, number)
    except ProcessLookupError:
        pass  # it had ended
    try:
        out, err = process.communicate(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"the run hung after signal {number}")
    seconds: float = time.monotonic() - sent
    deadline: float = time.monotonic() + WORKERS_END_SECONDS
    while group_running(process.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert group_running(process.pid) == [], "workers still running after the run ended"
    return Try(process.returncode, out, err, seconds)


def try_check(attempt: Try, outputDir: Path, interruptedCode: int) -> bool:
    """One try ended as it must; True when it was interrupted (else it had finished)."""
    context: str = f"exit {attempt.code} after {attempt.seconds:.2f} s\nstderr:\n{attempt.err}"
    assert attempt.code in (0, interruptedCode), context
    assert attempt.seconds < END_SECONDS, context
    for forbidden in ("Traceback", "Process ", "BrokenPipe", "Error"):
        assert forbidden not in attempt.err, context
    assert temporaries(outputDir.parent) == [], context
    written: int = outputs_checkWhole(outputDir)
    if attempt.code == 0:
        assert written == FILES, context
        return False
    lines: list[str] = [line for line in attempt.err.splitlines() if not line.startswith(NOTE)]
    assert len(lines) == 1 and INTERRUPTED.fullmatch(lines[0]), context
    count: re.Match[str] | None = INTERRUPTED.fullmatch(lines[0])
    assert count is not None and int(count.group(2) or 0) == written, context  # the count is exact
    return True


@pytest.mark.parametrize(
    ("number", "toGroup", "code", "tries"),
    [(signal.SIGINT, True, 130, SIGINT_TRIES), (signal.SIGTERM, False, 143, SIGTERM_TRIES)],
    ids=["Ctrl-C to the process group", "SIGTERM to the main process (docker stop)"],
)
def test_an_interrupt_at_any_moment_ends_the_run_with_one_line_and_nothing_left_behind(
    signalTree: Path, tmp_path: Path, number: int, toGroup: bool, code: int, tries: int
) -> None:
    before = tree_state(signalTree)
    rng = random.Random(20240115 + number)
    interrupted: int = 0
    slowest: float = 0.0
    for attempt in range(tries):
        outputDir: Path = tmp_path / f"try{attempt}" / "out"
        outputDir.parent.mkdir()
        atStart: bool = attempt % 3 == 0
        moment: float = rng.uniform(0.0, 0.03) if atStart else rng.uniform(0.0, 0.8)
        result: Try = interrupt_try(signalTree, outputDir, number, toGroup, moment, atStart)
        interrupted += try_check(result, outputDir, code)
        slowest = max(slowest, result.seconds)
    assert tree_state(signalTree) == before
    assert interrupted >= tries // 2, f"only {interrupted} of {tries} tries interrupted the run"
    observation_write(
        f"{signal.Signals(number).name}, {tries} tries ({interrupted} interrupted)",
        f"pfdicom_tagSub: interrupted: N of {FILES} files written; run again to complete",
        str(code),
        f"at most {slowest:.2f} s from the signal",
        "-",
    )


needsTwoCores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: no worker processes")


@needsTwoCores
def test_a_worker_killed_mid_run_has_its_files_redone_and_the_run_ends(
    signalTree: Path, tmp_path: Path
) -> None:
    before = tree_state(signalTree)
    process = run_start(signalTree, tmp_path / "out", "-v", "5")
    assert process.stdout is not None
    saved: int = 0
    while saved < 10:
        saved += process.stdout.readline().startswith("saved: ")
    os.kill(workers_of(process.pid)[0], signal.SIGKILL)  # as the OOM killer does
    killed: float = time.monotonic()

    out, err = process.communicate(timeout=HANG_SECONDS)
    ended: float = time.monotonic() - killed

    summary: str = (
        f"{FILES} files found: {FILES} read, {FILES} written, 0 kept (output exists), 0 not DICOM, 0 failed"
    )
    assert process.returncode == 0, err[-3000:]
    assert summary in out
    assert "Traceback" not in err and "Process " not in err
    assert outputs_checkWhole(tmp_path / "out") == FILES
    assert temporaries(tmp_path) == [] and tree_state(signalTree) == before
    observation_write(
        "a worker killed (SIGKILL) mid-run: its files redone in a fresh one",
        summary,
        "0",
        f"ended {ended:.2f} s after the kill",
        "-",
    )


@needsTwoCores
def test_workers_end_silently_within_2_s_when_the_main_process_is_killed(
    signalTree: Path, tmp_path: Path
) -> None:
    process = run_start(signalTree, tmp_path / "out", "-v", "5")
    assert process.stdout is not None
    saved: int = 0
    while saved < 5:
        saved += process.stdout.readline().startswith("saved: ")
    workers: list[int] = workers_of(process.pid)
    assert len(workers) == 2

    process.kill()
    killed: float = time.monotonic()
    process.wait()
    while not all(process_ended(pid) for pid in workers):
        assert time.monotonic() - killed < WORKERS_END_SECONDS, "a worker outlived its parent by 2 s"
        time.sleep(0.01)
    gone: float = time.monotonic() - killed

    _out, err = process.communicate(timeout=HANG_SECONDS)  # the workers held stderr open until they ended
    assert "Traceback" not in err and "Error" not in err, err[-3000:]
    observation_write(
        "the main process killed (SIGKILL)",
        "(nothing: the workers end silently)",
        "-9",
        f"workers gone {gone:.2f} s after the kill",
        "-",
    )
