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

import dataclasses
import os
import time
from pathlib import Path

from pfdicom_tagSub import __version__
from pfdicom_tagSub.console import PROGRAM, Console
from pfdicom_tagSub.errors import RunError, TagSubError, UsageError
from pfdicom_tagSub.executor import Job, executor_make
from pfdicom_tagSub.models import RunRecord, TagSubOptions
from pfdicom_tagSub.output import OutputCommitter, outputRoot_prepare
from pfdicom_tagSub.sinks import AuditSink, PlanSink, ProgressSink, RecordSink, Sink, options_forAudit
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

    def env_prepare(self) -> None:
        """Check the input directory, create the output root and prove it writable.

        Raises:
            RunError: the input directory is missing, the output cannot be created or written.
        """
        if not self.inputPath.is_dir():
            what: str = "is not a directory" if self.inputPath.exists() else "not found"
            raise RunError(f"input directory {self.inputPath}: {what}")
        outputRoot_prepare(self.outputPath, self.config.dryRun)
        if self.outputPath.exists():
            self.walk.outputRoot_exclude()

    def nodes_report(self, nodes: list[DirFiles]) -> None:
        """At verbosity 3, the directories and files found."""
        if self.config.verbosity < 3:
            return
        for node in nodes:
            self.dp.qprint(f"{node.path}: {node.count} files -> {node.outputPath}", level=3)
            for name in node.names():
                self.dp.qprint(f"  {name}", level=3)

    def sinks_make(self) -> list[Sink]:
        """The consumers of this run's results, in the order they see each one."""
        sinks: list[Sink] = [RecordSink(self.record, self.dp)]
        if self.config.dryRun:
            self.planSink = PlanSink(self.dp, str(self.inputPath), gather=self.config.json)
            sinks.append(self.planSink)
        if self.config.audit:
            run: dict[str, str] = {
                "version": __version__,
                "inputDir": os.path.abspath(self.inputPath),
                "outputDir": os.path.abspath(self.outputPath),
                "options": options_forAudit(dataclasses.asdict(self.config)),
            }
            sinks.append(AuditSink(self.config.audit, run, self.record))
        sinks.append(ProgressSink(self.record.filesFound, self.config.verbosity))
        return sinks

    def files_process(self, nodes: list[DirFiles], job: Job) -> None:
        """Run the job over every file; commit each result and hand it to the sinks, in input order."""
        self.record.filesFound = sum(node.count for node in nodes)
        committer: OutputCommitter = OutputCommitter(self.config.overwrite)
        sinks: list[Sink] = self.sinks_make()
        try:
            with executor_make(job, self.config.threads, self.record.filesFound) as executor:
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
        """
        self.env_prepare()
        nodes: list[DirFiles] = self.walk.nodes_find()
        self.record.walkErrors = self.walk.walkErrors
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
        """Walk and process the tree with the job.

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
