#!/usr/bin/env python3
"""Benchmark pfdicom_tagSub against ``cp -r``, a pydicom loop, DCMTK and GDCM, on inputs it builds itself.

Inputs (built once under the work directory, reused by later runs):
    - ``tree``: at least 1000 real files copied from pydicom's bundled test files (those both
      pydicom and this tool rewrite), spread over 20 series directories;
    - ``big``: one directory of 150 files of at least 5 MB each, generated with pydicom
      (``big2``: twice as many, for the memory check);
    - ``gigabyte``: one file of 1 GB (``--gb-mb``), for the memory of a single large file;
    - with ``--scale``: ``scale10k`` and ``scale100k``, 10,000 and 100,000 copies of one small
      file in series directories of 500.

Runs, side by side: the tool with 1 and with 2 workers and with its default worker count (no
``--threads``: every core it may use), a bare pydicom read-modify-write loop (the README's rules
computed simply: ``dcmread``, set, ``dataset.walk`` for the ``re:`` keys, ``save_as``), ``cp -r``,
and where installed DCMTK's ``dcmodify`` and GDCM's ``gdcmanon`` with comparable rules (``peers``);
on the tree and the big directory, the tool with one worker and ``--verify`` too, for its cost;
optionally the original tool, and an earlier version (``--baseline``: 4.0) whose outputs are
compared file by file with this tool's. Each run is a child process; its wall time and peak RSS
(largest process, sampled from ``/proc``) are printed with files/s, MB/s and the ratios to
``cp -r``, to ``dcmodify``, to the pydicom loop and to the baseline, then the targets of issues
4 and 12, each met or not.

With ``--dask``, also: a local Dask cluster of real processes (``dask scheduler`` and two
``dask worker --nthreads 1``, from the venv of ``--script``, stopped by their PIDs at the end),
and the tree (and a tree of one file, for the start-up) run with ``--dask`` against the process
pool of two workers; the ratio of their times and the Dask tasks' overhead per file.

Typical usage (from the repository root, in a venv where the tool is installed):
    python benchmarks/benchmark.py                       # about five minutes on 2 cores
    python benchmarks/benchmark.py --scale               # also 10k and 100k small files
    python benchmarks/benchmark.py --original /path/to/venv-with-pfdicom_tagSub-3.1.1
    python benchmarks/benchmark.py --baseline /path/to/venv-with-an-earlier-version  # side by side
    python benchmarks/benchmark.py --dask                # also a local Dask cluster of 2 workers
    python benchmarks/benchmark.py --dask-only --repeat 5   # only that comparison (a minute or two)

Dependencies:
    - pydicom (its bundled test files), the installed ``pfdicom_tagSub`` console script, ``cp``
    - optionally ``dcmodify`` and ``gdcmanon`` (``apt-get install dcmtk libgdcm-tools``)
    - with ``--dask``: the ``dask`` command beside that script (``pip install '.[dask]'``)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peers import (
    DCMODIFY_LABEL,
    GDCMANON_LABEL,
    TreeComparison,
    dcmodify_command,
    gdcmanon_loop,
    peers_available,
    tree_files,
    trees_compare,
)

HERE: Path = Path(__file__).resolve().parent
WORK_DEFAULT: Path = HERE / "work"
SERIES: int = 20
MB: float = 1e6
SAMPLE_SECONDS: float = 0.05
KEEP_BYTES: float = 2e9
SCALE_FILES_MIN: int = 10_000
DASK_WORKERS: int = 2
DASK_START_TIMEOUT: float = 120
DASK_OVERHEAD_TARGET: float = 0.05
DASK_EMPTY_TASKS: int = 300
POOL_LABEL: str = "tool, 2 workers"
DASK_LABEL: str = "tool, 2 on Dask"
VERIFY_LABEL: str = "tool, 1 worker, --verify"
DEFAULT_LABEL: str = "tool, default workers"
PEER_LABELS: frozenset[str] = frozenset({DCMODIFY_LABEL, GDCMANON_LABEL})
ONE_LABEL: str = "tool, 1 worker"
BASELINE_ONE_LABEL: str = "baseline, 1 worker"

# the README rules, as the example ships them
README_RULES: dict[str, str] = json.loads(
    (Path(__file__).resolve().parent.parent / "examples" / "anonymize.json").read_text()
)


# ----------------------------------------------------------------------------------------------
# the bare pydicom loop: what a user writes without this tool (run as a child of this script)


def md5_text(text: str, count: int) -> str:
    """The first ``count`` hex characters of md5(text)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:count]


def bare_transform(dataset: object) -> None:
    """The README's rules, computed simply, on one data set (the name is an md5, not Faker's)."""
    from pydicom.dataset import Dataset

    assert isinstance(dataset, Dataset)
    if "PatientName" in dataset:
        dataset.PatientName = "ANON^" + md5_text(str(dataset.get("PatientID", "")), 8)
    if "PatientID" in dataset:
        dataset.PatientID = md5_text(str(dataset.PatientID), 7)
    if "AccessionNumber" in dataset:
        dataset.AccessionNumber = md5_text(str(dataset.AccessionNumber or ""), 8)
    if "PatientBirthDate" in dataset:
        birth: str = str(dataset.PatientBirthDate or "")
        dataset.PatientBirthDate = "".join(
            kept if masked == "*" else masked for kept, masked in zip(birth, "******01", strict=False)
        )
    physician = re.compile(".*hysician")
    institution = re.compile(".*stitution|.*ddress")

    def element_visit(_dataset: Dataset, element: object) -> None:
        keyword: str = getattr(element, "keyword", "")
        if not keyword or getattr(element, "VR", "") == "SQ":
            return
        if physician.match(keyword):
            element.value = md5_text(keyword, 4)  # type: ignore[attr-defined]
        elif institution.match(keyword):
            element.value = keyword  # type: ignore[attr-defined]

    dataset.walk(element_visit)


