#!/usr/bin/env python3
"""Make the example tree in ``examples/dicom``: synthetic DICOM, no real patient in it.

Two patients, one series each of two images; every file carries identifiers at the top level, in
a nested sequence (``OtherPatientIDsSequence`` holding a PatientName and a PatientID) and in a
private element, a reference to the other image of its series (``ReferencedImageSequence``, as a
scanner writes for a localizer), and a small pixel matrix. A text file sits among them, as it does in real
exports. The output is the same, byte for byte, every time it is made (fixed UIDs and dates), so
the committed tree can be checked against this script.

Usage:
    python examples/make_examples.py [outputDir]     # default: examples/dicom
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

UID_ROOT: str = "2.25."
IMPLEMENTATION_UID: str = "2.25.1234567890123456789"
IMPLEMENTATION_NAME: str = "PFDICOM_EXAMPLE"
MATRIX: int = 8
README_TEXT: str = (
    "Synthetic DICOM made by examples/make_examples.py for pfdicom_tagSub's README.\n"
    "This text file is here on purpose: the tool must skip it, name it, and go on.\n"
)


@dataclass(frozen=True)
class Patient:
    """One synthetic patient and the series made for them."""

    folder: str
    name: str
    patientID: str
    otherID: str
    birthDate: str
    sex: str
    accession: str
    modality: str
    sopClass: str
    series: str
    description: str
    referring: str
    performing: str
    institution: str
    address: str


PATIENTS: tuple[Patient, ...] = (
    Patient(
        "PAT001",
        "DOE^JANE",
        "MRN000123",
        "A-778899",
        "19800315",
        "F",
        "ACC2024001",
        "MR",
        MRImageStorage,
        "MR_T1_axial",
        "T1 axial  (3D) fast",
        "HOUSE^GREGORY",
        "CUDDY^LISA",
        "Princeton General Hospital",
        "1 Hospital Road, Princeton NJ",
    ),
    Patient(
        "PAT002",
        "ROE^RICHARD",
        "MRN000456",
        "B-112233",
        "19671102",
        "M",
        "ACC2024002",
        "CT",
        CTImageStorage,
        "CT_chest",
        "Chest CT w/o contrast",
        "WATSON^JOHN",
        "HOLMES^SHERLOCK",
        "Baker Street Clinic",
        "221B Baker Street, London",
    ),
)


def uid_make(*parts: str) -> str:
    """A fixed UID from names: ``2.25.<decimal of md5>``, at most 64 characters."""
    digest: int = int(hashlib.md5("/".join(parts).encode()).hexdigest(), 16)
    return (UID_ROOT + str(digest))[:64]


def pixels_make(seed: int) -> bytes:
    """A small 16-bit gradient, different per image."""
    return b"".join(
        ((row * MATRIX + column + seed) % 4096).to_bytes(2, "little")
        for row in range(MATRIX)
        for column in range(MATRIX)
    )


def dataset_make(patient: Patient, instance: int) -> Dataset:
    """One image of a patient's series."""
    sopUID: str = uid_make(patient.folder, patient.series, str(instance))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = patient.sopClass
    meta.MediaStorageSOPInstanceUID = sopUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_NAME
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = patient.sopClass
    ds.SOPInstanceUID = sopUID
    ds.StudyDate = ds.SeriesDate = "20240110"
    ds.StudyTime = "101500"
    ds.AccessionNumber = patient.accession
    ds.Modality = patient.modality
    ds.Manufacturer = "ACME Imaging"
    ds.ManufacturerModelName = "Phantom 3000"
    ds.InstitutionName = patient.institution
    ds.InstitutionAddress = patient.address
    ds.ReferringPhysicianName = patient.referring
    ds.PerformingPhysicianName = patient.performing
    ds.NameOfPhysiciansReadingStudy = patient.referring
    ds.SeriesDescription = patient.description
    ds.PatientName = patient.name
    ds.PatientID = patient.patientID
    ds.PatientBirthDate = patient.birthDate
    ds.PatientSex = patient.sex
    ds.PatientAddress = patient.address
    other = Dataset()
    other.PatientName = patient.name
    other.PatientID = patient.otherID
    other.IssuerOfPatientID = patient.institution
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    reference = Dataset()
    reference.ReferencedSOPClassUID = patient.sopClass
    reference.ReferencedSOPInstanceUID = uid_make(patient.folder, patient.series, str(3 - instance))
    ds.ReferencedImageSequence = Sequence([reference])
    ds.StudyInstanceUID = uid_make(patient.folder, "study")
    ds.SeriesInstanceUID = uid_make(patient.folder, patient.series)
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance
    block = ds.private_block(0x0009, "ACME 1.0", create=True)
    block.add_new(0x01, "LO", f"ACME internal id {patient.patientID}")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = MATRIX
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = pixels_make(instance)
    return ds


def examples_make(root: Path) -> list[Path]:
    """Write the example tree; return the files written."""
    written: list[Path] = []
    for patient in PATIENTS:
        folder: Path = root / patient.folder / patient.series
        folder.mkdir(parents=True, exist_ok=True)
        for instance in (1, 2):
            path: Path = folder / f"IM{instance:04d}.dcm"
            dataset_make(patient, instance).save_as(path, enforce_file_format=True)
            written.append(path)
    readme: Path = root / "README.txt"
    readme.write_text(README_TEXT)
    written.append(readme)
    return written


if __name__ == "__main__":
    target: Path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "dicom"
    for written in examples_make(target):
        print(written)
