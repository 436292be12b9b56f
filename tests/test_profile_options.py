"""The options of ``--profile basic``: each turns its column's rows of Table E.1-1 to K or C, as the
table file (read here with json) says, and C does what SPEC says for the element's VR; the dates
of one patient move by one offset; the retained UIDs stay; each option adds its CID 7050 code.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from pathlib import Path

import pydicom
import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from pfdicom_tagSub import __version__
from tests.conftest import EXAMPLES, CliRun, tree_make
from tests.test_profile_basic_on_pydicom_files import TABLE, uid_expected

KEY: bytes = b"the profile tests' key, 32 bytes"  # uid_expected computes with this key
# the option, its column in the table, its CID 7050 code and meaning (PS3.16)
OPTIONS: dict[str, tuple[str, str, str]] = {
    "retainLongFullDates": (
        "rtnLongFullDatesOpt",
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    "retainLongModifiedDates": (
        "rtnLongModifDatesOpt",
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "retainUIDs": ("rtnUIDsOpt", "113110", "Retain UIDs Option"),
    "retainDeviceIdentity": ("rtnDevIdOpt", "113109", "Retain Device Identity Option"),
    "retainInstitutionIdentity": ("rtnInstIdOpt", "113112", "Retain Institution Identity Option"),
    "retainPatientCharacteristics": ("rtnPatCharsOpt", "113108", "Retain Patient Characteristics Option"),
    "cleanDescriptors": ("cleanDescOpt", "113105", "Clean Descriptors Option"),
    "cleanStructuredContent": ("cleanStructContOpt", "113104", "Clean Structured Content Option"),
    "cleanGraphics": ("cleanGraphOpt", "113103", "Clean Graphics Option"),
}
BASIC_CODE: tuple[str, str, str] = ("113100", "DCM", "Basic Application Confidentiality Profile")
# one element for each pattern row: curve data and description, overlay data and comments
PATTERN_TAGS: dict[str, tuple[int, ...]] = {
    "50xxxxxx": (0x50000022, 0x50003000),
    "60xx3000": (0x60003000,),
    "60xx4000": (0x60004000,),
}
BINARY_VRS: frozenset[str] = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
FREE_TEXT_VRS: frozenset[str] = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
VALUES: dict[str, object] = {
    "AE": "STATION01",
    "AS": "045Y",
    "CS": "ORIGINAL",
    "DA": "20200315",
    "DS": "72.5",
    "DT": "20200315101500",
    "IS": "3",
    "LO": "ORIGINAL TEXT",
    "LT": "ORIGINAL TEXT",
    "PN": "DOE^JOHN",
    "SH": "+0100",
    "ST": "ORIGINAL TEXT",
    "TM": "101500",
    "UC": "ORIGINAL TEXT",
    "UI": "1.2.826.0.1.3680043.2.1125.1",
    "UR": "http://example.org/x",
    "US": 1,
    "UT": "ORIGINAL TEXT",
    "OB": b"\x01\x02",
    "UN": b"\x01\x02",
}
PATIENT_ID: str = "MRN000123"


def rows() -> list[dict[str, str]]:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def offset_expected(patientID: str) -> int:
    """SPEC: MIN + H mod (MAX - MIN + 1) days, H the HMAC of 'dateshift', NUL and the seed."""
    digest: bytes = hmac.new(KEY, b"dateshift\0" + patientID.encode(), hashlib.sha256).digest()
    return -1095 + int.from_bytes(digest, "big") % 1095


def date_shifted(text: str, days: int) -> str:
    moved = datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8])) + datetime.timedelta(days=days)
    return moved.strftime("%Y%m%d") + text[8:]


def element_make(dataset: Dataset, tag: int) -> None:
    vr: str = dictionary_VR(tag).split(" or ")[0]
    if vr == "SQ":
        item = Dataset()
        item.CodeValue = "T-04000"  # no row of the table: kept wherever its sequence is
        dataset.add_new(tag, vr, Sequence([item]))
    else:
        dataset.add_new(tag, vr, VALUES[vr])


def column_tags(column: str) -> list[tuple[int, dict[str, str]]]:
    """Every tag that a row with an entry in the column names (one per pattern row), with its row."""
    found: list[tuple[int, dict[str, str]]] = []
    for row in rows():
        if column not in row or row["id"].startswith(("0000", "0002", "gggg")):
            continue  # command and file meta groups are no data set's; no option keeps private elements
        tags = PATTERN_TAGS[row["id"]] if row["id"] in PATTERN_TAGS else (int(row["id"], 16),)
        found += [(tag, row) for tag in tags]
    return found


def dataset_withColumn(column: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "2.25.7"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = "2.25.7"
    ds.PatientID = PATIENT_ID
    for tag, _ in column_tags(column):
        if tag not in ds:
            element_make(ds, tag)
    return ds


def cleaned_expected(row: dict[str, str], vr: str, option: str) -> str:
    """What SPEC's C does to an element of this VR: 'kept', 'empty', 'absent' or 'shifted'."""
    if vr == "SQ":
        return "kept"  # kept, the profile applied to its items
    if vr in BINARY_VRS:  # binary data cannot be cleaned: the row's Basic Profile action
        return "absent" if row["basicProfile"].startswith("X") and "D" not in row["basicProfile"] else "empty"
    if vr in ("DA", "DT"):
        assert option == "retainLongModifiedDates"
        return "shifted"
    return "empty" if vr in FREE_TEXT_VRS else "kept"  # a time: whole-day shifts keep it