def bare_loop(inputDir: Path, outputDir: Path) -> int:
    """dcmread, modify, save_as every file of a tree into the same place in another tree."""
    import warnings

    import pydicom

    warnings.simplefilter("ignore")  # as the tool does: pydicom warns on odd values in its test files

    count: int = 0
    for directory, _dirs, names in os.walk(inputDir):
        target: Path = outputDir / Path(directory).relative_to(inputDir)
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(names):
            dataset = pydicom.dcmread(os.path.join(directory, name))
            bare_transform(dataset)
            dataset.save_as(target / name, enforce_file_format=False)
            count += 1
    return count


# ----------------------------------------------------------------------------------------------
# inputs


def tree_bytes(root: Path) -> tuple[int, int]:
    """(files, bytes) under a tree."""
    files: int = 0
    size: int = 0
    for directory, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(directory, name))
    return files, size


def candidates_find() -> list[Path]:
    """pydicom's bundled files that pydicom and this tool both read, rewrite and write."""
    import io
    import warnings

    import pydicom
    from pydicom.data import get_testdata_files

    from pfdicom_tagSub.pfdicom_tagSub import pfdicom_tagSub

    warnings.simplefilter("ignore")
    readable: list[Path] = []
    for name in sorted(get_testdata_files()):
        path: Path = Path(name)
        if not path.is_file():
            continue
        with open(path, "rb") as stream:
            if stream.read(132)[128:] != b"DICM":
                continue
        try:
            dataset = pydicom.dcmread(path)
            bare_transform(dataset)
            dataset.save_as(io.BytesIO(), enforce_file_format=False)
        except Exception:  # a file pydicom itself cannot rewrite is no benchmark input
            continue
        readable.append(path)
    with tempfile.TemporaryDirectory() as scratch:
        inputDir: Path = Path(scratch) / "in"
        inputDir.mkdir()
        for index, path in enumerate(readable):
            shutil.copyfile(path, inputDir / f"{index:04d}-{path.name}")
        app = pfdicom_tagSub(
            {"inputDir": str(inputDir), "outputDir": f"{scratch}/out", "tagStruct": json.dumps(README_RULES)}
            | {"verbosity": 0}
        )
        with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
            record: Any = app.run()["d_tagSub"]
        refused: set[str] = {Path(entry["file"]).name for entry in record["failed"]}
    return [path for index, path in enumerate(readable) if f"{index:04d}-{path.name}" not in refused]


def tree_build(root: Path, count: int) -> None:
    """``count`` real files in 20 series directories, copied round-robin from pydicom's.

    Rebuilt when the files the tool and pydicom rewrite change (another pydicom, a fix).
    """
    sources: list[Path] = candidates_find()
    manifest: Path = root.parent / f"{root.name}.sources"
    listing: str = "\n".join(path.name for path in sources) + f"\n{count}\n"
    if root.is_dir() and manifest.is_file() and manifest.read_text() == listing:
        return
    shutil.rmtree(root, ignore_errors=True)
    for index in range(count):
        series: Path = root / f"patient{index % 4:02d}" / f"series{index % SERIES:02d}"
        series.mkdir(parents=True, exist_ok=True)
        source: Path = sources[index % len(sources)]
        shutil.copyfile(source, series / f"IM{index:06d}-{source.stem}.dcm")
    manifest.write_text(listing)


def one_build(root: Path, tree: Path) -> None:
    """A tree of one file of ``tree`` with a PatientName (so Faker loads): what a run costs before
    its files do."""
    import pydicom

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    first: Path = next(
        path for path in sorted(tree.rglob("*.dcm")) if "PatientName" in pydicom.dcmread(path, force=True)
    )
    shutil.copyfile(first, root / first.name)


def big_build(root: Path, count: int, megabytes: float) -> None:
    """``count`` files of at least ``megabytes`` MB: CT_small's header over a large 16-bit image."""
    if root.is_dir() and tree_bytes(root)[0] == count:
        return
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    dataset = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))
    side: int = int((megabytes * MB / 2) ** 0.5) + 8
    dataset.Rows = dataset.Columns = side
    pixels: bytes = os.urandom(side * side * 2)
    dataset.PixelData = pixels
    series: str = generate_uid()
    for index in range(count):
        dataset.SeriesInstanceUID = series
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.InstanceNumber = index + 1
        dataset.save_as(root / f"IM{index:06d}.dcm", enforce_file_format=False)


def gigabyte_build(root: Path, megabytes: float) -> None:
    """One file of ``megabytes`` MB: CT_small's header over one large 16-bit image, its pixel data
    streamed from a file of random bytes (never whole in memory)."""
    import pydicom
    from pydicom.data import get_testdata_file

    side: int = int((megabytes * MB / 2) ** 0.5)
    target: Path = root / "IM000001.dcm"
    if target.is_file() and target.stat().st_size >= side * side * 2:
        return
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    raw: Path = root.parent / f"{root.name}.raw"
    with open(raw, "wb") as stream:
        remaining: int = side * side * 2
        while remaining:
            chunk: bytes = os.urandom(min(remaining, 1 << 24))
            stream.write(chunk)
            remaining -= len(chunk)
    dataset = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))
    dataset.Rows = dataset.Columns = side
    with open(raw, "rb") as pixels:
        dataset.PixelData = pixels  # pydicom writes a buffered value in chunks
        dataset.save_as(target, enforce_file_format=False)
    raw.unlink()


