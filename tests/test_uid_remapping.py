"""``%_uid``: a study's UIDs remapped under a key, every reference following the element it names.

The study: two series of three CT images, and a key object selection document whose nested
evidence sequence references all six instances (and lists two of them in a multi-valued UI
element). One rule, ``"re:.*UID": "%_uid_#tag"``, must leave every reference pointing at the new
UID of the instance it names, one Study UID, only valid UIDs, the standard UIDs untouched, and no
original UID anywhere in the output bytes; the same bytes in every run and with any number of
workers; other bytes under another key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
from pathlib import Path

import pydicom
import pytest
from pydicom import config as pydicomConfig
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    KeyObjectSelectionDocumentStorage,
    UID_dictionary,
)
from pydicom.valuerep import validate_value

from tests.conftest import CliRun, script_run

SECRET: bytes = b"uid test key, 32 bytes long!!!!!"
ROOT: str = "1.2.826.0.1.3680043.10.999."
RULES: dict[str, str] = {"re:.*UID": "%_uid_#tag"}
UID_FORM = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def uid_of(*numbers: int) -> str:
    return ROOT + ".".join(str(number) for number in numbers)


def uid_expected(value: str, key: bytes = SECRET) -> str:
    """SPEC's remapping, from the standard library: 2.25. then 59 digits, 10**58 + H mod 9*10**58."""
    number: int = int.from_bytes(hmac.new(key, value.encode(), hashlib.sha256).digest(), "big")
    return "2.25." + str(10**58 + number % (9 * 10**58))


