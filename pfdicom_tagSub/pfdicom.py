"""The ``pfdicom`` base class: pftree 4's engine made DICOM-aware.

pftree walks the input tree, applies the file and directory filters and mirrors each directory
into the output tree (``--outputLeafDir`` renaming the leaf). ``pfdicom`` adds what a DICOM tool
needs on top: the extension filter and single-file mode, an output tree inside the input tree
left unwalked, one task per file streamed to N worker processes, a progress bar counting files,
and the commit of every output from its temporary name to its final one, in input order, so that
two inputs can never claim one output and a killed run never leaves half a file.

Key components:
    - pfdicom: the engine; subclasses supply ``job_make`` (the per-file work)
    - DicomTreeScanner: pftree's scanner, minus the output tree, names packed per directory
    - DirFiles: one directory to process, its file names packed (memory flat in the file count)
    - output_place: the atomic, no-clobber rename of a finished output
    - worker_init / worker_run: the worker-process side of ``--threads``

Typical usage:
    engine = pfdicom({"inputDir": "/in", "outputDir": "/out"})
    d = engine.run(timerStart=True)

Dependencies:
    - pftree 4: Pftree, TreeOptions, TreeScanner, DirNode
    - pfdicom_tagSub.dicomfile, for the per-file work
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pftree import DirNode, Pftree, TreeOptions, TreeScanner, WalkEntry, dirPath_matches, fileNames_filter
from tqdm import tqdm

from pfdicom_tagSub import __version__
from pfdicom_tagSub.console import PROGRAM, Console
from pfdicom_tagSub.dicomfile import FileJob
from pfdicom_tagSub.errors import RunError, TagSubError, UsageError
from pfdicom_tagSub.models import FileResult, FileTask, RunRecord, TagSubOptions
from pfdicom_tagSub.rules import RuleSet

CHUNK_MAX: int = 16
CHUNKS_PER_WORKER: int = 16
LINK_UNSUPPORTED: frozenset[int] = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}
)

_workerJob: FileJob | None = None


def worker_init(job: FileJob) -> None:
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


def output_place(tempPath: str, finalPath: str, overwrite: bool) -> bool:
    """Give a finished temporary output its final name, atomically.

    Without ``overwrite`` an existing final file is never replaced, even one created a moment
    ago by another process: the name is taken with a hard link, which fails if it exists.

    Returns:
        True when placed, False when the final name exists and was kept.
    """
    if overwrite:
        os.replace(tempPath, finalPath)
        return True
    try:
        os.link(tempPath, finalPath)
    except FileExistsError:
        os.unlink(tempPath)
        return False
    except OSError as err:
        if err.errno not in LINK_UNSUPPORTED:
            raise
        if os.path.lexists(finalPath):
            os.unlink(tempPath)
            return False
        os.replace(tempPath, finalPath)
        return True
    os.unlink(tempPath)
    return True


def temp_discard(result: FileResult) -> None:
    """Remove a result's temporary output, if any."""
    if result.tempPath:
        with contextlib.suppress(OSError):
            os.unlink(result.tempPath)
        result.tempPath = ""