def scale_build(root: Path, count: int, source: Path) -> None:
    """``count`` copies (real files) of one small file, in series directories of 500."""
    if root.is_dir() and tree_bytes(root)[0] == count:
        return
    shutil.rmtree(root, ignore_errors=True)
    for index in range(count):
        series: Path = root / f"series{index // 500:04d}"
        if index % 500 == 0:
            series.mkdir(parents=True)
        shutil.copyfile(source, series / f"IM{index:06d}.dcm")


# ----------------------------------------------------------------------------------------------
# measuring


@dataclass
class Measure:
    """One run: what, on how much, how long, how much memory."""

    label: str
    files: int
    size: int
    wall: float
    cpu: float
    rss: int
    rssTotal: int
    code: int
    stdout: str = ""
    stderr: str = ""
    written: int = 0

    @property
    def filesPerSecond(self) -> float:
        return self.files / self.wall if self.wall else 0.0

    @property
    def mbPerSecond(self) -> float:
        return self.size / MB / self.wall if self.wall else 0.0


def memory_kib(pid: int, path: str, field: str) -> int:
    """A memory figure of ``/proc/<pid>/<path>`` in KiB (``status`` VmHWM, ``smaps_rollup`` Pss).

    0 once the process is gone.
    """
    try:
        with open(f"/proc/{pid}/{path}", "rb") as stream:
            for line in stream:
                if line.startswith(field.encode()):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def descendants_find(root: int) -> list[int]:
    """The process and every process below it, from the parent ids in ``/proc``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                # the name in parentheses may hold spaces; the parent id follows the last ')'
                parents[int(entry)] = int(stream.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found: list[int] = [root]
    for pid in found:
        found.extend(child for child, parent in parents.items() if parent == pid)
    return found


class MemoryWatch:
    """Samples a process tree's memory while it runs.

    ``wait4``'s ``ru_maxrss`` cannot be used: Linux keeps it across ``exec``, so every child of
    this (large) Python process would report at least this process's size.

    Attributes:
        peak: the largest high-water mark (``VmHWM``) of any one process, in bytes.
        total: the largest sum of the tree's proportional set sizes at one moment, in bytes
            (pages shared by forked workers counted once, split between them).
    """

    def __init__(self, pid: int) -> None:
        self.pid: int = pid
        self.pids: list[int] = [pid]
        self.peak: int = 0
        self.total: int = 0
        self.samples: int = 0

    def sample(self) -> None:
        if self.samples % 5 == 0:
            self.pids = descendants_find(self.pid)
        self.samples += 1
        self.peak = max([self.peak, *(memory_kib(pid, "status", "VmHWM:") * 1024 for pid in self.pids)])
        self.total = max(self.total, sum(memory_kib(pid, "smaps_rollup", "Pss:") * 1024 for pid in self.pids))


def command_measure(label: str, command: Sequence[str], files: int, size: int) -> Measure:
    """Run a command; its wall time, CPU time, memory (sampled every 0.05 s) and stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start: float = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        watch: MemoryWatch = MemoryWatch(child.pid)
        sampled: float = 0.0
        while True:
            if time.perf_counter() - sampled >= SAMPLE_SECONDS:
                watch.sample()
                sampled = time.perf_counter()
            _pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if _pid:
                break
            time.sleep(0.002)  # the wall time is known to 2 ms; memory is sampled less often
        wall: float = time.perf_counter() - start
        code: int = os.waitstatus_to_exitcode(status)
        child.returncode = code
        # user + system time of the process and of every child it waited for (its workers)
        cpu: float = usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        stdout: str = out.read().decode(errors="replace")
        stderr: str = err.read().decode(errors="replace")
        # the table says why --verify ended 1; a peer ends so when it refuses a file, as some of pydicom's
        if code != 0 and not (label == VERIFY_LABEL and code == 1) and label not in PEER_LABELS:
            print(f"  ! {label}: exit {code}: {(stderr.strip().splitlines() or [''])[-1][:300]}")
    return Measure(label, files, size, wall, cpu, watch.peak, watch.total, code, stdout, stderr)


def tree_warm(root: Path) -> None:
    """Read every file once, so that no run pays for a cold page cache."""
    for directory, _dirs, names in os.walk(root):
        for name in names:
            with open(os.path.join(directory, name), "rb") as stream:
                while stream.read(1 << 20):
                    pass


def output_clear(path: Path) -> None:
    """Remove an output tree and flush its dirty pages, so no run inherits another's writeback."""
    shutil.rmtree(path, ignore_errors=True)
    os.sync()


def tool_command(
    script: str, inputDir: Path, outputDir: Path, rules: Path, workers: int | None, dask: str = ""
) -> list[str]:
    """This tool's command line: README rules, default verbosity, the JSON record on stdout; the
    files on ``workers`` local processes (None: no ``--threads``, the default count), or on the
    Dask cluster at ``dask``."""
    where: list[str] = ["--dask", dask] if dask else [] if workers is None else ["--threads", str(workers)]
    return [script, "-I", str(inputDir), "-O", str(outputDir), "-F", str(rules), *where, "--json"]


def original_command(venv: Path, inputDir: Path, outputDir: Path, rules: Path) -> list[str]:
    """The original 3.1.1's command line (pftree 3's long flags)."""
    return [
        str(venv / "bin" / "pfdicom_tagSub"),
        "--inputDir",
        str(inputDir),
        "--outputDir",
        str(outputDir),
        "--tagStruct",
        rules.read_text(),
        "--threads",
        "0",
        "--verbosity",
        "0",
    ]


def tree_digest(root: Path) -> str:
    """One digest of every file's relative path and bytes: two equal trees give one digest."""
    digest = hashlib.sha256()
    for directory, dirs, names in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(names):
            path: str = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as stream:
                digest.update(hashlib.sha256(stream.read()).digest())
    return digest.hexdigest()