def state_problem(expected: str, before: Dataset, after: Dataset, tag: int) -> str:
    """'' when the output holds what was expected, else what it holds."""
    if expected == "absent":
        return "" if tag not in after else "still there"
    if tag not in after:
        return "removed"
    old, new = before[tag], after[tag]
    if expected == "kept":
        same: bool = (
            [item.CodeValue for item in new.value] == ["T-04000"]
            if old.VR == "SQ"
            else new.value == old.value
        )
        return "" if same else f"changed to {new.value!r}"
    if expected == "empty":
        return "" if new.is_empty else f"not empty: {new.value!r}"
    wanted: str = date_shifted(str(old.value), offset_expected(PATIENT_ID))
    return "" if new.value == wanted else f"{new.value!r}, not {wanted!r}"


def run_profile(
    cli, tmp_path: Path, datasets: dict[str, Dataset | Path], profile: str, *extra: object
) -> CliRun:
    tree_make(tmp_path / "in", datasets)  # type: ignore[arg-type]
    (tmp_path / "key").write_bytes(KEY)
    return cli(tmp_path / "in", tmp_path / "out", "--profile", profile, "--keyFile", tmp_path / "key", *extra)


def codes_of(after: Dataset) -> list[tuple[str, str, str]]:
    return [
        (item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning)
        for item in after.DeidentificationMethodCodeSequence
    ]


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_each_option_turns_its_column_s_rows_to_k_or_c_as_the_table_says(
    option: str, tmp_path: Path, cli
) -> None:
    column, code, meaning = OPTIONS[option]
    before: Dataset = dataset_withColumn(column)
    run = run_profile(cli, tmp_path, {"a.dcm": before}, f"basic,{option}")
    assert run.code == 0, run.err
    after: Dataset = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    problems: list[str] = []
    checked: int = 0
    for tag, row in column_tags(column):
        vr: str = before[tag].VR
        expected: str = "kept" if row[column] == "K" else cleaned_expected(row, vr, option)
        problem: str = state_problem(expected, before, after, tag)
        checked += 1
        if problem:
            name: str = keyword_for_tag(tag) or f"{tag:08X}"
            problems.append(f"{name} ({vr}, {row['basicProfile']}, {row[column]}: {expected}): {problem}")
    assert problems == []
    assert checked >= 3
    assert codes_of(after) == [BASIC_CODE, (code, "DCM", meaning)]
    assert after.DeidentificationMethod == [f"pfdicom_tagSub {__version__}: PS3.15 E.1-1 Basic", option]
    longitudinal = {"retainLongFullDates": "UNMODIFIED", "retainLongModifiedDates": "MODIFIED"}
    assert after.LongitudinalTemporalInformationModified == longitudinal.get(option, "REMOVED")


def patient_file(patientID: str, instance: int) -> Dataset:
    ds = dataset_withColumn("none")
    ds.PatientID = patientID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"2.25.{instance}"
    ds.StudyDate, ds.SeriesDate, ds.StudyTime = "20240110", "20240111", "101500"
    ds.PatientBirthDate = "19800315"
    ds.AcquisitionDateTime = "20240110101500.5+0100"
    item = Dataset()
    item.DateTime, item.Date, item.Time = "20240110101500", "20240112", "093000"
    ds.ContentSequence = Sequence([item])
    return ds