def file_meta(sopClass: str, sopInstance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sopClass
    meta.MediaStorageSOPInstanceUID = sopInstance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def image_make(series: int, instance: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = file_meta(CTImageStorage, uid_of(3, series, instance))
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid_of(3, series, instance)
    ds.StudyInstanceUID = uid_of(1)
    ds.SeriesInstanceUID = uid_of(2, series)
    ds.FrameOfReferenceUID = uid_of(4, series)
    ds.PatientID = "MRN000777"
    ds.Modality = "CT"
    ds.SeriesNumber = series
    ds.InstanceNumber = instance
    return ds


def selection_make() -> Dataset:
    """A key object selection document referencing the six images, nested two levels deep."""
    ds = Dataset()
    ds.file_meta = file_meta(KeyObjectSelectionDocumentStorage, uid_of(5, 1))
    ds.SOPClassUID = KeyObjectSelectionDocumentStorage
    ds.SOPInstanceUID = uid_of(5, 1)
    ds.StudyInstanceUID = uid_of(1)
    ds.SeriesInstanceUID = uid_of(2, 9)
    ds.PatientID = "MRN000777"
    ds.Modality = "KO"
    seriesItems: list[Dataset] = []
    for series in (1, 2):
        references: list[Dataset] = []
        for instance in (1, 2, 3):
            reference = Dataset()
            reference.ReferencedSOPClassUID = CTImageStorage
            reference.ReferencedSOPInstanceUID = uid_of(3, series, instance)
            references.append(reference)
        item = Dataset()
        item.SeriesInstanceUID = uid_of(2, series)
        item.ReferencedSOPSequence = Sequence(references)
        seriesItems.append(item)
    study = Dataset()
    study.StudyInstanceUID = uid_of(1)
    study.ReferencedSeriesSequence = Sequence(seriesItems)
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([study])
    ds.FailedSOPInstanceUIDList = [uid_of(3, 1, 1), uid_of(3, 2, 3)]
    return ds


@pytest.fixture
def study(tmp_path: Path) -> Path:
    root: Path = tmp_path / "in"
    for series in (1, 2):
        for instance in (1, 2, 3):
            path: Path = root / f"series{series}" / f"IM{instance}.dcm"
            path.parent.mkdir(parents=True, exist_ok=True)
            image_make(series, instance).save_as(path, enforce_file_format=True)
    (root / "KO").mkdir()
    selection_make().save_as(root / "KO" / "KO1.dcm", enforce_file_format=True)
    return root


@pytest.fixture
def keyFile(tmp_path: Path) -> Path:
    path: Path = tmp_path / "study.key"
    path.write_bytes(SECRET)
    return path


def uids_in(dataset: Dataset) -> list[str]:
    """Every value of every UI element, file meta and nested items included."""
    meta: Dataset = dataset.file_meta
    elements = [*(meta[tag] for tag in meta.keys()), *dataset.iterall()]  # noqa: SIM118  # items, not raw values
    values: list[str] = []
    for element in elements:
        if element.VR == "UI" and element.value:
            values += (
                list(element.value)
                if isinstance(element.value, list | pydicom.multival.MultiValue)
                else [element.value]
            )
    return [str(value) for value in values]


def outputs(root: Path) -> dict[str, Dataset]:
    return {str(path.relative_to(root)): pydicom.dcmread(path) for path in sorted(root.rglob("*.dcm"))}


def test_every_reference_follows_the_instance_it_names_and_no_original_uid_is_left(
    study: Path, tmp_path: Path, cli, keyFile: Path
) -> None:
    run: CliRun = cli(study, tmp_path / "out", "-T", json.dumps(RULES), "--keyFile", keyFile)
    assert run.code == 0, run.err
    before: dict[str, Dataset] = outputs(study)
    after: dict[str, Dataset] = outputs(tmp_path / "out")
    assert sorted(after) == sorted(before) and len(after) == 7
    newOf: dict[str, str] = {
        str(before[name].SOPInstanceUID): str(after[name].SOPInstanceUID) for name in before
    }
    assert all(new == uid_expected(old) for old, new in newOf.items())
    selection: Dataset = after["KO/KO1.dcm"]
    original: Dataset = before["KO/KO1.dcm"]
    seriesItems = selection.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    originalItems = original.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    checked: int = 0
    for item, originalItem in zip(seriesItems, originalItems, strict=True):
        for reference, originalReference in zip(
            item.ReferencedSOPSequence, originalItem.ReferencedSOPSequence, strict=True
        ):
            assert reference.ReferencedSOPInstanceUID == newOf[originalReference.ReferencedSOPInstanceUID]
            assert reference.ReferencedSOPClassUID == CTImageStorage  # standard: kept
            checked += 1
        assert (
            item.SeriesInstanceUID
            == after[f"series{originalItem.SeriesInstanceUID[-1]}/IM1.dcm"].SeriesInstanceUID
        )
    assert checked == 6
    assert list(selection.FailedSOPInstanceUIDList) == [
        newOf[uid] for uid in original.FailedSOPInstanceUIDList
    ]
    assert len({str(ds.StudyInstanceUID) for ds in after.values()}) == 1
    assert (
        selection.CurrentRequestedProcedureEvidenceSequence[0].StudyInstanceUID == selection.StudyInstanceUID
    )
    assert after["series1/IM1.dcm"].StudyInstanceUID != original.StudyInstanceUID
    for name, dataset in after.items():
        assert dataset.file_meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID
        assert dataset.SOPClassUID == before[name].SOPClassUID == dataset.file_meta.MediaStorageSOPClassUID
        assert dataset.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        for uid in uids_in(dataset):
            assert len(uid) <= 64 and UID_FORM.fullmatch(uid), uid
            validate_value("UI", uid, pydicomConfig.RAISE)
    originals: set[str] = {
        uid
        for ds in before.values()
        for uid in uids_in(ds)
        if uid not in UID_dictionary and uid.startswith(ROOT)
    }
    assert len(originals) == 6 + 1 + 3 + 2 + 1  # instances, study, series (2 and the KO's), frames, KO
    for path in (tmp_path / "out").rglob("*.dcm"):
        data: bytes = path.read_bytes()
        assert [uid for uid in originals if uid.encode() in data] == []


def test_the_same_key_gives_the_same_bytes_in_every_run_and_with_any_number_of_workers(
    study: Path, tmp_path: Path, cli, keyFile: Path
) -> None:
    trees: list[dict[str, bytes]] = []
    for name, threads in (("one", "0"), ("two", "2"), ("again", "0")):
        run: CliRun = cli(
            study, tmp_path / name, "-T", json.dumps(RULES), "--keyFile", keyFile, "--threads", threads
        )
        assert run.code == 0, run.err
        trees.append(
            {str(p.relative_to(tmp_path / name)): p.read_bytes() for p in (tmp_path / name).rglob("*.dcm")}
        )
    process: CliRun = script_run(study, tmp_path / "process", "-T", json.dumps(RULES), "--keyFile", keyFile)
    assert process.code == 0, process.err
    trees.append(
        {
            str(p.relative_to(tmp_path / "process")): p.read_bytes()
            for p in (tmp_path / "process").rglob("*.dcm")
        }
    )
    assert len(trees[0]) == 7 and all(tree == trees[0] for tree in trees)
    other: Path = tmp_path / "other.key"
    other.write_bytes(b"another key: the outputs differ!")
    run = cli(study, tmp_path / "otherOut", "-T", json.dumps(RULES), "--keyFile", other)
    assert run.code == 0, run.err
    changed: dict[str, Dataset] = outputs(tmp_path / "otherOut")
    first: dict[str, Dataset] = outputs(tmp_path / "one")
    assert all(changed[name].SOPInstanceUID != first[name].SOPInstanceUID for name in first)
    assert changed["series1/IM1.dcm"].SOPInstanceUID == uid_expected(uid_of(3, 1, 1), other.read_bytes())


def test_the_audit_uid_mapping_pairs_each_original_uid_with_its_new_one(
    study: Path, tmp_path: Path, cli, keyFile: Path
) -> None:
    audit: Path = tmp_path / "audit.sqlite"
    run: CliRun = cli(
        study, tmp_path / "out", "-T", json.dumps(RULES), "--keyFile", keyFile, "--audit", audit
    )
    assert run.code == 0, run.err
    originals: set[str] = {
        uid for ds in outputs(study).values() for uid in uids_in(ds) if uid.startswith(ROOT)
    }
    with sqlite3.connect(audit) as connection:
        pairs: set[tuple[str, str]] = set(connection.execute("SELECT id_old, id_new FROM uid_mapping"))
    assert pairs == {(uid, uid_expected(uid)) for uid in originals}


def test_a_uid_root_is_checked_when_the_rules_are_read(
    study: Path, tmp_path: Path, cli, keyFile: Path
) -> None:
    for root, why in (
        ("1.2.3", "must end with a dot"),
        ("1.02.", "leading zero"),
        ("1.2.x.", "digits and dots"),
    ):
        run: CliRun = cli(study, tmp_path / "out", "-T", json.dumps({"re:.*UID": f"%_uid|{root}_#tag"}))
        assert run.code == 2 and why in run.err, run.err
    run = cli(study, tmp_path / "out", "-T", json.dumps({"SOPInstanceUID": f"%_uid|{ROOT}_SOPInstanceUID"}),
              "--keyFile", keyFile)  # fmt: skip
    assert run.code == 0, run.err
    new: str = str(pydicom.dcmread(tmp_path / "out" / "series1" / "IM1.dcm").SOPInstanceUID)
    assert new.startswith(ROOT) and len(new) == 64
    assert (
        pydicom.dcmread(tmp_path / "out" / "series1" / "IM1.dcm").file_meta.MediaStorageSOPInstanceUID == new
    )


def test_uid_of_an_element_that_is_no_uid_is_refused(study: Path, tmp_path: Path, cli, keyFile: Path) -> None:
    explicit: CliRun = cli(
        study, tmp_path / "out", "-T", '{"PatientID": "%_uid_PatientID"}', "--keyFile", keyFile
    )
    assert explicit.code == 2
    assert "%_uid reads UI elements; PatientID is LO" in explicit.err
