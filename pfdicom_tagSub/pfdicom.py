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
from pfdicom_tagSub.errors import RunError, TagSubError, UsageError
from pfdicom_tagSub.executor import Job, dask_check, executor_make
from pfdicom_tagSub.models import RunRecord, TagSubOptions
from pfdicom_tagSub.output import OutputCommitter, TempDir, runOutput_prepare
from pfdicom_tagSub.sinks import PlanSink, Sink, sinks_make
from pfdicom_tagSub.walk import DirFiles, TreeWalk


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
        self.planSink: PlanSink | None = None
        self.startTime: float = time.perf_counter()

    def job_make(self) -> Job:
        """The per-file work: the one given to the constructor (subclasses build their own).

        Raises:
            UsageError: none was given.
        """
        if self.job is None:
            raise UsageError("pfdicom was given no per-file job")
        return self.job

    def env_prepare(self) -> TempDir | None:
        """Check the input directory, create the output root and the run's temporary directory there.

        Returns:
            The temporary directory; None for a dry run, which writes nothing.

        Raises:
            RunError: the input directory is missing, the output cannot be created or written.
        """
        if not self.inputPath.is_dir():
            what: str = "is not a directory" if self.inputPath.exists() else "not found"
            raise RunError(f"input directory {self.inputPath}: {what}")
        tempDir: TempDir | None = runOutput_prepare(self.outputPath, self.config.dryRun)
        self.walk.outputRoot_exclude()
        return tempDir

    def start_report(self) -> None:
        """Once the run is sure to go ahead: the line that says what it will do (subclasses say it)."""

    def nodes_report(self, nodes: list[DirFiles]) -> None:
        """At verbosity 3, the directories and files found."""
        for node in nodes if self.config.verbosity >= 3 else []:
            self.dp.qprint(f"{node.path}: {node.count} files -> {node.outputPath}", level=3)
            for name in node.names():
                self.dp.qprint(f"  {name}", level=3)

    def sinks_make(self) -> list[Sink]:
        """The consumers of this run's results, in the order they see each one."""
        sinks: list[Sink] = sinks_make(self.config, self.record, self.dp, __version__)
        self.planSink = next((sink for sink in sinks if isinstance(sink, PlanSink)), None)
        return sinks

    def files_process(self, nodes: list[DirFiles], job: Job) -> None:
        """Run the job over every file; commit each result and hand it to the sinks, in input order."""
        self.record.filesFound = sum(node.count for node in nodes)
        committer: OutputCommitter = OutputCommitter(self.config.overwrite)
        sinks: list[Sink] = self.sinks_make()
        try:
            files: int = self.record.filesFound
            config: TagSubOptions = self.config
            with executor_make(job, config.workers, files, config.dask, config.daskTimeout) as executor:
                for result in executor.results(self.walk.tasks_iterate(nodes)):
                    committer.commit(result)
                    for sink in sinks:
                        sink.result_take(result)
        finally:
            for sink in reversed(sinks):
                sink.close()

    def tree_run(self, job: Job) -> dict[str, object]:
        """Walk and process the tree; the ``d_pfdicom`` part of the return value.

        Raises:
            RunError: the run cannot start.
            UsageError: an output directory leads out of the output tree.
        """
        tempDir: TempDir | None = self.env_prepare()
        try:
            nodes: list[DirFiles] = self.walk.nodes_find()
            self.record.walkErrors = self.walk.walkErrors
            self.record.notWalked = self.walk.notWalked
            self.walk.outputs_check(nodes)
            self.start_report()
            self.nodes_report(nodes)
            job.tempDir = tempDir.path if tempDir is not None else ""
            self.files_process(nodes, job)
        finally:
            if tempDir is not None:
                tempDir.remove()
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
        error: str = ""
        exitCode: int = 0
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
