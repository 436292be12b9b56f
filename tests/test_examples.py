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
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID_dictionary

from examples.make_examples import examples_make
from tests.conftest import EXAMPLES, REPO, CliRun, dcm, script_run, tree_snapshot


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


def quickStart_run(tmp_path: Path, configHome: Path) -> tuple[CliRun, Path]:
    """The README's first command, as written, on a copy of the example tree; the key it creates."""
    command = readme_first_command()
    assert command[0] == "pfdicom_tagSub"
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return script_run(*command[1:], cwd=tmp_path), configHome / "pfdicom_tagSub" / "key"


def test_the_readme_first_command_de_identifies_the_example_tree_by_the_basic_profile(
    tmp_path: Path, configHome: Path
) -> None:
    run, keyPath = quickStart_run(tmp_path, configHome)
    assert run.code == 0, run.err
    assert "created a new secret key" in run.err
    key: bytes = keyPath.read_bytes().rstrip()
    anon = tmp_path / "anon"
    written = sorted(str(path.relative_to(anon)) for path in anon.rglob("*.dcm"))
    assert written == [
        str(path.relative_to(EXAMPLES / "dicom")) for path in sorted((EXAMPLES / "dicom").rglob("*.dcm"))
    ]
    for path in anon.rglob("*.dcm"):
        original = pydicom.dcmread(EXAMPLES / "dicom" / path.relative_to(anon))
        output = dcm(path)
        assert output.PatientID == hmac.new(key, original.PatientID.encode(), hashlib.sha256).hexdigest()[:16]
        assert (output.PatientName, output.PatientBirthDate, output.AccessionNumber) == ("", "", "")  # Z
        assert output.InstitutionName == "ANONYMIZED"  # X/Z/D
        for gone in ("InstitutionAddress", "PatientAddress", "OtherPatientIDsSequence", "SeriesDescription"):
            assert gone not in output  # X
        assert not any(tag.is_private for tag in output.keys())  # noqa: SIM118
        assert (output.PatientIdentityRemoved, output.LongitudinalTemporalInformationModified) == (
            "YES",
            "REMOVED",
        )
        assert output.PixelData == original.PixelData
    assert "--verify: 4 outputs searched for original values: 4 clean" in run.out
    assert "README.txt" in run.out


def identifiers_of(dataset: Dataset) -> set[str]:
    """Every value of the example tree that could identify: each text value of every element at every
    depth, file meta included, each person-name component, but for those that name no one."""
    found: set[str] = set()
    for element in [*dataset.file_meta, *dataset.iterall()]:
        if element.VR == "SQ" or element.keyword in NOT_IDENTIFYING or element.VR in NUMBER_VRS:
            continue
        for value in element.value if isinstance(element.value, MultiValue) else [element.value]:
            text: str = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            if element.VR == "UI" and text in UID_dictionary:
                continue
            found.add(text)
            if element.VR == "PN":
                found.update(text.split("^"))
    return {text for text in found if len(text) >= 3}


def test_the_quick_start_leaves_no_original_identifier_in_any_output_byte(
    tmp_path: Path, configHome: Path
) -> None:
    run, _ = quickStart_run(tmp_path, configHome)
    assert run.code == 0, run.err
    inputs = sorted((EXAMPLES / "dicom").rglob("*.dcm"))
    identifiers: set[str] = set().union(*(identifiers_of(pydicom.dcmread(path)) for path in inputs))
    # what the tree holds: MRNs, other IDs, names, the hospitals and their addresses, accession
    # numbers, dates, times, descriptions, the private element, every UID
    for sample in ("MRN000123", "A-778899", "DOE", "JANE", "HOUSE", "Princeton General Hospital",
                   "221B Baker Street, London", "ACC2024002", "19800315", "20240110", "101500",
                   "T1 axial  (3D) fast", "ACME internal id MRN000456"):  # fmt: skip
        assert sample in identifiers
    assert sum(value.startswith("2.25.") for value in identifiers) == 4 + 2 + 2  # instances, series, studies
    outputs = sorted((tmp_path / "anon").rglob("*.dcm"))
    assert len(outputs) == len(inputs)
    residue: dict[str, list[str]] = {}
    for path in outputs:
        data: bytes = path.read_bytes()
        for value in sorted(identifiers):
            encoded: bytes = re.escape(value.encode("latin-1"))
            # digits alone count where no digit touches them: not by chance inside a new UID
            pattern: bytes = rb"(?<![0-9])" + encoded + rb"(?![0-9])" if value.isdigit() else encoded
            if re.search(pattern, data):
                residue.setdefault(str(path.relative_to(tmp_path)), []).append(value)
    assert residue == {}


NOT_IDENTIFYING: frozenset[str] = frozenset(
    {
        "SpecificCharacterSet",
        "ImageType",
        "Modality",
        "Manufacturer",
        "ManufacturerModelName",
        "PhotometricInterpretation",
        "TypeOfPatientID",
        "ImplementationClassUID",
        "ImplementationVersionName",
    }
)  # the example's scanner, image and file format; none is a row of E.1-1 that removes it
NUMBER_VRS: frozenset[str] = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "OB", "OW", "IS", "DS"})


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
