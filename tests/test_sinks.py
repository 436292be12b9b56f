"""Sinks: the audit database (schema, mode, views, appending, refusing what is not ours) and the plan."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from pfdicom_tagSub.console import Console
from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.models import Change, FileResult, RunRecord
from pfdicom_tagSub.sinks import AuditSink, PlanSink, audit_check

RUN: dict[str, str] = {"version": "test", "inputDir": "/in", "outputDir": "/out", "options": "{}"}


def written(name: str, *changes: Change) -> FileResult:
    return FileResult(f"/in/{name}", "written", outputPath=f"/out/{name}", changes=changes)


def uid_change(old: str, new: str, keyword: str = "SOPInstanceUID", tag: int = 0x00080018) -> Change:
    return Change(keyword, tag, keyword, "UI", "replace", old, new, "re:.*UID$")


def patient_change(old: str, new: str, path: str = "PatientID") -> Change:
    return Change(path, 0x00100020, "PatientID", "LO", "replace", old, new, "PatientID")


def audit_fill(path: Path, results: list[FileResult]) -> None:
    sink = AuditSink(str(path), RUN, RunRecord(filesFound=len(results)))
    for result in results:
        sink.result_take(result)
    sink.close()


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def test_the_audit_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    audit_fill(tmp_path / "audit.sqlite", [])
    assert stat.S_IMODE(os.stat(tmp_path / "audit.sqlite").st_mode) == 0o600
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.endswith(("-wal", "-shm"))) == [
        "audit.sqlite"
    ]


def test_the_mapping_views_give_one_pair_per_identifier_multi_valued_uids_split(tmp_path: Path) -> None:
    audit_fill(
        tmp_path / "audit.sqlite",
        [
            written(
                "a",
                uid_change("1.2.3", "2.25.9"),
                patient_change("MRN1", "p1"),
                patient_change("OLD1", "q1", "OtherPatientIDsSequence[0].PatientID"),
            ),
            written(
                "b",
                uid_change("1.2.3", "2.25.9"),
                uid_change(
                    "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2", "SOPClassUID", 0x00080016
                ),
            ),
            written(
                "c", uid_change("1.2.4\\1.2.5", "2.25.10\\2.25.11", "ReferencedSOPInstanceUID", 0x00081155)
            ),
        ],
    )
    assert sorted(rows(tmp_path / "audit.sqlite", "SELECT id_old, id_new FROM uid_mapping")) == [
        ("1.2.3", "2.25.9"),
        ("1.2.4", "2.25.10"),
        ("1.2.5", "2.25.11"),
    ]
    assert sorted(rows(tmp_path / "audit.sqlite", "SELECT id_old, id_new FROM patid_mapping")) == [
        ("MRN1", "p1"),
        ("OLD1", "q1"),
    ]


def test_runs_append_and_a_kept_output_adds_no_file_or_change(tmp_path: Path) -> None:
    audit_fill(tmp_path / "audit.sqlite", [written("a", patient_change("MRN1", "p1"))])
    audit_fill(tmp_path / "audit.sqlite", [FileResult("/in/a", "exists", reason="output exists, kept")])
    assert rows(tmp_path / "audit.sqlite", "SELECT run_id FROM runs") == [(1,), (2,)]
    assert rows(tmp_path / "audit.sqlite", "SELECT run_id, input_path, status FROM files") == [
        (1, "/in/a", "written")
    ]
    assert rows(tmp_path / "audit.sqlite", "SELECT COUNT(*) FROM changes") == [(1,)]


def test_a_failed_file_is_recorded_with_its_reason_and_no_changes(tmp_path: Path) -> None:
    failed = FileResult("/in/x", "failed", reason="not written: StudyID (SH): the result is invalid")
    audit_fill(tmp_path / "audit.sqlite", [failed])
    assert rows(tmp_path / "audit.sqlite", "SELECT output_path, status, reason FROM files") == [
        (None, "failed", "not written: StudyID (SH): the result is invalid")
    ]


@pytest.mark.parametrize("content", [b"", b"not a database at all", None])
def test_a_file_that_is_not_our_audit_is_refused_and_left_untouched(
    tmp_path: Path, content: bytes | None
) -> None:
    path: Path = tmp_path / "other.sqlite"
    if content is None:
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE t (x)")
        connection.commit()
        connection.close()
    else:
        path.write_bytes(content)
    before: bytes = path.read_bytes()
    with pytest.raises(UsageError) as caught:
        audit_check(str(path))
    assert "not an audit database of pfdicom_tagSub" in str(caught.value)
    assert path.read_bytes() == before


def test_our_own_audit_passes_the_check(tmp_path: Path) -> None:
    audit_fill(tmp_path / "audit.sqlite", [])
    audit_check(str(tmp_path / "audit.sqlite"))


def test_the_plan_prints_each_change_relative_to_the_input(capsys: pytest.CaptureFixture[str]) -> None:
    sink = PlanSink(Console(verbosity=0), "/in", gather=False)
    sink.result_take(written("p/a.dcm", patient_change("MRN1", "p1")))
    sink.result_take(FileResult("/in/p/b.dcm", "planned"))
    sink.result_take(FileResult("/in/p/c.dcm", "failed", reason="x"))
    assert capsys.readouterr().out.splitlines() == ["p/b.dcm: no changes"]
    sink.result_take(FileResult("/in/p/a.dcm", "planned", changes=(patient_change("MRN1", "p1"),)))
    assert capsys.readouterr().out == "p/a.dcm: PatientID (LO): 'MRN1' -> 'p1'  [PatientID]\n"
