"""The run record rendered: the summary a user reads and the dict ``--json`` prints. Pure.

Neither holds an element value: files, counts, keywords, VRs and rules only, so that either may
be logged.

Key components:
    - summary_lines: the record as the lines of the end-of-run summary
    - notes_lines: warnings about rules (unmatched regexes, rules skipped for absent references)
    - interrupted_line: what a run ended by Ctrl-C or SIGTERM says
    - tagSub_toDict: the record as the ``d_tagSub`` part of the run's return value
    - change_describe: one change as the dry run prints it (the one place values are shown)

Typical usage:
    for line in summary_lines(record):
        print(line)

Dependencies:
    - pfdicom_tagSub.models
"""

from __future__ import annotations

from pfdicom_tagSub.models import Change, RuleSkip, RunRecord

LISTED_MAX: int = 20


def plural(count: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def counts_line(record: RunRecord, dryRun: bool = False) -> str:
    """The one-line count of a run.

    Example:
        >>> counts_line(RunRecord(filesFound=3, filesRead=2, filesSaved=2, filesNotDicom=1))
        '3 files found: 2 read, 2 written, 0 kept (output exists), 1 not DICOM, 0 failed'
        >>> counts_line(RunRecord(filesFound=1, filesRead=1, filesPlanned=1), dryRun=True)[:60]
        'dry run, nothing written: 1 file found: 1 read, 1 would be w'
    """
    written: str = f"{record.filesPlanned} would be written" if dryRun else f"{record.filesSaved} written"
    return (
        ("dry run, nothing written: " if dryRun else "")
        + f"{plural(record.filesFound, 'file')} found: {record.filesRead} read, {written}, "
        f"{record.filesExisting} kept (output exists), {record.filesNotDicom} not DICOM, "
        f"{record.filesFailed} failed"
    )


def interrupted_line(record: RunRecord | None, dryRun: bool = False) -> str:
    """What an interrupted run says: how far it got, and that running again completes it.

    Example:
        >>> interrupted_line(RunRecord(filesFound=10, filesSaved=3, walked=True))
        'interrupted: 3 of 10 files written; run again to complete'
        >>> interrupted_line(None)
        'interrupted before any file was processed; run again to complete'
    """
    if record is None or not record.walked:
        return "interrupted before any file was processed; run again to complete"
    done: str = f"{record.filesPlanned} of {plural(record.filesFound, 'file')} planned (dry run)"
    if not dryRun:
        done = f"{record.filesSaved} of {plural(record.filesFound, 'file')} written"
    return f"interrupted: {done}; run again to complete"


def value_show(value: str | None, absent: str) -> str:
    """A value as the dry run shows it: quoted, control characters escaped; a word when there is none."""
    return absent if value is None else repr(value)


def change_describe(change: Change) -> str:
    """One change as the dry run prints it.

    Example:
        >>> change_describe(Change("PatientName", 0x00100010, "PatientName", "PN", "replace",
        ...                        "DOE^JOHN", "BROWN^STACY^ANON", "PatientName"))
        "PatientName (PN): 'DOE^JOHN' -> 'BROWN^STACY^ANON'  [PatientName]"
    """
    held: str = "(sequence)" if change.vr == "SQ" else "(binary)"
    old: str = value_show(change.old, "(absent)" if change.action == "create" else held)
    new: str = value_show(change.new, "removed")
    return f"{change.path} ({change.vr}): {old} -> {new}  [{change.rule}]"


def entries_lines(title: str, entries: list[dict[str, str]]) -> list[str]:
    """A titled list of ``file: reason`` lines, at most ``LISTED_MAX`` of them."""
    if not entries:
        return []
    lines: list[str] = [f"{title}:"]
    lines += [f"  {entry['file']}: {entry['reason']}" for entry in entries[:LISTED_MAX]]
    if len(entries) > LISTED_MAX:
        lines.append(f"  ... and {len(entries) - LISTED_MAX} more (--json lists them all)")
    return lines


def verify_line(record: RunRecord) -> str:
    """What ``--verify`` found, in one line.

    Example:
        >>> verify_line(RunRecord(filesVerified=3, filesVerifyFailed=1))
        '--verify: 4 outputs searched for original values: 3 clean, 1 held one and was not written'
    """
    searched: int = record.filesVerified + record.filesVerifyFailed
    failed: str = "held one and was" if record.filesVerifyFailed == 1 else "held one and were"
    return (
        f"--verify: {plural(searched, 'output')} searched for original values: "
        f"{record.filesVerified} clean, {record.filesVerifyFailed} {failed} not written"
    )


def summary_lines(record: RunRecord, dryRun: bool = False, verify: bool = False) -> list[str]:
    """The end-of-run summary: counts, then the failed and the non-DICOM files with their reasons."""
    lines: list[str] = [counts_line(record, dryRun)]
    if verify:
        lines.append(verify_line(record))
    lines += entries_lines("failed", record.failed)
    lines += entries_lines("not DICOM (skipped)", record.notDicom)
    return lines  # what could not be walked was said at once, one error line each


def notes_lines(record: RunRecord, unmatched: list[str]) -> list[str]:
    """Warnings about the rules, for the end of the run."""
    lines: list[str] = [
        f"{key} matched nothing in the {plural(record.filesAnalyzed, 'file')} analyzed" for key in unmatched
    ]
    if record.filesExisting:
        one: bool = record.filesExisting == 1
        lines.append(
            f"{plural(record.filesExisting, 'output')} existed and {'was' if one else 'were'} kept as "
            f"{'it was' if one else 'they were'}, without these rules: use --overwrite to replace "
            f"{'it' if one else 'them'}"
        )
    if record.filesTiffPreamble:
        lines.append(
            f"{plural(record.filesTiffPreamble, 'file')} kept a TIFF header as preamble (DICOM and TIFF "
            "in one file): only its DICOM part was changed"
        )
    lines += [f"not walked: {entry}" for entry in record.notWalked]
    skip: RuleSkip
    for skip, files in sorted(record.ruleSkips.items(), key=lambda item: (item[0].ruleKey, item[0].absent)):
        lines.append(f"rule {skip.ruleKey!r} not applied in {plural(files, 'file')}: {skip.absent} absent")
    return lines


def tagSub_toDict(record: RunRecord, unmatched: list[str], ruleKeys: list[str]) -> dict[str, object]:
    """The ``d_tagSub`` part of the run's return value, JSON-ready."""
    return {
        "status": record.status,
        "filesFound": record.filesFound,
        "filesRead": record.filesRead,
        "filesAnalyzed": record.filesAnalyzed,
        "filesSaved": record.filesSaved,
        "filesPlanned": record.filesPlanned,
        "filesExisting": record.filesExisting,
        "filesNotDicom": record.filesNotDicom,
        "filesFailed": record.filesFailed,
        "elementsChanged": record.elementsChanged,
        "failed": list(record.failed),
        "notDicom": list(record.notDicom),
        "existing": list(record.existing),
        "filesTiffPreamble": record.filesTiffPreamble,
        "filesVerified": record.filesVerified,
        "filesVerifyFailed": record.filesVerifyFailed,
        "notWalked": list(record.notWalked),
        "rules": list(ruleKeys),
        "rulesNotApplied": [
            {"rule": skip.ruleKey, "absent": skip.absent, "files": files}
            for skip, files in sorted(
                record.ruleSkips.items(), key=lambda item: (item[0].ruleKey, item[0].absent)
            )
        ],
        "regexUnmatched": list(unmatched),
    }