@dataclass
class Suite:
    """The runs over one input tree; whether 1 and 2 workers (and the default count) gave the same
    outputs and record; this tool's outputs with one worker against the baseline's, file by file."""

    name: str
    inputDir: Path
    measures: list[Measure]
    identical: bool | None = None
    baseline: TreeComparison | None = None

    def get(self, label: str) -> Measure | None:
        return next((measure for measure in self.measures if measure.label == label), None)


def runs_list(
    kind: str, inputDir: Path, output: Path, rules: Path, options: argparse.Namespace
) -> list[tuple[str, list[str]]]:
    """The commands of a suite: ``all`` of them, the ``tool`` with 1 and 2 workers, ``one`` worker,
    a ``single`` large file (``cp``, one worker, the baseline); ``dask``: the pool of 2 workers
    and the local Dask cluster."""
    script: str = options.script
    if kind == "dask":
        return [
            (POOL_LABEL, tool_command(script, inputDir, output, rules, DASK_WORKERS)),
            (DASK_LABEL, tool_command(script, inputDir, output, rules, DASK_WORKERS, options.daskAddress)),
        ]
    runs: list[tuple[str, list[str]]] = [(ONE_LABEL, tool_command(script, inputDir, output, rules, 1))]
    baseline: str = str(options.baseline / "bin" / "pfdicom_tagSub") if options.baseline else ""
    if kind == "single":
        runs.insert(0, ("cp -r", ["cp", "-r", str(inputDir), str(output)]))
        if baseline:
            runs.append((BASELINE_ONE_LABEL, tool_command(baseline, inputDir, output, rules, 1)))
        return runs
    if kind != "one":
        runs.append(("tool, 2 workers", tool_command(script, inputDir, output, rules, 2)))
    if kind == "all":
        runs.append((DEFAULT_LABEL, tool_command(script, inputDir, output, rules, None)))
    if baseline and kind != "one":
        runs.append((BASELINE_ONE_LABEL, tool_command(baseline, inputDir, output, rules, 1)))
        runs.append(("baseline, 2 workers", tool_command(baseline, inputDir, output, rules, 2)))
    if kind == "all":
        # --verify's cost: the same run, each output searched before it is placed
        runs.append((VERIFY_LABEL, [*tool_command(script, inputDir, output, rules, 1), "--verify"]))
        runs[:0] = [
            ("cp -r", ["cp", "-r", str(inputDir), str(output)]),
            ("pydicom loop", [sys.executable, __file__, "--bare-loop", str(inputDir), str(output)]),
        ]
        runs += peer_runs(inputDir, output, options)
        if options.original:
            runs.append(("original 3.1.1", original_command(options.original, inputDir, output, rules)))
    return runs


