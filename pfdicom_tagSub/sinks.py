"""Sinks: the parent-side consumers of results, fed one result at a time, in input order.

Whatever executor ran the files, its results come back to the parent, which commits each
output and hands the result to every sink: the run record and its per-file lines, the progress
bar, the dry run's printer and the audit database. Workers never write any of these.

Key components:
    - Sink: the protocol (``result_take``, ``close``)
    - RecordSink: counts each result into the run record and says what became of the file
    - ProgressSink: the per-file progress bar
    - PlanSink: the dry run's plan, printed per change or gathered for ``--json``
    - AuditSink: the SQLite audit database (``audit_check`` checks it, ``audit_create`` creates it)
    - sinks_make: a run's sinks, from its options

Typical usage:
    sinks = [RecordSink(record, console), ProgressSink.open(total, verbosity)]
    for result in results:
        for sink in sinks:
            sink.result_take(result)

Dependencies:
    - sqlite3 (standard library), tqdm
    - pfdicom_tagSub.report, for the words
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pfdicom_tagSub.console import PROGRAM, Console, surrogates_escape
from pfdicom_tagSub.errors import RunError, UsageError
from pfdicom_tagSub.models import Change, FileResult, RunRecord, TagSubOptions, tag_format
from pfdicom_tagSub.report import change_describe, plural

AUDIT_APPLICATION_ID: int = 0x70665453  # 'pfTS': marks a database as this tool's audit
AUDIT_SCHEMA_VERSION: int = 1
AUDIT_BATCH_FILES: int = 500
AUDIT_BATCH_SECONDS: float = 2.0
AUDIT_MODE: int = 0o600
VALUES_VERBOSITY: int = 5
AUDIT_SCHEMA: str = r"""
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    version TEXT NOT NULL,
    input_dir TEXT NOT NULL,
    output_dir TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT,
    files_found INTEGER,
    files_saved INTEGER,
    files_failed INTEGER
);
CREATE TABLE files (
    file_id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    input_path TEXT NOT NULL,
    output_path TEXT,
    status TEXT NOT NULL,
    reason TEXT
);
CREATE TABLE changes (
    file_id INTEGER NOT NULL REFERENCES files(file_id),
    path TEXT NOT NULL,
    tag TEXT NOT NULL,
    keyword TEXT NOT NULL,
    vr TEXT NOT NULL,
    action TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    rule TEXT NOT NULL
);
CREATE INDEX changes_file ON changes(file_id);
CREATE INDEX changes_keyword ON changes(keyword);
CREATE INDEX files_run ON files(run_id);
CREATE VIEW uid_mapping AS
    WITH RECURSIVE split(id_old, id_new, rest_old, rest_new) AS (
        SELECT '', '', old_value || '\', new_value || '\' FROM changes
            WHERE vr = 'UI' AND action = 'replace' AND old_value IS NOT NULL AND new_value IS NOT NULL
        UNION ALL
        SELECT substr(rest_old, 1, instr(rest_old, '\') - 1), substr(rest_new, 1, instr(rest_new, '\') - 1),
               substr(rest_old, instr(rest_old, '\') + 1), substr(rest_new, instr(rest_new, '\') + 1)
            FROM split WHERE rest_old != ''
    )
    SELECT DISTINCT id_old, id_new FROM split WHERE id_old != '' AND id_old != id_new;
CREATE VIEW patid_mapping AS
    SELECT DISTINCT old_value AS id_old, new_value AS id_new FROM changes
        WHERE keyword = 'PatientID' AND action = 'replace' AND old_value IS NOT NULL
            AND new_value IS NOT NULL AND old_value != new_value;
"""


class Sink(Protocol):
    """A parent-side consumer of results."""

    def result_take(self, result: FileResult) -> None:
        """Take one committed result."""
        ...

    def close(self) -> None:
        """The run is over (or interrupted): finish up."""
        ...


@dataclass
class RecordSink:
    """Counts each result into the run record and says, on the console, what became of the file.

    A failed file's line gives its reason, which holds no element value; at verbosity 5 (asked
    for, like a dry run's plan) the message that may quote the values concerned.
    """

    record: RunRecord
    console: Console

    def result_take(self, result: FileResult) -> None:
        self.record.result_add(result)
        if result.outcome == "failed":
            detailed: bool = self.console.verbosity >= VALUES_VERBOSITY and bool(result.message)
            self.console.error(f"{result.inputPath}: {result.message if detailed else result.reason}")
        elif result.outcome in ("written", "planned"):
            verb: str = "saved" if result.outcome == "written" else "planned"
            self.console.qprint(
                f"{verb}: {result.outputPath} ({plural(len(result.changes), 'change')})", level=5
            )
        else:
            self.console.qprint(f"skipped: {result.inputPath}: {result.reason}", level=5)

    def close(self) -> None:
        pass


class ProgressSink:
    """The per-file progress bar on stderr: at verbosity 1 on a terminal, at 2 and above always."""

    def __init__(self, total: int, verbosity: int) -> None:
        self.bar: Any = None
        if verbosity >= 2 or (verbosity == 1 and os.isatty(2)):
            from tqdm import tqdm

            class Bar(tqdm):
                monitor_interval = 0  # no monitor thread: worker processes are forked from a single thread

            self.bar = Bar(total=total, unit="file", desc=PROGRAM, dynamic_ncols=True, mininterval=0.5)

    def result_take(self, result: FileResult) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class PlanSink:
    """The dry run's plan: each change of each file printed, or gathered for the ``--json`` record.

    Attributes:
        console: where the lines go (stdout: the plan is what a dry run is asked for).
        inputRoot: file names are shown relative to it.
        gather: keep the plan for ``--json`` instead of printing it.
        plan: the gathered plan, one entry per file that would be written.
    """

    console: Console
    inputRoot: str
    gather: bool
    plan: list[dict[str, object]] = field(default_factory=list)

    def result_take(self, result: FileResult) -> None:
        if result.outcome != "planned":
            return
        name: str = os.path.relpath(result.inputPath, self.inputRoot)
        if self.gather:
            self.plan.append(
                {
                    "file": name,
                    "output": result.outputPath,
                    "changes": [change.toDict() for change in result.changes],
                }
            )
            return
        if not result.changes:
            self.console.out(f"{name}: no changes")
        for change in result.changes:
            self.console.out(f"{name}: {change_describe(change)}")

    def close(self) -> None:
        pass


def audit_check(path: str) -> None:
    """Refuse an ``--audit`` file that exists and is not this tool's audit database; it is not touched.

    Raises:
        UsageError: not an SQLite database, or another application's.
    """
    if not os.path.lexists(path):
        return
    if not os.path.isfile(path):
        raise UsageError(f"--audit {path}: not a regular file")
    try:
        connection: sqlite3.Connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            applicationId: int = connection.execute("PRAGMA application_id").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as err:
        raise UsageError(f"--audit {path}: not an audit database of {PROGRAM} ({err})") from None
    if applicationId != AUDIT_APPLICATION_ID:
        raise UsageError(f"--audit {path}: an SQLite database, but not an audit database of {PROGRAM}")


def audit_create(path: str) -> None:
    """Create an empty audit database at ``path``, mode 0600, whole or not at all.

    Raises:
        OSError: it cannot be created there.
    """
    temp: str = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
    descriptor: int = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, AUDIT_MODE)
    os.close(descriptor)
    try:
        connection: sqlite3.Connection = sqlite3.connect(temp)
        try:
            connection.executescript(AUDIT_SCHEMA)
            connection.execute(f"PRAGMA application_id = {AUDIT_APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {AUDIT_SCHEMA_VERSION}")
            connection.commit()
        finally:
            connection.close()
        os.link(temp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def timestamp() -> str:
    """Now, in UTC, as ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class AuditSink:
    """The audit database: the run, each file, each change; a transaction per batch of files.

    Written by the parent only. Runs append. A file whose output existed and was kept adds
    nothing; WAL and batched transactions leave the database consistent if the run is killed.
    """

    def __init__(self, path: str, run: dict[str, str], record: RunRecord) -> None:
        """Open (creating if need be) the database and record the run's start.

        Raises:
            RunError: it cannot be created or written.
        """
        try:
            if not os.path.lexists(path):
                audit_create(path)
            self.connection: sqlite3.Connection = sqlite3.connect(path)
            self.connection.execute("PRAGMA journal_mode = WAL")
            cursor: sqlite3.Cursor = self.connection.execute(
                "INSERT INTO runs (started, version, input_dir, output_dir, options) VALUES (?, ?, ?, ?, ?)",
                (timestamp(), run["version"], run["inputDir"], run["outputDir"], run["options"]),
            )
            self.connection.commit()
        except (OSError, sqlite3.Error) as err:
            reason: str = getattr(err, "strerror", None) or str(err)
            raise RunError(f"--audit {path}: cannot write: {reason}") from None
        self.runId: int = int(cursor.lastrowid or 0)
        self.record: RunRecord = record
        self.pending: int = 0
        self.lastCommit: float = time.monotonic()

    def result_take(self, result: FileResult) -> None:
        if result.outcome == "exists":
            return
        cursor: sqlite3.Cursor = self.connection.execute(
            "INSERT INTO files (run_id, input_path, output_path, status, reason) VALUES (?, ?, ?, ?, ?)",
            (
                self.runId,
                surrogates_escape(os.path.abspath(result.inputPath)),
                surrogates_escape(os.path.abspath(result.outputPath))
                if result.outcome == "written"
                else None,
                result.outcome,
                surrogates_escape(result.reason) or None,
            ),
        )
        if result.outcome == "written":
            self.changes_insert(int(cursor.lastrowid or 0), result.changes)
        self.pending += 1
        if self.pending >= AUDIT_BATCH_FILES or time.monotonic() - self.lastCommit >= AUDIT_BATCH_SECONDS:
            self.connection.commit()
            self.pending, self.lastCommit = 0, time.monotonic()

    def changes_insert(self, fileId: int, changes: Iterable[Change]) -> None:
        self.connection.executemany(
            "INSERT INTO changes (file_id, path, tag, keyword, vr, action, old_value, new_value, rule) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (fileId, c.path, tag_format(c.tag), c.keyword, c.vr, c.action, c.old, c.new, c.rule)
                for c in changes
            ],
        )

    def close(self) -> None:
        """Record the run's end and its counts, and commit what is pending."""
        record: RunRecord = self.record
        self.connection.execute(
            "UPDATE runs SET finished = ?, status = ?, files_found = ?, files_saved = ?, files_failed = ? "
            "WHERE run_id = ?",
            (
                timestamp(),
                "ok" if record.status else "failed",
                record.filesFound,
                record.filesSaved,
                record.filesFailed,
                self.runId,
            ),
        )
        self.connection.commit()
        self.connection.close()


def options_forAudit(options: TagSubOptions) -> str:
    """The run's options as JSON for the audit: what was asked, never a secret."""
    return json.dumps(dataclasses.asdict(options), sort_keys=True, default=str)


def sinks_make(config: TagSubOptions, record: RunRecord, console: Console, version: str) -> list[Sink]:
    """A run's sinks, in the order each result reaches them: record, plan, audit, progress bar.

    Raises:
        RunError: the audit database cannot be created or written.
    """
    sinks: list[Sink] = [RecordSink(record, console)]
    if config.dryRun:
        sinks.append(PlanSink(console, config.inputDir, gather=config.json))
    if config.audit:
        run: dict[str, str] = {
            "version": version,
            "inputDir": surrogates_escape(os.path.abspath(config.inputDir)),
            "outputDir": surrogates_escape(
                os.path.abspath(config.inputDir if config.inPlace else config.outputDir)
            ),
            "options": surrogates_escape(options_forAudit(config)),
        }
        sinks.append(AuditSink(config.audit, run, record))
    sinks.append(ProgressSink(record.filesFound, config.verbosity))
    return sinks
