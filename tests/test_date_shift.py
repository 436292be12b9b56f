"""``%_dateshift``: each patient's dates move by one keyed offset, nested ones exactly like the others.

Five patients with two files each; each file has a study date, a birth date, a date-time with a
time and a UTC offset, and a nested item that holds a date and a PatientID of its own. The offsets
are computed here, from the key, with the standard library.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from tests.conftest import CliRun
from tests.safety_support import error_lines

SECRET: bytes = b"date shift key: thirty-two bytes"
RULES: dict[str, str] = {"re:.*Date(Time)?$": "%_dateshift|patientID_#tag"}
PATIENTS: tuple[str, ...] = ("MRN000001", "MRN000002", "MRN000003", "MRN000004", "MRN000005")
STUDY_DATES: tuple[str, ...] = ("20240229", "20231231")  # a leap day and a year end


def offset_expected(patientID: str, low: int = -1095, high: int = -1) -> int:
    digest: bytes = hmac.new(SECRET, b"dateshift\0" + patientID.encode(), hashlib.sha256).digest()
    return low + int.from_bytes(digest, "big") % (high - low + 1)


def day(text: str) -> datetime.date:
    return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def dataset_make(number: int, patientID: str, studyDate: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = f"2.25.{number}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = f"2.25.{number}"
    ds.PatientID = patientID
    ds.PatientBirthDate = "19800301"
    ds.StudyDate = studyDate
    ds.StudyTime = "101500"
    ds.AcquisitionDateTime = studyDate + "101500.250000+0100"
    other = Dataset()
    other.PatientID = "OTHER-" + patientID  # an item's own PatientID must not seed its dates
    other.PatientBirthDate = "19800301"
    ds.OtherPatientIDsSequence = Sequence([other])
    return ds


@pytest.fixture
def patients(tmp_path: Path) -> Path:
    root: Path = tmp_path / "in"
    for index, patientID in enumerate(PATIENTS):
        for number, studyDate in enumerate(STUDY_DATES):
            path: Path = root / patientID / f"IM{number}.dcm"
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset_make(index * 10 + number, patientID, studyDate).save_as(path, enforce_file_format=True)
    return root


@pytest.fixture
def keyFile(tmp_path: Path) -> Path:
    path: Path = tmp_path / "dates.key"
    path.write_bytes(SECRET)
    return path


def test_each_patient_moves_by_one_keyed_offset_in_range_and_keeps_every_interval(
    patients: Path, tmp_path: Path, cli, keyFile: Path
) -> None:
    run: CliRun = cli(patients, tmp_path / "out", "-T", json.dumps(RULES), "--keyFile", keyFile)
    assert run.code == 0, run.err
    offsets: dict[str, int] = {}
    for patientID in PATIENTS:
        for number, studyDate in enumerate(STUDY_DATES):
            out: Dataset = pydicom.dcmread(tmp_path / "out" / patientID / f"IM{number}.dcm")
            moved: set[int] = {
                (day(out.StudyDate) - day(studyDate)).days,
                (day(out.PatientBirthDate) - day("19800301")).days,
                (day(out.AcquisitionDateTime[:8]) - day(studyDate)).days,
                (day(out.OtherPatientIDsSequence[0].PatientBirthDate) - day("19800301")).days,
            }
            assert len(moved) == 1, f"{patientID}: dates moved by {moved}"
            offsets.setdefault(patientID, moved.pop())
            assert (day(out.StudyDate) - day(studyDate)).days == offsets[patientID]
            assert out.AcquisitionDateTime[8:] == "101500.250000+0100"  # time and UTC offset kept
            assert out.StudyTime == "101500"
            interval: int = (day(out.StudyDate) - day(out.PatientBirthDate)).days
            assert interval == (day(studyDate) - day("19800301")).days
    assert offsets == {patientID: offset_expected(patientID) for patientID in PATIENTS}
    assert all(-1095 <= offset <= -1 for offset in offsets.values())
    assert len(set(offsets.values())) > 1


def test_a_nested_date_moves_exactly_like_the_top_level_one_whatever_the_item_holds(
    patients: Path, tmp_path: Path, cli, keyFile: Path
) -> None:
    run: CliRun = cli(
        patients, tmp_path / "out", "-T", json.dumps(RULES), "--keyFile", keyFile, "--dateShiftRange=-30:-10"
    )
    assert run.code == 0, run.err
    for patientID in PATIENTS:
        out: Dataset = pydicom.dcmread(tmp_path / "out" / patientID / "IM0.dcm")
        nested: Dataset = out.OtherPatientIDsSequence[0]
        assert nested.PatientID == "OTHER-" + patientID
        assert nested.PatientBirthDate == out.PatientBirthDate
        shifted: datetime.date = day("19800301") + datetime.timedelta(offset_expected(patientID, -30, -10))
        assert out.PatientBirthDate == shifted.strftime("%Y%m%d")


def test_a_fixed_shift_needs_no_key_and_crosses_leap_days_and_year_ends(
    patients: Path, tmp_path: Path, cli, configHome: Path
) -> None:
    run: CliRun = cli(patients, tmp_path / "out", "-T", '{"re:.*Date(Time)?$": "%_dateshift|1_#tag"}')
    assert run.code == 0, run.err
    assert not (configHome / "pfdicom_tagSub").exists()
    leap: Dataset = pydicom.dcmread(tmp_path / "out" / PATIENTS[0] / "IM0.dcm")
    yearEnd: Dataset = pydicom.dcmread(tmp_path / "out" / PATIENTS[0] / "IM1.dcm")
    assert (leap.StudyDate, leap.AcquisitionDateTime) == ("20240301", "20240301101500.250000+0100")
    assert (yearEnd.StudyDate, yearEnd.PatientBirthDate) == ("20240101", "19800302")


def test_an_explicit_key_on_a_time_is_exit_2_before_any_file_is_read(
    patients: Path, tmp_path: Path, cli
) -> None:
    run: CliRun = cli(patients, tmp_path / "out", "-T", '{"StudyTime": "%_dateshift|patientID_StudyTime"}')
    assert run.code == 2
    assert run.err == (
        'pfdicom_tagSub: error: "StudyTime": "%_dateshift|patientID_StudyTime": '
        "%_dateshift reads DA or DT elements; StudyTime is TM\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_regex_hit_on_a_time_fails_the_file_naming_element_and_rule_but_no_value(
    patients: Path, tmp_path: Path, cli, keyFile: Path
) -> None:
    rules: str = json.dumps({"re:Study(Date|Time)$": "%_dateshift|patientID_#tag"})
    run: CliRun = cli(patients, tmp_path / "out", "-T", rules, "--keyFile", keyFile)
    assert run.code == 1
    lines: list[str] = error_lines(run.err)
    assert len(lines) == 10
    assert lines[0].endswith(
        "IM0.dcm: not written: StudyTime (TM): %_dateshift reads DA or DT elements, and StudyTime is TM; "
        'rule "re:Study(Date|Time)$": "%_dateshift|patientID_#tag"'
    )
    assert all(value not in run.err for value in ("101500", *STUDY_DATES))
    assert list((tmp_path / "out").rglob("*.dcm")) == []