def peer_runs(inputDir: Path, output: Path, options: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """DCMTK's and GDCM's runs over the same tree, where installed (not with ``--no-peers``)."""
    found: dict[str, str] = peers_available() if options.peers else {}
    runs: list[tuple[str, list[str]]] = []
    if DCMODIFY_LABEL in found:
        runs.append((DCMODIFY_LABEL, dcmodify_command(found[DCMODIFY_LABEL], inputDir, output)))
    if GDCMANON_LABEL in found:
        loop: list[str] = [sys.executable, __file__, "--gdcmanon-loop", found[GDCMANON_LABEL]]
        runs.append((GDCMANON_LABEL, [*loop, str(inputDir), str(output)]))
    return runs


def suite_run(
    name: str, inputDir: Path, work: Path, rules: Path, options: argparse.Namespace, kind: str
) -> Suite:
    """Run each command of the suite ``--repeat`` times, keeping its fastest run.

    The rounds interleave the commands (a, b, c, a, b, c, ...) so that a change in the machine's
    speed during the suite (other work, the host) weighs on all of them alike.
    """
    files, size = tree_bytes(inputDir)
    tree_warm(inputDir)
    # ext4 skips inodes freed in the last minutes when it allocates new ones, so a run that creates
    # files right after thousands were deleted pays for it; small outputs are kept until the suite
    # ends (each run writes a new tree), only large ones are deleted between runs
    keep: bool = size * (4 * options.repeat + 1) < KEEP_BYTES
    best: dict[str, Measure] = {}
    seen: dict[str, tuple[str, str, str]] = {}
    files_: dict[str, dict[str, tuple[bytes, bytes, bool]]] = {}
    labels: list[str] = [label for label, _command in runs_list(kind, inputDir, work, rules, options)]
    runNumber: int = 0
    # the 10k and 100k trees are there for linearity, not for a best time: once is enough
    rounds: int = 1 if files >= SCALE_FILES_MIN else options.repeat
    for _round in range(rounds):
        for index, label in enumerate(labels):
            output: Path = work / f"out-{name}-{runNumber}"
            runNumber += 1
            command: list[str] = runs_list(kind, inputDir, output, rules, options)[index][1]
            measure: Measure = command_measure(label, command, files, size)
            measure.written = tree_bytes(output)[0] if output.is_dir() else 0
            if label not in best or measure.wall < best[label].wall:
                best[label] = measure
            if label.startswith("tool") and label != VERIFY_LABEL:
                record: str = record_stable(measure.stdout.replace(str(output), "<out>"))
                summary: str = summary_stable(measure.stderr.replace(str(output), "<out>"))
                seen[label] = (tree_digest(output), record, summary)
            if label in (ONE_LABEL, BASELINE_ONE_LABEL):
                files_[label] = tree_files(output)
            if not keep:
                output_clear(output)
    for number in range(runNumber):
        shutil.rmtree(work / f"out-{name}-{number}", ignore_errors=True)
    os.sync()
    identical: bool | None = len(set(seen.values())) == 1 if len(seen) > 1 else None
    baseline: TreeComparison | None = (
        trees_compare(files_[ONE_LABEL], files_[BASELINE_ONE_LABEL]) if BASELINE_ONE_LABEL in files_ else None
    )
    return Suite(name, inputDir, [best[label] for label in labels], identical, baseline)


def summary_stable(stderr: str) -> str:
    """A run's summary and warnings, less what names the worker count: the start line, and the note
    that fewer workers than ``--threads`` asked were started."""
    lines: list[str] = [line for line in stderr.splitlines() if "warning: --threads " not in line]
    return "\n".join(lines[1:])


def record_stable(stdout: str) -> str:
    """A run's ``--json`` record less what may differ between equal runs (timings, workers, cluster)."""
    try:
        record: dict[str, Any] = json.loads(stdout)
    except ValueError:
        return stdout
    record.pop("runTime", None)
    record.get("d_pfdicom", {}).pop("threads", None)
    record.get("d_pfdicom", {}).pop("workers", None)
    record.get("d_pfdicom", {}).pop("dask", None)
    return json.dumps(record, sort_keys=True)


# ----------------------------------------------------------------------------------------------
# a local Dask cluster (--dask)


@dataclass
class LocalCluster:
    """A ``dask scheduler`` and its ``dask worker`` processes on 127.0.0.1, each started here and
    stopped by its PID.

    The workers have one thread each (pydicom is pure Python) and no nanny, so that each is one
    process, as each worker of the pool is.
    """

    directory: Path
    processes: list[subprocess.Popen[bytes]]
    address: str = ""

    @classmethod
    def start(cls, dask: Path, directory: Path, workers: int) -> LocalCluster:
        """Start the scheduler, then the workers; return once every worker has registered."""
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        local: list[str] = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
        cluster: LocalCluster = cls(directory, [])
        try:
            schedulerFile: Path = directory / "scheduler.json"
            cluster.spawn(
                dask,
                "scheduler",
                ["scheduler", "--port", "0", *local, "--scheduler-file", str(schedulerFile)],
            )
            cluster.wait(lambda: "address" in json_read(schedulerFile), "the scheduler")
            cluster.address = json_read(schedulerFile)["address"]
            for number in range(workers):
                name: str = f"worker{number}"
                scratch: list[str] = ["--local-directory", str(directory / name)]
                cluster.spawn(
                    dask, name, ["worker", cluster.address, "--nthreads", "1", "--no-nanny", *local, *scratch]
                )
                log: Path = directory / f"{name}.log"
                cluster.wait(lambda log=log: b"Registered to:" in log.read_bytes(), name)  # type: ignore[misc]
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def spawn(self, dask: Path, name: str, arguments: list[str]) -> None:
        # Dask's scratch space in the cluster's directory, not in the system's temporary directory
        scratch: dict[str, str] = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(self.directory)}
        with open(self.directory / f"{name}.log", "wb") as log:
            command: list[str] = [str(dask), *arguments]
            self.processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=scratch)
            )

    def wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline: float = time.monotonic() + DASK_START_TIMEOUT
        while not ready():
            if time.monotonic() > deadline or any(process.poll() is not None for process in self.processes):
                raise RuntimeError(f"{what} did not start: see the logs in {self.directory}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Workers first, then the scheduler: SIGTERM, and SIGKILL for one still there after 10 s."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def json_read(path: Path) -> dict[str, Any]:
    """A JSON file; empty while it is missing or being written."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def dask_print(suites: dict[str, Suite], taskCost: float) -> None:
    """The Dask cluster against the process pool: the ratio, the start-up, the overhead per file."""
    tree: Suite | None = suites.get("dask-tree")
    one: Suite | None = suites.get("dask-start-up")
    if tree is None or one is None:
        return
    pool, dask = tree.get(POOL_LABEL), tree.get(DASK_LABEL)
    poolOne, daskOne = one.get(POOL_LABEL), one.get(DASK_LABEL)
    if not (pool and dask and poolOne and daskOne):
        return
    from pfdicom_tagSub.executor import batch_size

    batch: int = batch_size(pool.files, DASK_WORKERS)
    # a file's share of the pool's wall time, start-up excluded: what a task's cost is weighed against
    fileWall: float = (pool.wall - poolOne.wall) / pool.files
    print(f"\nDask: {DASK_WORKERS} workers of one thread here, against the process pool of {DASK_WORKERS}")
    print("  (cpu s and memory of a Dask run are the client's only: the workers are not its children)")
    print(f"  Dask / process pool, tree: {dask.wall / pool.wall:.2f} x the time")
    print(f"  start-up (a tree of one file): process pool {poolOne.wall:.2f} s, Dask {daskOne.wall:.2f} s")
    difference: float = ((dask.wall - daskOne.wall) - (pool.wall - poolOne.wall)) / pool.files
    print(
        f"  Dask's time less the pool's, start-up excluded: {difference * 1e3:+.3f} ms per file "
        f"({difference / fileWall:+.1%} of a file's time on the pool)"
    )
    share: float = taskCost / batch / fileWall
    print(
        f"  a Dask task costs {taskCost * 1e3:.1f} ms ({DASK_EMPTY_TASKS} empty tasks, sent as the tool "
        f"sends them); at {batch} files per task: {taskCost / batch * 1e3:.3f} ms per file"
    )
    print(
        target_line(
            f"Dask task overhead per file <= {DASK_OVERHEAD_TARGET:.0%} of a file's time",
            share <= DASK_OVERHEAD_TARGET,
            f"{share:.1%}",
        )
    )


# ----------------------------------------------------------------------------------------------
# reporting


def ratio_text(measure: Measure, base: Measure | None) -> str:
    """A run's wall time over another's, ``-`` without the other."""
    return f"{measure.wall / base.wall:.2f}" if base and base.wall else "-"


def baseline_of(suite: Suite, measure: Measure) -> Measure | None:
    """The baseline's run with the same number of workers as a run of this tool."""
    if measure.label in (ONE_LABEL, "tool, 2 workers"):
        return suite.get(measure.label.replace("tool", "baseline"))
    return None


def suite_print(suite: Suite) -> None:
    """A table of the suite's runs: time, memory, the ratios to ``cp -r``, to ``dcmodify``, to the
    pydicom loop and to the baseline with as many workers, and the files each wrote."""
    copy, peer, loop = suite.get("cp -r"), suite.get(DCMODIFY_LABEL), suite.get("pydicom loop")
    first: Measure = suite.measures[0]
    print(f"\n{suite.name}: {first.files} files, {first.size / MB:.1f} MB ({suite.inputDir})")
    header: str = f"{'run':<26}{'wall s':>9}{'cpu s':>8}{'files/s':>10}{'MB/s':>9}{'peak RSS MB':>13}"
    print(f"  {header}{'all PSS MB':>12}{'x cp':>7}{'x dcmod':>9}{'x loop':>8}{'x base':>8}{'written':>9}")
    for measure in suite.measures:
        flag: str = "" if measure.code == 0 or verify_isExpectedExit(measure) else f"  (exit {measure.code})"
        if measure.code != 0 and measure.label in PEER_LABELS:
            flag = f"  (refused some files: {measure.code})"
        speed: str = f"{measure.wall:>9.2f}{measure.cpu:>8.2f}{measure.filesPerSecond:>10.0f}"
        memory: str = f"{measure.mbPerSecond:>9.1f}{measure.rss / MB:>13.0f}{measure.rssTotal / MB:>12.0f}"
        ratios: str = (
            f"{ratio_text(measure, copy):>7}{ratio_text(measure, peer):>9}{ratio_text(measure, loop):>8}"
        )
        base: str = ratio_text(measure, baseline_of(suite, measure))
        print(f"  {measure.label:<26}{speed}{memory}{ratios}{base:>8}{measure.written:>9}{flag}")
    verify_print(suite)
    if suite.identical is not None:
        verdict: str = "identical" if suite.identical else "DIFFERENT"
        compared: str = "process pool and Dask" if suite.get(DASK_LABEL) else "1 and 2 workers"
        if suite.get(DEFAULT_LABEL):
            compared = "1, 2 and the default number of workers"
        print(f"  {compared}: output files, summary and --json record {verdict}")
    if suite.baseline is not None:
        verdict = "identical" if suite.baseline.same else "DIFFERENT"
        print(f"  this tool and the baseline, 1 worker: output files {verdict} ({suite.baseline.describe()})")


def record_of(measure: Measure) -> dict[str, Any] | None:
    """The ``d_tagSub`` part of a tool run's ``--json`` record; None when it printed none."""
    try:
        record: dict[str, Any] = json.loads(measure.stdout)["d_tagSub"]
    except (ValueError, KeyError, TypeError):
        return None
    return record


def verify_isExpectedExit(measure: Measure) -> bool:
    """A ``--verify`` run that ends 1 only because the README rules leave original values in some files."""
    record: dict[str, Any] | None = record_of(measure)
    if measure.label != VERIFY_LABEL or measure.code != 1 or record is None:
        return False
    return bool(record["filesFailed"] == record["filesVerifyFailed"])


def verify_print(suite: Suite) -> None:
    """--verify's cost: files/s with and without it, one worker, and the files it refused."""
    plain, verified = suite.get("tool, 1 worker"), suite.get(VERIFY_LABEL)
    if plain is None or verified is None:
        return
    record: dict[str, Any] | None = record_of(verified)
    failed: object = "?" if record is None else record["filesVerifyFailed"]
    print(
        f"  --verify, 1 worker: {verified.filesPerSecond:.0f} files/s against {plain.filesPerSecond:.0f} "
        f"without ({verified.wall / plain.wall:.2f} x the time); "
        f"{failed} files held an original value and were not written"
    )


def version_time(script: str, repeat: int = 5) -> float:
    """The median wall time of ``pfdicom_tagSub --version``."""
    times: list[float] = []
    for _ in range(repeat):
        start: float = time.perf_counter()
        subprocess.run([script, "--version"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def target_line(what: str, met: bool, figure: str) -> str:
    """One target: met or not, with its figure."""
    return f"  [{'met' if met else 'NOT met'}] {what}: {figure}"


def targets_print(suites: dict[str, Suite], versionSeconds: float) -> None:
    """Issue 4's targets, each with its figure."""
    print("\ntargets")
    tree: Suite = suites["tree"]
    one: Measure | None = tree.get("tool, 1 worker")
    two: Measure | None = tree.get("tool, 2 workers")
    loop: Measure | None = tree.get("pydicom loop")
    if one and loop:
        ratio: float = one.wall / loop.wall
        print(target_line("one worker <= 1.2 x the pydicom loop (tree)", ratio <= 1.2, f"{ratio:.2f} x"))
    if one and two:
        speedup: float = one.wall / two.wall
        print(target_line("two workers >= 1.8 x faster than one (tree)", speedup >= 1.8, f"{speedup:.2f} x"))
        start: Suite | None = suites.get("start-up")
        if start:
            fixed: float = start.measures[0].wall
            steady: float = (one.wall - fixed) / max(two.wall - fixed, 1e-9)
            print(
                f"         start-up (a tree of one file, one worker) {fixed:.2f} s; two workers vs one, "
                f"start-up excluded: {steady:.2f} x"
            )
    for name in ("big", "big2"):
        suite: Suite | None = suites.get(name)
        if suite:
            peak: int = max(measure.rss for measure in suite.measures if measure.label.startswith("tool"))
            print(
                target_line(
                    f"{name}: peak RSS <= 150 MB ({suite.measures[0].files} files)",
                    peak <= 150 * MB,
                    f"{peak / MB:.0f} MB",
                )
            )
    print(target_line("--version <= 0.3 s", versionSeconds <= 0.3, f"{versionSeconds:.3f} s"))
    small, large = suites.get("scale10k"), suites.get("scale100k")
    if small and large:
        s1, l1 = small.measures[0], large.measures[0]
        perFile: float = (l1.wall / l1.files) / (s1.wall / s1.files)
        growth: float = (l1.rss - s1.rss) / MB
        print(
            target_line(
                "100k files: time per file within 1.25 x of 10k's",
                perFile <= 1.25,
                f"{s1.wall / s1.files * 1e3:.2f} ms vs {l1.wall / l1.files * 1e3:.2f} ms per file",
            )
        )
        print(
            target_line(
                "100k files: peak RSS within 10 MB of 10k's",
                growth <= 10,
                f"{s1.rss / MB:.0f} MB vs {l1.rss / MB:.0f} MB",
            )
        )


def ratio_target(what: str, run: Measure | None, base: Measure | None, limit: float) -> None:
    """A target on the ratio of two runs' wall times (printed only when both ran)."""
    if run and base:
        ratio: float = run.wall / base.wall
        print(
            target_line(what, ratio <= limit, f"{ratio:.2f} x ({run.wall:.2f} s against {base.wall:.2f} s)")
        )


def targets12_print(suites: dict[str, Suite]) -> None:
    """Issue 12's targets, each with its figure (those whose runs were made)."""
    print("\ntargets of issue 12")
    tree, big = suites.get("tree"), suites.get("big")
    if big:
        ratio_target("big directory: 1 worker within 3 x of cp -r", big.get(ONE_LABEL), big.get("cp -r"), 3)
    if tree:
        one: Measure | None = tree.get(ONE_LABEL)
        ratio_target(
            "tree: 1 worker at most 0.6 x of the baseline's time", one, tree.get(BASELINE_ONE_LABEL), 0.6
        )
        default, peer = tree.get(DEFAULT_LABEL), tree.get(DCMODIFY_LABEL)
        ratio_target("tree: the default worker count within 2.5 x of dcmodify", default, peer, 2.5)
        two: Measure | None = tree.get("tool, 2 workers")
        if one and two:
            speedup: float = one.wall / two.wall
            print(
                target_line("tree: two workers >= 1.8 x faster than one", speedup >= 1.8, f"{speedup:.2f} x")
            )
    gigabyte: Suite | None = suites.get("gigabyte")
    single: Measure | None = gigabyte.get(ONE_LABEL) if gigabyte else None
    if gigabyte and single:
        size: str = f"{single.size / MB:.0f} MB file"
        print(
            target_line(
                f"a single {size}: peak RSS < 100 MB", single.rss < 100 * MB, f"{single.rss / MB:.0f} MB"
            )
        )
    if big and suites.get("big2"):
        peaks: list[float] = [
            suite.get(ONE_LABEL).rss / MB for suite in (big, suites["big2"]) if suite.get(ONE_LABEL)
        ]  # type: ignore[union-attr]
        if len(peaks) == 2:
            flat: bool = peaks[1] <= peaks[0] + 10
            print(
                target_line(
                    "big directory memory flat (twice the files, 1 worker)",
                    flat,
                    f"{peaks[0]:.0f} MB, {peaks[1]:.0f} MB",
                )
            )
    outputs: list[str] = [name for name, suite in suites.items() if suite.identical is False]
    bases: list[str] = [
        name for name, suite in suites.items() if suite.baseline is not None and not suite.baseline.same
    ]
    checked: list[str] = [
        name for name, suite in suites.items() if suite.identical is not None or suite.baseline is not None
    ]
    what: str = "outputs the same whatever the worker count, and the baseline's but for zeroed preambles"
    print(
        target_line(
            what,
            not outputs and not bases,
            "; ".join(checked) + (f" (DIFFERENT: {outputs + bases})" if outputs or bases else ""),
        )
    )
    start: Suite | None = suites.get("start-up")
    if start:
        print(f"  single-file run (a tree of one file, one worker): {start.measures[0].wall:.2f} s")


def load_print() -> None:
    """The machine's load, since other work on it skews every figure."""
    one, five, _fifteen = os.getloadavg()
    print(f"cores: {os.cpu_count()}, load average: {one:.2f} (1 min), {five:.2f} (5 min)")


# ----------------------------------------------------------------------------------------------


def options_parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=WORK_DEFAULT, help="where inputs and outputs go")
    parser.add_argument("--files", type=int, default=1000, help="files in the tree of pydicom's files")
    parser.add_argument("--big-files", dest="bigFiles", type=int, default=150, help="files in the big dir")
    parser.add_argument("--big-mb", dest="bigMb", type=float, default=5.0, help="MB per big file")
    parser.add_argument("--no-big2", dest="big2", action="store_false", help="skip the doubled big dir")
    parser.add_argument(
        "--gb-mb", dest="gbMb", type=float, default=1024, help="MB of the single large file (0: none)"
    )
    parser.add_argument(
        "--no-peers", dest="peers", action="store_false", help="leave out dcmodify and gdcmanon"
    )
    parser.add_argument("--scale", action="store_true", help="also 10k and 100k small files")
    parser.add_argument(
        "--dask", action="store_true", help="also the tree on a local Dask cluster of 2 workers vs the pool"
    )
    parser.add_argument(
        "--dask-only",
        dest="daskOnly",
        action="store_true",
        help="only the Dask comparison (the tree and one file)",
    )
    parser.add_argument(
        "--scale-files", dest="scaleFiles", type=int, default=10_000, help="the smaller scale tree; x10"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per measure, the best kept")
    parser.add_argument("--original", type=Path, help="a venv holding pfdicom_tagSub 3.1.1")
    parser.add_argument(
        "--baseline", type=Path, help="a venv holding an earlier version of this tool (4.0), run side by side"
    )
    parser.add_argument(
        "--script",
        default=shutil.which("pfdicom_tagSub", path=str(Path(sys.executable).parent)) or "pfdicom_tagSub",
        help="the pfdicom_tagSub to measure (default: this venv's)",
    )
    parser.add_argument("--bare-loop", dest="bareLoop", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--gdcmanon-loop", dest="gdcmanonLoop", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options: argparse.Namespace = options_parse(argv)
    if options.bareLoop:
        bare_loop(*options.bareLoop)
        return 0
    if options.gdcmanonLoop:
        gdcmanon, inputDir, outputDir = options.gdcmanonLoop
        gdcmanon_loop(gdcmanon, Path(inputDir), Path(outputDir))
        return 0
    work: Path = options.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    rules: Path = work / "rules.json"
    rules.write_text(json.dumps(README_RULES, indent=4))
    load_print()
    print(f"building inputs under {work} (kept for later runs)")
    steps: list[tuple[str, Path, Callable[[], None], str]] = [
        ("tree", work / "tree", lambda: tree_build(work / "tree", options.files), "all"),
        ("start-up", work / "one", lambda: one_build(work / "one", work / "tree"), "one"),
        ("big", work / "big", lambda: big_build(work / "big", options.bigFiles, options.bigMb), "all"),
    ]
    if options.big2:
        doubled: int = 2 * options.bigFiles
        big2: Path = work / "big2"
        steps.append(("big2", big2, lambda: big_build(big2, doubled, options.bigMb), "tool"))
    if options.gbMb > 0:
        gigabyte: Path = work / "gigabyte"
        steps.append(("gigabyte", gigabyte, lambda: gigabyte_build(gigabyte, options.gbMb), "single"))
    if options.scale:
        from pydicom.data import get_testdata_file

        small: Path = Path(str(get_testdata_file("rtdose_1frame.dcm")))
        for name, count in (("scale10k", options.scaleFiles), ("scale100k", 10 * options.scaleFiles)):
            build: Callable[[], None] = functools.partial(scale_build, work / name, count, small)
            steps.append((name, work / name, build, "one"))
    suites: dict[str, Suite] = {}
    if options.daskOnly:
        tree_build(work / "tree", options.files)
        one_build(work / "one", work / "tree")
        steps = []
    for name, inputDir, build, kind in steps:
        build()
        suites[name] = suite_run(name, inputDir, work, rules, options, kind)
        suite_print(suites[name])
    if steps:
        targets_print(suites, version_time(options.script))
        targets12_print(suites)
    if options.dask or options.daskOnly:
        dask_run(suites, work, rules, options)
    load_print()
    return 0


def dask_run(suites: dict[str, Suite], work: Path, rules: Path, options: argparse.Namespace) -> None:
    """Start a local Dask cluster, run the tree and the tree of one file on it and on the pool, stop it."""
    dask: Path = Path(options.script).parent / "dask"
    if not dask.is_file():
        raise SystemExit(f"--dask: no dask command beside {options.script}: pip install '.[dask]' there")
    cluster: LocalCluster = LocalCluster.start(dask, work / "dask-cluster", DASK_WORKERS)
    try:
        options.daskAddress = cluster.address
        pids: list[int] = [process.pid for process in cluster.processes]
        print(f"\nlocal Dask cluster at {cluster.address}: {DASK_WORKERS} workers; PIDs {pids}")
        # the workers import pydicom and the job's libraries with their first task: once per cluster
        warm: Path = work / "out-dask-warm-up"
        subprocess.run(
            tool_command(options.script, work / "one", warm, rules, 0, cluster.address), capture_output=True
        )
        shutil.rmtree(warm, ignore_errors=True)
        for name, inputDir in (("dask-tree", work / "tree"), ("dask-start-up", work / "one")):
            suites[name] = suite_run(name, inputDir, work, rules, options, "dask")
            suite_print(suites[name])
        taskCost: float = taskCost_measure(cluster.address)
    finally:
        cluster.stop()
    dask_print(suites, taskCost)


def taskCost_measure(address: str, count: int = DASK_EMPTY_TASKS) -> float:
    """The wall time a Dask task costs with no file in it, sent as the tool sends its batches (a few
    per worker thread in flight, results taken in order): the fixed cost of a task, in seconds."""
    from collections import deque

    from distributed import Client

    from pfdicom_tagSub.executor import BATCHES_IN_FLIGHT_PER_THREAD, batch_run

    with Client(address, set_as_default=False) as client:
        inFlight: int = BATCHES_IN_FLIGHT_PER_THREAD * DASK_WORKERS
        for _warm in range(inFlight):
            client.submit(batch_run, None, [], pure=False).result()
        start: float = time.perf_counter()
        pending: deque[Any] = deque()
        for _task in range(count):
            pending.append(client.submit(batch_run, None, [], pure=False))
            if len(pending) >= inFlight:
                pending.popleft().result()
        while pending:
            pending.popleft().result()
        return (time.perf_counter() - start) / count


if __name__ == "__main__":
    sys.exit(main())