def test_modified_dates_move_each_patient_by_one_offset_and_say_modified(tmp_path: Path, cli) -> None:
    patients: dict[str, str] = {"a/1.dcm": "MRN000123", "a/2.dcm": "MRN000123", "b/1.dcm": "MRN000456"}
    datasets = {
        name: patient_file(patientID, index) for index, (name, patientID) in enumerate(patients.items())
    }
    run = run_profile(cli, tmp_path, datasets, "basic,retainLongModifiedDates")  # type: ignore[arg-type]
    assert run.code == 0, run.err
    offsets: dict[str, set[int]] = {}
    for name, patientID in patients.items():
        after = pydicom.dcmread(tmp_path / "out" / name)
        moved = [
            after.StudyDate,
            after.SeriesDate,
            after.AcquisitionDateTime,
            after.ContentSequence[0].DateTime,
            after.ContentSequence[0].Date,
        ]
        before = datasets[name]
        originals = [
            before.StudyDate,
            before.SeriesDate,
            before.AcquisitionDateTime,
            before.ContentSequence[0].DateTime,
            before.ContentSequence[0].Date,
        ]
        shifts = {
            (
                datetime.date.fromisoformat(f"{new[:4]}-{new[4:6]}-{new[6:8]}")
                - datetime.date.fromisoformat(f"{old[:4]}-{old[4:6]}-{old[6:8]}")
            ).days
            for old, new in zip(originals, moved, strict=True)
        }
        assert shifts == {offset_expected(patientID)}
        offsets.setdefault(patientID, set()).update(shifts)
        assert after.AcquisitionDateTime.endswith("101500.5+0100")  # a DT keeps its time
        assert (after.StudyTime, after.ContentSequence[0].Time) == ("101500", "093000")  # C of a time
        assert after.PatientBirthDate == ""  # Z, with no option column
        assert after.LongitudinalTemporalInformationModified == "MODIFIED"
        assert codes_of(after)[1] == ("113107", "DCM", OPTIONS["retainLongModifiedDates"][2])
    assert len(offsets["MRN000123"]) == 1 and offsets["MRN000123"] != offsets["MRN000456"]


def test_retain_uids_keeps_every_uid_and_adds_113110(tmp_path: Path, cli) -> None:
    names = [str(path.relative_to(EXAMPLES / "dicom")) for path in (EXAMPLES / "dicom").rglob("*.dcm")]
    run = run_profile(cli, tmp_path, {name: EXAMPLES / "dicom" / name for name in names}, "basic,retainUIDs")
    assert run.code == 0, run.err
    for name in names:
        before = pydicom.dcmread(EXAMPLES / "dicom" / name)
        after = pydicom.dcmread(tmp_path / "out" / name)
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            assert after[keyword].value == before[keyword].value
        assert after.file_meta.MediaStorageSOPInstanceUID == before.file_meta.MediaStorageSOPInstanceUID
        reference = before.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert after.ReferencedImageSequence[0].ReferencedSOPInstanceUID == reference
        assert codes_of(after) == [BASIC_CODE, ("113110", "DCM", "Retain UIDs Option")]
        assert after.LongitudinalTemporalInformationModified == "REMOVED"


def test_without_retain_uids_the_example_uids_and_their_references_are_remapped(tmp_path: Path, cli) -> None:
    names = [str(path.relative_to(EXAMPLES / "dicom")) for path in (EXAMPLES / "dicom").rglob("*.dcm")]
    run = run_profile(cli, tmp_path, {name: EXAMPLES / "dicom" / name for name in names}, "basic")
    assert run.code == 0, run.err
    for name in names:
        before = pydicom.dcmread(EXAMPLES / "dicom" / name)
        after = pydicom.dcmread(tmp_path / "out" / name)
        assert after.SOPInstanceUID == uid_expected(before.SOPInstanceUID)
        assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
        reference = before.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert after.ReferencedImageSequence[0].ReferencedSOPInstanceUID == uid_expected(reference)
        assert after.SOPClassUID == before.SOPClassUID  # a standard UID


def test_when_two_options_disagree_on_a_row_cleaning_wins(tmp_path: Path, cli) -> None:
    # rows such as Date of Last Calibration: K for retainDeviceIdentity, C for the modified dates
    both = [
        (int(row["id"], 16), row)
        for row in rows()
        if row.get("rtnDevIdOpt") == "K" and row.get("rtnLongModifDatesOpt") == "C"
    ]
    assert both
    ds = dataset_withColumn("none")
    for tag, _ in both:
        element_make(ds, tag)
    run = run_profile(cli, tmp_path, {"a.dcm": ds}, "basic,retainDeviceIdentity,retainLongModifiedDates")
    assert run.code == 0, run.err
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    for tag, row in both:
        expected = cleaned_expected(row, ds[tag].VR, "retainLongModifiedDates")
        assert state_problem(expected, ds, after, tag) == "", row["name"]
    assert [code for code, _, _ in codes_of(after)] == ["113100", "113107", "113109"]


def test_the_options_go_in_the_table_s_order_whatever_order_they_are_given(tmp_path: Path, cli) -> None:
    run = run_profile(
        cli, tmp_path, {"a.dcm": dataset_withColumn("none")}, "basic,cleanGraphics, retainUIDs,,retainUIDs"
    )
    assert run.code == 0, run.err
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert after.DeidentificationMethod[1:] == ["retainUIDs", "cleanGraphics"]
    assert [code for code, _, _ in codes_of(after)] == ["113100", "113110", "113103"]
