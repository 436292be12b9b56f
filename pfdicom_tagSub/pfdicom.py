"""The ``pfdicom`` base class: a DICOM-aware tree engine, with the per-file job injected.

``pfdicom`` puts the parts together: the walk (pftree 4) finds the files, an executor runs the
job on each of them (in this process or in worker processes), and every result comes back here,
in input order, to have its output committed and to be handed to the sinks (run record,
progress bar, dry-run plan, audit). The engine never looks inside the job: whatever has
``file_process(task) -> result`` will do, which is how ``pfdicom_tagSub`` plugs its rules in.

Key components:
    - pfdicom: the engine; ``pfdicom(args, job=...)``, or a subclass overriding ``job_make``

Typical usage:
    engine = pfdicom({"inputDir": "/in", "outputDir": "/out"}, job=someJob)
    d = engine.run(timerStart=True)

Dependencies:
    - pfdicom_tagSub.walk, executor, output, sinks
"""

from __future__ import annotations

import time
from pathlib import Path

from pfdicom_tagSub import __version__
from pfdicom_tagSub.console import PROGRAM, Console
from pfdicom_tagSub.cores import cores_available
from pfdicom_tagSub.directories import OutputDirs
from pfdicom_tagSub.errors import RunError, TagSubError, UsageError
from pfdicom_tagSub.executor import Job, dask_check, executor_make
from pfdicom_tagSub.interrupts import SignalsHeld, interrupt_check
from pfdicom_tagSub.models import RunRecord, TagSubOptions
from pfdicom_tagSub.output import OutputCommitter, TempDir, runOutput_prepare, tempDir_create
from pfdicom_tagSub.report import plural
from pfdicom_tagSub.sinks import PlanSink, Sink, sinks_make
from pfdicom_tagSub.walk import DirFiles, TreeWalk


def workers_cap(threads: int, files: int, cores: int) -> tuple[int, str]:
    """The workers worth starting for ``--threads``, and why fewer, if so ('' when as asked).

    Example:
        >>> workers_cap(8, 3, 4), workers_cap(8, 100, 2), workers_cap(2, 100, 4)
        ((3, 'one per file'), (2, 'as many as the 2 usable cores'), (2, ''))
    """
    if threads <= 1 or files == 0:
        return min(max(threads, 0), 1), ""
    if files < threads and files <= cores:
        return max(files, 1), "one per file"
    if cores < threads:
        return cores, f"as many as the {cores} usable core{'' if cores == 1 else 's'}"
    return threads, ""


def workers_choose(threads: int | None, files: int, dp: Console) -> int:
    """The worker processes to start: ``--threads``, capped by the files and the cores, with a note;
    without ``--threads`` (None), every core the process may use (``cores``), no more than the files."""
    cores: int = cores_available()
    if threads is None:
        return max(1, min(cores, files))
    workers, why = workers_cap(threads, files, cores)
    if why:
        dp.warning(f"--threads {threads}: {plural(workers, 'worker')}, {why}")
    return max(workers, 1)


def nodes_report(nodes: list[DirFiles], dp: Console) -> None:
    """At verbosity 3, the directories and files found."""
    for node in nodes if dp.verbosity >= 3 else []:
        dp.qprint(f"{node.path}: {node.count} files -> {node.outputPath}", level=3)
        for name in node.names():
            dp.qprint(f"  {name}", level=3)


