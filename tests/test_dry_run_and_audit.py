"""The dry run shows what a run will do, the audit records what it did: the same changes, value for value."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pydicom
import pytest

from tests.conftest import EXAMPLES, CliRun, console_script, tree_snapshot

RULES: Path = EXAMPLES / "anonymize.json"
ChangeRow = tuple[str, str, str, str, str, str, str | None, str | None, str]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example tree, copied so that a test may look at everything under tmp_path."""
    return Path(shutil.copytree(EXAMPLES / "dicom", tmp_path / "in"))


def plan_rows(record: dict[str, object], inputDir: Path) -> set[ChangeRow]:
    """The dry run's ``--json`` plan as (file, path, tag, keyword, vr, action, old, new, rule) rows."""
    plan: list[dict[str, object]] = record["d_tagSub"]["plan"]  # type: ignore[index]
    return {
        (
            str(inputDir / str(entry["file"])),
            change["path"],
            change["tag"],
            change["keyword"],
            change["vr"],
            change["action"],
            change["old"],
            change["new"],
            change["rule"],
        )
        for entry in plan
        for change in entry["changes"]  # type: ignore[attr-defined]
    }


def audit_rows(audit: Path) -> set[ChangeRow]:
    connection = sqlite3.connect(audit)
    try:
        return set(
            connection.execute(
                "SELECT f.input_path, c.path, c.tag, c.keyword, c.vr, c.action, c.old_value, c.new_value, "
                "c.rule FROM changes c JOIN files f USING (file_id)"
            ).fetchall()
        )
    finally:
        connection.close()


@pytest.mark.parametrize("threads", ["0", "2"])
def test_the_dry_run_prints_every_change_and_writes_nothing(
    example: Path, tmp_path: Path, cli, threads: str
) -> None:
    before = tree_snapshot(tmp_path)
    run: CliRun = cli("-I", example, "-O", tmp_path / "out", "-F", RULES, "--dryRun", "--threads", threads)
    assert run.code == 0, run.err
    assert not (tmp_path / "out").exists()
    assert tree_snapshot(tmp_path) == before
    lines: list[str] = run.out.splitlines()
    assert (
        "PAT001/MR_T1_axial/IM0001.dcm: PatientName (PN): 'DOE^JANE' -> 'SMITH^JARED^ANON'  [PatientName]"
        in lines
    )
    assert "PAT002/CT_chest/IM0002.dcm: PatientID (LO): 'MRN000456' -> 'b371729'  [PatientID]" in lines
    assert (
        "PAT001/MR_T1_axial/IM0001.dcm: OtherPatientIDsSequence[0].PatientID (LO): 'A-778899' -> '5553b09'"
        "  [PatientID]" in lines
    )
    assert lines[-3].startswith("dry run, nothing written: 5 files found: 4 read, 4 would be written")


def test_the_dry_run_with_threads_prints_what_one_worker_prints(example: Path, tmp_path: Path, cli) -> None:
    one: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--dryRun", "-v", "0")
    two: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--dryRun", "-v", "0", "--threads", "2")
    assert one.out == two.out and len(one.out.splitlines()) == 48


def test_the_audit_records_exactly_the_changes_the_dry_run_planned(
    example: Path, tmp_path: Path, cli
) -> None:
    dry: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--dryRun", "--json", "-v", "0")
    assert dry.code == 0, dry.err
    real: CliRun = cli(
        example, tmp_path / "out", "-F", RULES, "--audit", tmp_path / "audit.sqlite", "-v", "0"
    )
    assert real.code == 0, real.err
    planned: set[ChangeRow] = plan_rows(dry.json(), example.resolve())
    assert len(planned) == 48
    assert audit_rows(tmp_path / "audit.sqlite") == planned
    for row in planned:  # and the outputs hold the new values
        if row[1] == "PatientName":
            output: Path = tmp_path / "out" / Path(row[0]).relative_to(example.resolve())
            assert str(pydicom.dcmread(output).PatientName) == row[7]


def test_the_json_record_holds_no_plan_outside_a_dry_run(example: Path, tmp_path: Path, cli) -> None:
    run: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--json", "-v", "0")
    assert "plan" not in run.json()["d_tagSub"]
    assert "MRN000123" not in run.out


def test_the_midi_b_views_pair_each_original_identifier_with_its_pseudonym(
    example: Path, tmp_path: Path, cli
) -> None:
    rules: str = json.dumps(
        {"PatientID": "%_md5|7_PatientID", "StudyInstanceUID": "1.2.826.0.1.3680043.2.1143.1"}
    )
    run: CliRun = cli(example, tmp_path / "out", "-T", rules, "--audit", tmp_path / "a.sqlite", "-v", "0")
    assert run.code == 0, run.err
    datasets = [pydicom.dcmread(path) for path in sorted(example.rglob("*.dcm"))]
    patientIds: set[str] = {str(ds.PatientID) for ds in datasets} | {
        str(item.PatientID) for ds in datasets for item in ds.OtherPatientIDsSequence
    }
    expected = {(old, hashlib.md5(old.encode()).hexdigest()[:7]) for old in patientIds}
    studies = {(str(ds.StudyInstanceUID), "1.2.826.0.1.3680043.2.1143.1") for ds in datasets}
    connection = sqlite3.connect(tmp_path / "a.sqlite")
    assert set(connection.execute("SELECT id_old, id_new FROM patid_mapping")) == expected
    assert set(connection.execute("SELECT id_old, id_new FROM uid_mapping")) == studies
    connection.close()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 command-line shell here")
