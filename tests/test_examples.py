"""The example tree the README runs on: made by its script, and de-identified by the README's command."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import shlex
import shutil
import sqlite3
from pathlib import Path

import pydicom

from examples.make_examples import examples_make
from tests.conftest import EXAMPLES, REPO, dcm, script_run, tree_snapshot


def test_the_committed_example_tree_is_what_the_script_makes(tmp_path: Path) -> None:
    examples_make(tmp_path / "dicom")
    assert tree_snapshot(tmp_path / "dicom") == tree_snapshot(EXAMPLES / "dicom")


def test_the_example_tree_holds_what_the_readme_promises() -> None:
    files = sorted((EXAMPLES / "dicom").rglob("*.dcm"))
    datasets = [pydicom.dcmread(path) for path in files]
    assert len({ds.PatientID for ds in datasets}) == 2
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 2
    nested = datasets[0].OtherPatientIDsSequence[0]
    assert "PatientName" in nested and "PatientID" in nested
    assert any(element.tag.is_private for element in datasets[0])
    instances = {str(ds.SOPInstanceUID) for ds in datasets}
    assert {str(ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID) for ds in datasets} == instances
    assert (EXAMPLES / "dicom" / "README.txt").is_file()


def readme_first_command() -> list[str]:
    """The tool's part of the README's first command (after the install)."""
    text = (REPO / "README.rst").read_text()
    line = next(line for line in text.splitlines() if "pip install . &&" in line)
    return shlex.split(re.split(r"&& (?=pfdicom_tagSub)", line)[1])


def test_the_readme_first_command_de_identifies_the_example_tree(tmp_path: Path) -> None:
    command = readme_first_command()
    assert command[0] == "pfdicom_tagSub"
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    run = script_run(*command[1:], cwd=tmp_path)
    assert run.code == 0, run.err
    anon = tmp_path / "anon"
    written = sorted(str(path.relative_to(anon)) for path in anon.rglob("*.dcm"))
    assert written == [
        str(path.relative_to(EXAMPLES / "dicom")) for path in sorted((EXAMPLES / "dicom").rglob("*.dcm"))
    ]
    for path in anon.rglob("*.dcm"):
        original = pydicom.dcmread(EXAMPLES / "dicom" / path.relative_to(anon))
        output = dcm(path)
        assert output.PatientID != original.PatientID and len(output.PatientID) == 7
        assert str(output.PatientName).endswith("^ANON")
        assert output.PatientBirthDate == original.PatientBirthDate[:6] + "01"
        assert output.InstitutionName == "InstitutionName"
        assert output.InstitutionAddress == "InstitutionAddress"
        assert output.OtherPatientIDsSequence[0].PatientID != original.OtherPatientIDsSequence[0].PatientID
        assert output.PixelData == original.PixelData
    assert "README.txt" in run.out


STUDY_KEY: bytes = b"a fixed study key for the test, 32+ bytes"


def readme_recipe_command() -> list[str]:
    """The tool's command of the README's recipe "De-identify a study for sharing"."""
    text = (REPO / "README.rst").read_text()
    line = next(
        line
        for line in text.splitlines()
        if line.strip().startswith("pfdicom_tagSub -I examples/dicom -O shared")
    )
    return shlex.split(line)


def hmac_of(message: str) -> bytes:
    return hmac.new(STUDY_KEY, message.encode(), hashlib.sha256).digest()


def test_the_readme_recipe_shares_the_example_tree_with_remapped_uids_and_per_patient_dates(
    tmp_path: Path,
) -> None:
    command = readme_recipe_command()
    assert command[:7] == [
        "pfdicom_tagSub",
        "-I",
        "examples/dicom",
        "-O",
        "shared",
        "-F",
        "examples/share.json",
    ]
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "study.key").write_bytes(STUDY_KEY + b"\n")  # the README makes a random one
    run = script_run(*command[1:], cwd=tmp_path)
    assert run.code == 0, run.err
    inputs = {
        str(p.relative_to(EXAMPLES / "dicom")): pydicom.dcmread(p)
        for p in sorted((EXAMPLES / "dicom").rglob("*.dcm"))
    }
    outputs = {name: pydicom.dcmread(tmp_path / "shared" / name) for name in inputs}
    newUID = {str(ds.SOPInstanceUID): str(outputs[name].SOPInstanceUID) for name, ds in inputs.items()}
    offsets: dict[str, set[int]] = {}
    for name, before in inputs.items():
        after = outputs[name]
        pseudonym: str = hmac_of(str(before.PatientID)).hex()[:16]
        assert after.PatientID == pseudonym and str(after.PatientName) == pseudonym
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            number = int.from_bytes(hmac_of(str(before[keyword].value)), "big")
            assert after[keyword].value == "2.25." + str(10**58 + number % (9 * 10**58))
        assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
        assert after.SOPClassUID == before.SOPClassUID
        reference = after.ReferencedImageSequence[0]
        assert (
            reference.ReferencedSOPInstanceUID
            == newUID[before.ReferencedImageSequence[0].ReferencedSOPInstanceUID]
        )
        assert reference.ReferencedSOPClassUID == before.ReferencedImageSequence[0].ReferencedSOPClassUID
        shift = {
            (day(after[keyword].value) - day(before[keyword].value)).days
            for keyword in ("StudyDate", "SeriesDate", "PatientBirthDate")
        }
        offsets.setdefault(str(before.PatientID), set()).update(shift)
        seed = int.from_bytes(hmac_of("dateshift\0" + str(before.PatientID)), "big")
        assert shift == {-1095 + seed % 1095}
        assert after.StudyTime == before.StudyTime
        assert str(after.ReferringPhysicianName) == "ANONYMIZED" == str(after.PerformingPhysicianName)
        for gone in ("InstitutionName", "InstitutionAddress", "PatientAddress", "OtherPatientIDsSequence"):
            assert gone not in after
        assert 0x00091001 not in after
        assert (after.PatientIdentityRemoved, after.LongitudinalTemporalInformationModified) == (
            "YES",
            "MODIFIED",
        )
        data: bytes = (tmp_path / "shared" / name).read_bytes()
        identifiers = [
            str(before.PatientID), str(before.PatientName), str(before.OtherPatientIDsSequence[0].PatientID),
            str(before.AccessionNumber), str(before.InstitutionName), str(before.ReferringPhysicianName),
            str(before.StudyDate), str(before.PatientBirthDate), str(before.SOPInstanceUID),
            str(before.StudyInstanceUID), str(before.SeriesInstanceUID),
            str(before.ReferencedImageSequence[0].ReferencedSOPInstanceUID), "ACME internal id",
        ]  # fmt: skip
        assert [value for value in identifiers if value.encode("latin-1") in data] == []
    assert all(len(shift) == 1 for shift in offsets.values()) and len(offsets) == 2
    with sqlite3.connect(tmp_path / "audit.sqlite") as connection:
        patids = set(connection.execute("SELECT id_old, id_new FROM patid_mapping"))
        uids = dict(connection.execute("SELECT id_old, id_new FROM uid_mapping"))
    assert patids == {(str(ds.PatientID), hmac_of(str(ds.PatientID)).hex()[:16]) for ds in inputs.values()}
    assert all(uids[old] == new for old, new in newUID.items())
    assert len(uids) == 4 + 2 + 2  # instances, series, studies
    assert STUDY_KEY not in (tmp_path / "audit.sqlite").read_bytes()


def day(text: str) -> datetime.date:
    return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