class WalkErrors(logging.Handler):
    """Collects what pftree could not walk (unreadable directories, dangling links)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink: list[str] = sink

    def emit(self, record: logging.LogRecord) -> None:
        message: str = record.getMessage()
        if "single-threaded under the GIL" not in message:
            self.sink.append(message)


NAME_SEPARATOR: str = "\0"


def names_pack(names: list[str]) -> str:
    """File names in one string, NUL-separated (no file name holds a NUL).

    A name kept as its own Python string costs about 60 bytes more than its length, plus 8 in
    each list that holds it: a walk of 10^6 files would keep 80 MB for names alone.

    Example:
        >>> names_unpack(names_pack(["a.dcm", "b.dcm"]))
        ['a.dcm', 'b.dcm']
    """
    return NAME_SEPARATOR.join(names)


def names_unpack(packed: str) -> list[str]:
    """The names of ``names_pack``; none for the empty string."""
    return packed.split(NAME_SEPARATOR) if packed else []


@dataclass
class DirFiles:
    """One directory to process, with its kept file names packed (see ``names_pack``).

    Attributes:
        path: the directory as walked.
        relPath: relative to the input directory, ``.`` for the root.
        outputPath: where its outputs go, leaf renamed.
        packed: the file names, sorted, NUL-separated.
        count: how many.
    """

    path: Path
    relPath: str
    outputPath: Path
    packed: str
    count: int

    @classmethod
    def fromNode(cls, node: DirNode) -> DirFiles:
        """Pack a pftree node's file list."""
        return cls(node.path, node.relPath, node.outputPath, names_pack(node.files), len(node.files))

    def names(self) -> list[str]:
        """The file names, unpacked."""
        return names_unpack(self.packed)