def test_the_readme_line_makes_the_midi_b_csv(example: Path, tmp_path: Path, cli) -> None:
    run: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--audit", tmp_path / "a.sqlite", "-v", "0")
    assert run.code == 0, run.err
    csv = subprocess.run(
        ["sqlite3", "-csv", "-header", str(tmp_path / "a.sqlite"), "select * from patid_mapping"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(csv.stdout.splitlines()) == sorted(
        ["id_old,id_new", "MRN000123,2a66090", "A-778899,5553b09", "MRN000456,b371729", "B-112233,828a59e"]
    )


def test_a_value_invalid_for_its_vr_fails_the_file_in_the_dry_run_as_in_a_real_run(
    example: Path, tmp_path: Path, cli
) -> None:
    rules: str = json.dumps({"StudyID": "%PatientName-%PatientName-%PatientName"})
    dry: CliRun = cli(example, tmp_path / "out", "-T", rules, "--dryRun", "-v", "0")
    real: CliRun = cli(example, tmp_path / "out", "-T", rules, "-v", "0")
    assert dry.code == real.code == 1
    assert dry.err == real.err and dry.err.count("StudyID (SH)") == 4


def test_a_dry_run_with_overwrite_overwrites_nothing(example: Path, tmp_path: Path, cli) -> None:
    first: CliRun = cli(example, tmp_path / "out", "-F", RULES, "-v", "0")
    assert first.code == 0
    outputs = tree_snapshot(tmp_path / "out")
    run: CliRun = cli(
        example, tmp_path / "out", "-T", '{"PatientName": "CHANGED"}', "--dryRun", "--overwrite"
    )
    assert run.code == 0, run.err
    assert "PatientName (PN): 'DOE^JANE' -> 'CHANGED'" in run.out
    assert tree_snapshot(tmp_path / "out") == outputs


def test_an_audit_inside_the_input_tree_is_refused(example: Path, tmp_path: Path, cli) -> None:
    run: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--audit", example / "audit.sqlite")
    assert run.code == 2
    where: Path = example / "audit.sqlite"
    assert (
        run.err
        == f"pfdicom_tagSub: error: --audit {where}: inside the input directory, which is never written\n"
    )
    assert not (example / "audit.sqlite").exists() and not (tmp_path / "out").exists()


def test_an_audit_at_an_unwritable_place_ends_the_run_before_any_file_is_read(
    example: Path, tmp_path: Path, cli
) -> None:
    run: CliRun = cli(
        example, tmp_path / "out", "-F", RULES, "--audit", tmp_path / "missing" / "a.sqlite", "--json"
    )
    assert run.code == 1
    where: Path = tmp_path / "missing" / "a.sqlite"
    assert (
        run.err.splitlines()[-1]
        == f"pfdicom_tagSub: error: --audit {where}: cannot write: No such file or directory"
    )
    assert run.json()["d_tagSub"]["filesRead"] == 0
    assert not list((tmp_path / "out").rglob("*.dcm"))


def test_an_audit_file_that_is_not_ours_is_refused_and_untouched(example: Path, tmp_path: Path, cli) -> None:
    other: Path = tmp_path / "notes.txt"
    other.write_text("my notes")
    run: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--audit", other)
    assert run.code == 2
    assert "not an audit database of pfdicom_tagSub" in run.err
    assert other.read_text() == "my notes"


def test_a_dry_run_cannot_be_audited(example: Path, tmp_path: Path, cli) -> None:
    run: CliRun = cli(example, tmp_path / "out", "-F", RULES, "--dryRun", "--audit", tmp_path / "a.sqlite")
    assert run.code == 2 and "--dryRun writes nothing" in run.err
    assert not (tmp_path / "a.sqlite").exists()


def test_a_killed_run_leaves_the_audit_consistent(tmp_path: Path) -> None:
    source: Path = next(EXAMPLES.rglob("IM0001.dcm"))
    for number in range(3000):
        target: Path = tmp_path / "in" / f"s{number // 500}" / f"IM{number:05d}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    audit: Path = tmp_path / "audit.sqlite"
    command = [
        str(console_script()),
        tmp_path / "in",
        tmp_path / "out",
        "-F",
        RULES,
        "--audit",
        audit,
        "-v",
        "0",
    ]
    child = subprocess.Popen([str(part) for part in command])
    try:
        deadline: float = time.monotonic() + 60
        files: int = 0
        while files == 0 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if audit.exists():
                with sqlite3.connect(audit) as reader:
                    files = reader.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    with sqlite3.connect(audit) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        perFile = connection.execute(
            "SELECT f.file_id, COUNT(c.file_id) FROM files f LEFT JOIN changes c USING (file_id) "
            "GROUP BY f.file_id"
        ).fetchall()
        assert perFile and {count for _file, count in perFile} == {12}  # every recorded file is whole
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
