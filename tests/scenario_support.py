"""What the scenarios of "never destroy, never hang" share: the installed command run as a process
under a time limit and a memory cap, measured, and a sandbox it may write only a part of.

``command_measure`` runs the console script with an address-space cap (a blowup fails fast with
MemoryError instead of swapping) and a time limit (a hang fails the test instead of stalling the
suite), and gives back what it printed, its exit code, its wall time and the peak resident memory
of the process and of the workers it waited for. Set ``PFDICOM_ISSUE13_TABLE=<file>`` to have each
scenario's observations appended to a Markdown table there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pydicom

from tests.conftest import CliRun, console_script
from tests.safety_support import dataset_save, error_lines, image_dataset, tree_state

MEMORY_CAP: int = 512 << 20
TIME_LIMIT: float = 60.0
RULES: str = '{"PatientName": "ANON^PATIENT", "PatientID": "%_md5|7_PatientID"}'
GOOD: tuple[str, ...] = ("a/good1.dcm", "z/good2.dcm")
TEMP_NAME = re.compile(r"\.pfdicom_tagSub-tmp-.*-[0-9]+-[0-9a-f]{16}$|\.part$")
ERROR_PREFIX: str = "pfdicom_tagSub: error: "
TABLE_ENV: str = "PFDICOM_ISSUE13_TABLE"


@dataclass
class Measured(CliRun):
    """A run of the command, with its wall time (s), the peak resident memory (MB) of its processes,
    and its stdout as bytes."""

    seconds: float = 0.0
    peakMB: float = 0.0
    raw: bytes = b""


# a small launcher sets the cap and runs the command as its own child, then reports that child's
# peak memory (with its workers'): a process started from the test directly would count the test
# process's memory as its own (the pages it shares until exec)
LAUNCHER: str = """
import os, resource, sys
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
_pid, status, usage = os.wait4(pid, 0)
with open(sys.argv[2], "w") as report:
    report.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def command_measure(
    *args: object, cwd: Path | None = None, memoryCap: int = MEMORY_CAP, timeLimit: float = TIME_LIMIT
) -> Measured:
    """The installed command, under a memory cap and a time limit, measured.

    Raises:
        AssertionError: it ran past the time limit (it and its workers are killed first).
    """
    with tempfile.TemporaryDirectory() as scratch:
        paths: list[Path] = [Path(scratch) / name for name in ("out", "err", "peak")]
        with open(paths[0], "wb") as out, open(paths[1], "wb") as err:
            command: list[str] = [str(console_script()), *[str(arg) for arg in args]]
            start: float = time.monotonic()
            child = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(memoryCap), str(paths[2]), *command],
                stdout=out,
                stderr=err,
                cwd=cwd,
                start_new_session=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            try:
                child.wait(timeLimit)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                raise AssertionError(f"still running after {timeLimit} s: {args}") from None
            seconds: float = time.monotonic() - start
        raw: bytes = paths[0].read_bytes()
        texts: list[str] = [path.read_bytes().decode("utf-8", "replace") for path in paths]
    return Measured(child.returncode, texts[0], texts[1], seconds, int(texts[2] or 0) / 1024, raw)


@dataclass
class Sandbox:
    """A place where a run may only write under ``out``: ``in`` holds two good files."""

    root: Path

    @property
    def input(self) -> Path:
        return self.root / "in"

    @property
    def output(self) -> Path:
        return self.root / "out"

    def make(self) -> Sandbox:
        for number, name in enumerate(GOOD, start=1):
            dataset_save(image_dataset(number, patientID=f"MRN-{number}"), self.input / name)
        (self.root / "outside").mkdir(parents=True, exist_ok=True)
        return self

    def state(self) -> dict[str, object]:
        """Everything in the sandbox except what lies in the output tree."""
        return {
            name: entry
            for name, entry in tree_state(self.root).items()
            if name != "out" and not name.startswith("out" + os.sep)
        }


def temporaries(root: Path) -> list[str]:
    """Every temporary file or directory of this tool anywhere under a tree."""
    return [
        os.path.join(directory, name)
        for directory, dirs, names in os.walk(root)
        for name in [*dirs, *names]
        if TEMP_NAME.search(name)
    ]


def line_assert(run: CliRun, code: int, pattern: str) -> str:
    """The exit code, no traceback, and the one line the user must see: the only error line when the
    run failed, else a line of its output (and no error line at all). Returns that line."""
    assert run.code == code, f"exit {run.code}\nstdout:\n{run.out}\nstderr:\n{run.err}"
    assert "Traceback" not in run.err and "Error:" not in run.err.replace("error:", ""), run.err
    errors: list[str] = error_lines(run.err)
    if code == 0:
        assert errors == [], run.err
        lines: list[str] = [line for line in (run.out + run.err).splitlines() if re.fullmatch(pattern, line)]
        assert len(lines) == 1, f"no line {pattern!r} in\n{run.out}{run.err}"
        return lines[0]
    assert len(errors) == 1, run.err
    assert re.fullmatch(re.escape(ERROR_PREFIX) + pattern, errors[0]), f"{errors[0]!r} !~ {pattern!r}"
    if code == 2:  # refused before the run: the error line is all there is
        assert run.out == "" and run.err.count("\n") == 1, run.out + run.err
    return errors[0]


def written_assert(output: Path, names: tuple[str, ...] = GOOD) -> None:
    """Each good file was written, whole, with the rules applied."""
    for name in names:
        assert str(pydicom.dcmread(output / name).PatientName) == "ANON^PATIENT", name


def observation_record(scenario: str, line: str, run: Measured) -> None:
    """Append a scenario's observations to the table named by ``PFDICOM_ISSUE13_TABLE``, if set."""
    observation_write(scenario, line, str(run.code), f"{run.seconds:.2f} s", f"{run.peakMB:.0f} MB")


def observation_write(scenario: str, line: str, code: str, seconds: str, peak: str) -> None:
    """Append one row to the table named by ``PFDICOM_ISSUE13_TABLE``, if set."""
    target: str | None = os.environ.get(TABLE_ENV)
    if not target:
        return
    cell: str = line.replace("|", "\\|")
    with open(target, "a", encoding="utf-8") as table:
        table.write(f"| {scenario} | `{cell}` | {code} | {seconds} | {peak} |\n")