class DicomTreeScanner(TreeScanner):
    """pftree's scanner that skips one directory (the output tree) and keeps names packed.

    Each directory's names are packed as soon as it is scanned and its per-file sizes dropped,
    so that memory does not grow with the number of files by more than a name's length.

    Attributes:
        excluded: ``(st_dev, st_ino)`` of a directory not to enter, or None.
        packedNames: each scanned directory's file names, packed, until taken.
    """

    def __init__(self, *args: Any, excluded: tuple[int, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.excluded: tuple[int, int] | None = excluded
        self.packedNames: dict[Path, str] = {}

    def dir_enterable(self, entry: os.DirEntry[str], isLink: bool) -> bool:
        if self.excluded is not None:
            try:
                status: os.stat_result = entry.stat(follow_symlinks=True)
            except OSError:
                return False
            if (status.st_dev, status.st_ino) == self.excluded:
                return False
        return super().dir_enterable(entry, isLink)

    def dir_scan(self, path: Path, dirSize: Any, depth: int, onSubdir: Any) -> Any:
        index: int = len(self.entries)
        usage: Any = super().dir_scan(path, dirSize, depth, onSubdir)
        entry: WalkEntry = self.entries[index]
        entry.fileSizes.clear()
        self.packedNames[entry.path] = names_pack(entry.fileNames)
        entry.fileNames = []
        return usage

    def names_take(self, entry: WalkEntry) -> list[str]:
        """A scanned directory's file names, unpacked, and forgotten here."""
        return names_unpack(self.packedNames.pop(entry.path, ""))


class pfdicom(Pftree):
    """A DICOM-aware tree engine over pftree 4.

    Attributes:
        args: the dict the caller passed.
        config: the options, checked.
        dp: the console (``dp.qprint``).
        record: the counts and lists of the run.
        str_desc, str_version: kept for the pf* API.
    """

    def __init__(self, args: dict[str, object] | None = None, **kwargs: object) -> None:
        values: dict[str, object] = {**(args or {}), **kwargs}
        self.args: dict[str, object] = values
        self.config: TagSubOptions = TagSubOptions.fromDict(values)
        self.str_desc: str = str(values.get("str_desc") or "")
        self.str_version: str = __version__
        self.__name__: str = PROGRAM
        self.dp: Console = Console(self.config.verbosity, self.config.syslog, statusToStderr=self.config.json)
        self.record: RunRecord = RunRecord()
        self.inputPath: Path = Path(self.config.inputDir)
        self.outputPath: Path = self.outputPath_resolve()
        self.excluded: tuple[int, int] | None = None
        self.claims: dict[str, str] = {}
        self.claimsDir: str = ""
        try:
            super().__init__(self.treeOptions_make())
        except ValueError as err:
            raise UsageError(str(err)) from None

    def outputPath_resolve(self) -> Path:
        """The output root, checked against the input root.

        Raises:
            UsageError: no input or output directory; in place without ``--overwrite``.
        """
        config: TagSubOptions = self.config
        if not config.inputDir:
            raise UsageError("no input directory: give -I/--inputDir or a first positional argument")
        if not config.outputDir:
            raise UsageError("no output directory: give -O/--outputDir or a second positional argument")
        if config.outputLeafDir:
            try:
                leaf: str = config.outputLeafDir % "leaf"
            except (TypeError, ValueError) as err:
                raise UsageError(
                    f"--outputLeafDir {config.outputLeafDir!r}: not a format with one %s: {err}"
                ) from None
            if leaf in ("", ".", "..") or "/" in leaf or "\0" in leaf:
                # a separator or '..' would put outputs elsewhere than the mirrored tree
                raise UsageError(
                    f"--outputLeafDir {config.outputLeafDir!r}: must make one directory name, not {leaf!r}"
                )
        output: Path = Path(config.inputDir) if config.inPlace else Path(config.outputDir)
        if output.resolve() == Path(config.inputDir).resolve():
            if not config.overwrite:
                raise UsageError(
                    f"output directory {config.outputDir} is the input directory: the input files would be "
                    "rewritten; add --overwrite to do that (or choose another --outputDir)"
                )
            if config.outputFileStem:
                raise UsageError(
                    "--outputFileStem cannot be used in place: new names would mix with the inputs"
                )
            config.outputDir = "%inputDir"
        return output

    def treeOptions_make(self) -> TreeOptions:
        """pftree's options: the walk, the filters and the output mirroring; no pftree console."""
        config: TagSubOptions = self.config
        return TreeOptions(
            inputDir=self.inputPath,
            outputDir=self.outputPath,
            inputFile="" if self.inputFile_single() else config.inputFile,
            maxDepth=config.maxDepth,
            fileFilter=config.fileFilter,
            fileFilterLogic=config.fileFilterLogic,
            dirFilter=config.dirFilter,
            dirFilterLogic=config.dirFilterLogic,
            outputLeafDir=config.outputLeafDir,
            relativeDir=config.relativeDir,
            followLinks=config.followLinks,
            overwrite=config.overwrite,
            threads=0,
            verbosity=0,
        )

    def inputFile_single(self) -> bool:
        """Whether ``--inputFile`` names one file under the input directory (no walk)."""
        return bool(self.config.inputFile) and (Path(self.config.inputDir) / self.config.inputFile).is_file()

    def scanner_build(self, recordFiles: bool = True) -> DicomTreeScanner:
        return DicomTreeScanner(
            self.options.inputDir,
            self.options.maxDepth,
            self.options.followLinks,
            1,
            self.options.threadsSplit,
            recordFiles=recordFiles,
            excluded=self.excluded,
        )

    def env_prepare(self) -> None:
        """Check the input directory, create the output root and prove it writable.

        Raises:
            RunError: the input directory is missing, the output cannot be created or written.
        """
        if not self.inputPath.is_dir():
            what: str = "is not a directory" if self.inputPath.exists() else "not found"
            raise RunError(f"input directory {self.inputPath}: {what}")
        try:
            self.outputPath.mkdir(parents=True, exist_ok=True)
            # a nameless file where the system allows (O_TMPFILE): a kill leaves nothing behind
            with tempfile.TemporaryFile(dir=self.outputPath):
                pass
        except OSError as err:
            raise RunError(
                f"output directory {self.outputPath}: cannot write: {err.strerror or err}"
            ) from None
        if not self.config.inPlace:
            outputStatus: os.stat_result = self.outputPath.stat()
            self.excluded = (outputStatus.st_dev, outputStatus.st_ino)

    def nodes_find(self) -> list[DirFiles]:
        """The directories and files to process, in sorted order, every filter applied.

        The walk is pftree's (``tree_probe``, ``tree_construct``, ``tree_filter`` and the extension
        filter), done directory by directory so that only one directory's names are ever
        unpacked.
        """
        if self.inputFile_single():
            relative: Path = Path(self.config.inputFile)
            relPath: str = relative.parent.as_posix()
            node: DirNode = DirNode(
                self.inputPath / relative.parent, relPath, [relative.name], self.outputPath_for(relPath)
            )
            return [DirFiles.fromNode(node)]
        walkErrors: WalkErrors = WalkErrors(self.record.walkErrors)
        pftreeLogger: logging.Logger = logging.getLogger("pftree")
        pftreeLogger.addHandler(walkErrors)
        try:
            scanner: DicomTreeScanner = self.scanner_build()
            entries: list[WalkEntry] = scanner.scan().entries
        finally:
            pftreeLogger.removeHandler(walkErrors)
        found: list[DirFiles] = []
        for entry in entries:
            names: list[str] = scanner.names_take(entry)
            node = self.node_build(WalkEntry(entry.path, names, {}, entry.dirSize))
            node.files = self.names_filter(node)
            if node.files:
                found.append(DirFiles.fromNode(node))
        return sorted(found, key=lambda item: item.relPath)

    def names_filter(self, node: DirNode) -> list[str]:
        """The names of a directory that pass ``--dirFilter``, ``--fileFilter`` and ``--extension``."""
        kept: list[str] = node.files
        if self.fileTokens or self.dirTokens:
            if not dirPath_matches(node.relPath, self.dirTokens, self.dirLogic):
                return []
            if self.fileTokens:
                kept = fileNames_filter(kept, self.fileTokens, self.fileLogic)
        if self.config.extension:
            suffix: str = "." + self.config.extension.lstrip(".").lower()
            kept = [name for name in kept if name.lower().endswith(suffix)]
        return kept

    def nodes_report(self, nodes: list[DirFiles]) -> None:
        """At verbosity 3, the directories and files found."""
        if self.config.verbosity < 3:
            return
        for node in nodes:
            self.dp.qprint(f"{node.path}: {node.count} files -> {node.outputPath}", level=3)
            for name in node.names():
                self.dp.qprint(f"  {name}", level=3)

    @staticmethod
    def tasks_iterate(nodes: list[DirFiles]) -> Iterator[FileTask]:
        """One task per file, directory by directory, made as they are consumed."""
        for node in nodes:
            outputDir: str = str(node.outputPath)
            inputDir: str = str(node.path)
            for name in node.names():
                # not node.path / name: pathlib interns every name it parses, and the interpreter's
                # table of interned strings then grows with the number of files
                yield FileTask(os.path.join(inputDir, name), outputDir)

    def job_make(self) -> FileJob:
        """The per-file work; the base class copies files through unchanged (subclasses add rules)."""
        return FileJob(self.config, RuleSet([]))

    @contextlib.contextmanager
    def workers_open(self, job: FileJob) -> Iterator[Callable[[Iterable[FileTask]], Iterator[FileResult]]]:
        """A mapper from tasks to results in task order: in this process, or over N processes.

        pydicom is pure Python, so only processes run it on several cores at once. Workers fork
        when this process runs no other thread (fast, nothing to re-import), else start from a
        clean server process.
        """
        if self.config.threads <= 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield lambda tasks: map(job.file_process, tasks)
            return
        methods: list[str] = multiprocessing.get_all_start_methods()
        method: str = "fork" if "fork" in methods and threading.active_count() == 1 else "spawn"
        if method == "spawn" and "forkserver" in methods:
            method = "forkserver"
        context: Any = multiprocessing.get_context(method)
        if method == "fork":
            job.libraries_load()
        chunk: int = chunk_size(self.record.filesFound, self.config.threads)
        with context.Pool(self.config.threads, initializer=worker_init, initargs=(job,)) as pool:
            yield lambda tasks: pool.imap(worker_run, tasks, chunksize=chunk)

    def progress_open(self, total: int) -> tqdm[Any] | None:
        """The per-file progress bar on stderr: at verbosity 1 on a terminal, at 2 and above always."""
        verbosity: int = self.config.verbosity
        if verbosity < 1 or (verbosity == 1 and not os.isatty(2)):
            return None
        return tqdm(total=total, unit="file", desc=PROGRAM, dynamic_ncols=True, mininterval=0.5)

    def result_commit(self, result: FileResult) -> None:
        """Claim the output name for this input and give the output its final name.

        Outputs are committed in input order, so when two inputs map to one output name the
        later one fails, with both named, and nothing is overwritten.
        """
        if result.outcome not in ("written", "exists"):
            return
        directory: str = os.path.dirname(result.outputPath)
        if directory != self.claimsDir:
            self.claims.clear()
            self.claimsDir = directory
        claimant: str | None = self.claims.get(result.outputPath)
        if claimant is not None:
            temp_discard(result)
            result.outcome = "failed"
            result.reason = (
                f"not written: its output name {result.outputPath} is already the output of {claimant}"
            )
            return
        self.claims[result.outputPath] = result.inputPath
        if result.outcome != "written":
            return
        try:
            placed: bool = output_place(result.tempPath, result.outputPath, self.config.overwrite)
        except OSError as err:
            temp_discard(result)
            result.outcome, result.reason = (
                "failed",
                f"not written: {result.outputPath}: {err.strerror or err}",
            )
            return
        result.tempPath = ""
        if not placed:
            result.outcome, result.reason = "exists", "output appeared meanwhile, kept"

    def result_report(self, result: FileResult) -> None:
        """Count a result and say what happened to the file."""
        self.record.result_add(result)
        if result.outcome == "failed":
            self.dp.error(f"{result.inputPath}: {result.message or result.reason}")
        elif result.outcome == "written":
            self.dp.qprint(f"saved: {result.outputPath} ({result.changes} changes)", level=5)
        else:
            self.dp.qprint(f"skipped: {result.inputPath}: {result.reason}", level=5)

    def files_process(self, nodes: list[DirFiles], job: FileJob) -> None:
        """Run the job over every file, committing and reporting each result in input order."""
        self.record.filesFound = sum(node.count for node in nodes)
        with self.workers_open(job) as results_map:
            bar: tqdm[Any] | None = self.progress_open(self.record.filesFound)
            try:
                for result in results_map(self.tasks_iterate(nodes)):
                    self.result_commit(result)
                    self.result_report(result)
                    if bar is not None:
                        bar.update(1)
            finally:
                if bar is not None:
                    bar.close()

    def tree_run(self, job: FileJob) -> dict[str, object]:
        """Walk and process the tree; the ``d_pfdicom`` part of the return value.

        Raises:
            RunError: the run cannot start.
        """
        self.env_prepare()
        nodes: list[DirFiles] = self.nodes_find()
        self.nodes_report(nodes)
        self.files_process(nodes, job)
        return {
            "status": not self.record.walkErrors,
            "inputDir": str(self.inputPath),
            "outputDir": str(self.outputPath),
            "dirs": len(nodes),
            "filesFound": self.record.filesFound,
            "walkErrors": list(self.record.walkErrors),
            "threads": self.config.threads,
        }

    def run(self, *args: object, timerStart: bool = True, **kwargs: object) -> dict[str, object]:
        """Walk and process the tree (the base class copies DICOM files through).

        Returns:
            ``{'status', 'runTime', 'exitCode', 'error', 'd_pfdicom'}``.
        """
        start: float = time.perf_counter() if timerStart else self.startTime
        error: str = ""
        d_pfdicom: dict[str, object] = {}
        try:
            d_pfdicom = self.tree_run(self.job_make())
        except TagSubError as err:
            error = str(err)
            self.dp.error(error)
        status: bool = not error and self.record.status
        return {
            "status": status,
            "exitCode": 0 if status else 1,
            "error": error,
            "runTime": time.perf_counter() - start,
            "d_pfdicom": d_pfdicom,
        }