class pfdicom:
    """A DICOM-aware tree engine over pftree 4.

    Attributes:
        args: the dict the caller passed.
        config: the options, checked.
        dp: the console (``dp.qprint``).
        record: the counts and lists of the run.
        walk: the configured walk; ``inputPath``, ``outputPath``: its roots.
        job: the per-file work, when given to the constructor.
        shard: ``I/N`` when the run processes one shard of the tree (``--shard``), else ''.
        workers: the worker processes the run uses (``--threads``, capped by files and cores; without
            it, every core the process may use, no more than the files).
        outputDirs: the output directories, those this run created among them.
        tempDir: the run's temporary directory, while the run has one.
        planSink: the dry run's plan, once the run has started one.
        str_desc, str_version: kept for the pf* API.
    """

    def __init__(
        self, args: dict[str, object] | None = None, job: Job | None = None, **kwargs: object
    ) -> None:
        values: dict[str, object] = {**(args or {}), **kwargs}
        self.args: dict[str, object] = values
        self.config: TagSubOptions = TagSubOptions.fromDict(values)
        self.str_desc: str = str(values.get("str_desc") or "")
        self.str_version: str = __version__
        self.__name__: str = PROGRAM
        self.dp: Console = Console(self.config.verbosity, self.config.syslog, statusToStderr=self.config.json)
        self.record: RunRecord = RunRecord()
        self.walk: TreeWalk = TreeWalk(self.config)
        self.shard: str = "{}/{}".format(*self.walk.shard) if self.walk.shard else ""
        if self.config.dask:  # --threads given, even as its default '0', is one worker count too many
            dask_check(self.config.dask, self.config.daskTimeout, values.get("threads") is not None)
        self.inputPath: Path = self.walk.inputPath
        self.outputPath: Path = self.walk.outputPath
        self.job: Job | None = job
        self.workers: int = max(self.config.threads or 0, 1)
        self.outputDirs: OutputDirs = OutputDirs()
        self.tempDir: TempDir | None = None
        self.planSink: PlanSink | None = None
        self.startTime: float = time.perf_counter()

    def job_make(self) -> Job:
        """The per-file work: the one given to the constructor (subclasses build their own); a
        ``UsageError`` when none was given."""
        if self.job is None:
            raise UsageError("pfdicom was given no per-file job")
        return self.job

    def env_prepare(self) -> None:
        """Check the input directory; create the output root and the run's temporary directory there
        (not for a dry run, which writes nothing).

        Raises:
            RunError: the input directory is missing, the output cannot be created or written.
        """
        if not self.inputPath.is_dir():
            what: str = "is not a directory" if self.inputPath.exists() else "not found"
            raise RunError(f"input directory {self.inputPath}: {what}")
        runOutput_prepare(self.outputPath, self.config.dryRun, self.outputDirs)
        self.walk.outputRoot_exclude()
        if not self.config.dryRun:
            with SignalsHeld():  # known as soon as it exists, to be removed when the run ends
                self.tempDir = tempDir_create(self.outputPath)

    def start_report(self) -> None:
        """Once the run is sure to go ahead: the line that says what it will do (subclasses say it)."""

    def nodes_find(self) -> list[DirFiles]:
        """Walk the input tree; say what could not be walked, one error line each (``UsageError``: an
        output directory leads out of the output tree)."""
        nodes: list[DirFiles] = self.walk.nodes_find()
        self.walk.outputs_check(nodes)
        self.record.walkErrors, self.record.notWalked = self.walk.walkErrors, self.walk.notWalked
        self.record.filesFound, self.record.walked = sum(node.count for node in nodes), True
        for error in self.record.walkErrors:
            self.dp.error(f"not walked: {error}")
        self.workers = workers_choose(self.config.threads, self.record.filesFound, self.dp)
        return nodes

    def files_process(self, nodes: list[DirFiles], job: Job) -> None:
        """Run the job over every file; commit each result and hand it to the sinks, in input order."""
        committer: OutputCommitter = OutputCommitter(self.config.overwrite, self.outputDirs)
        sinks: list[Sink] = sinks_make(self.config, self.record, self.dp, __version__)
        self.planSink = next((sink for sink in sinks if isinstance(sink, PlanSink)), None)
        config, files = self.config, self.record.filesFound
        try:
            with executor_make(job, self.workers, files, config.dask, config.daskTimeout) as run:
                for result in run.results(self.walk.tasks_iterate(nodes)):
                    with SignalsHeld():  # an output placed is an output counted
                        committer.commit(result)
                        for sink in sinks:
                            sink.result_take(result)
                    interrupt_check()
        finally:
            for sink in reversed(sinks):
                sink.close()

    def tree_run(self, job: Job) -> dict[str, object]:
        """Walk and process the tree; the ``d_pfdicom`` part of the return value (``RunError``: the
        run cannot start; ``UsageError``: an output directory leads out of the output tree)."""
        try:
            self.env_prepare()
            nodes: list[DirFiles] = self.nodes_find()
            interrupt_check()
            self.start_report()
            nodes_report(nodes, self.dp)
            job.tempDir = self.tempDir.path if self.tempDir is not None else ""
            self.files_process(nodes, job)
        finally:
            if self.tempDir is not None:
                self.tempDir.remove()
            if not self.record.filesSaved and not self.record.filesExisting:
                self.outputDirs.created_remove()  # a run that wrote nothing leaves no empty directory
        return {
            "status": not self.record.walkErrors,
            "inputDir": str(self.inputPath),
            "outputDir": str(self.outputPath),
            "dirs": len(nodes),
            "filesFound": self.record.filesFound,
            "walkErrors": list(self.record.walkErrors),
            "threads": self.config.threads,
            "dask": self.config.dask or None,
            "shard": self.shard or None,
        }

    def run(self, *args: object, timerStart: bool = True, **kwargs: object) -> dict[str, object]:
        """Walk and process the tree with the job.

        Returns:
            ``{'status', 'runTime', 'exitCode', 'error', 'd_pfdicom'}``.
        """
        start: float = time.perf_counter() if timerStart else self.startTime
        error, exitCode = "", 0
        d_pfdicom: dict[str, object] = {}
        try:
            d_pfdicom = self.tree_run(self.job_make())
        except TagSubError as err:
            error, exitCode = str(err), err.exitCode
            self.dp.error(error)
        status: bool = not error and self.record.status
        return {
            "status": status,
            "exitCode": exitCode or (0 if status else 1),
            "error": error,
            "runTime": time.perf_counter() - start,
            "d_pfdicom": d_pfdicom,
        }
