"""No identifier survives where a rule said it should be replaced, at any depth.

The example rules (``examples/anonymize.json``) run over a tree holding identifiers at the top
level, in nested sequences two levels deep, and in private elements (a private text element
and a private sequence whose items hold standard identifiers), encoded explicit little endian,
implicit little endian (where an unknown creator's private sequence reads as bytes) and
explicit big endian, plus the repository's example tree. Every output is decoded completely and
walked at every depth: no element the rules cover may still hold any original value of a
covered element. With ``--removePrivateTags`` no private element may remain, and none of the
original identifying strings may remain anywhere in the file's bytes.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom import datadict
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tests.conftest import EXAMPLES, CliRun
from tests.safety_support import dataset_save, files_under, image_dataset

RULES_FILE: Path = EXAMPLES / "anonymize.json"
PRIVATE_CREATOR: str = "ACME RESEARCH 1.0"
PRIVATE_NOTE: str = "RESIDUE-PRIVATE-NOTE"


@contextlib.contextmanager
def creator_known() -> Iterator[None]:
    """Teach pydicom the private creator, as a reader who knows it would decode the files.

    Only the checks use it: the tool runs without it, so that in implicit-VR files the private
    sequence is opaque bytes to the tool.
    """
    datadict.add_private_dict_entries(
        PRIVATE_CREATOR, {0x00110001: ("LO", "1", "Note", ""), 0x00110002: ("SQ", "1", "Hidden", "")}
    )
    try:
        yield
    finally:
        del datadict.private_dictionaries[PRIVATE_CREATOR]


def covered_make() -> Callable[[str], bool]:
    """Whether the example rules cover a keyword: an explicit key, or a ``re:`` key that matches."""
    rules: dict[str, str] = json.loads(RULES_FILE.read_text())
    explicit: set[str] = {key for key in rules if not key.startswith("re:")}
    patterns: list[re.Pattern[str]] = [re.compile(key[3:]) for key in rules if key.startswith("re:")]
    return lambda keyword: keyword in explicit or any(pattern.match(keyword) for pattern in patterns)


def elements_walk(dataset: Dataset, where: str = "") -> Iterator[tuple[str, DataElement]]:
    """Every element of a data set, at every depth, decoded, with where it is."""
    for element in dataset:
        yield f"{where}{element.keyword or element.tag}", element
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                yield from elements_walk(item, f"{where}{element.keyword or element.tag}[{index}].")


def text_of(element: DataElement) -> str:
    """An element's value as text, multiple values joined with a backslash."""
    value: object = element.value
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return "\\".join(str(item) for item in value)
    return "" if value is None else str(value)


def identified_dataset(number: int, syntax: str) -> Dataset:
    """Identifiers at the top level, in sequences two levels deep and in private elements."""
    tag: str = f"{number:02d}"
    dataset: Dataset = image_dataset(number, patientName=f"RESIDUE^PATIENT{tag}", patientID=f"RES-ID-{tag}")
    dataset.file_meta.TransferSyntaxUID = syntax
    dataset.PatientBirthDate = "19750612"
    dataset.AccessionNumber = f"RES-ACC-{tag}"
    dataset.InstitutionName = f"Residue Memorial {tag}"
    dataset.InstitutionAddress = f"{tag} Residue Road, Springfield"
    dataset.InstitutionalDepartmentName = "Residue Radiology"
    dataset.ReferringPhysicianName = f"RESIDUE^REFERRER{tag}"
    dataset.PerformingPhysicianName = f"RESIDUE^PERFORMER{tag}"
    dataset.PhysiciansOfRecord = f"RESIDUE^RECORD{tag}"
    dataset.NameOfPhysiciansReadingStudy = f"RESIDUE^READER{tag}"
    dataset.PatientAddress = f"{tag} Residue Lane"
    others: list[Dataset] = []
    for index in range(2):
        other = Dataset()
        other.PatientID = f"RES-OTHER-{tag}-{index}"
        other.PatientName = f"RESIDUE^ALIAS{tag}{index}"
        other.TypeOfPatientID = "TEXT"
        others.append(other)
    dataset.OtherPatientIDsSequence = Sequence(others)
    referrer = Dataset()
    referrer.InstitutionName = f"Residue Clinic {tag}"
    referrer.InstitutionAddress = f"{tag} Residue Square"
    referrer.PersonAddress = f"{tag} Residue Close"
    request = Dataset()
    request.AccessionNumber = f"RES-REQ-ACC-{tag}"
    request.RequestedProcedureID = f"RPID{tag}"
    request.ReferringPhysicianIdentificationSequence = Sequence([referrer])
    dataset.RequestAttributesSequence = Sequence([request])
    dataset["RequestAttributesSequence"].is_undefined_length = number % 2 == 0
    block = dataset.private_block(0x0011, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", f"{PRIVATE_NOTE}-{tag}")
    hidden = Dataset()
    hidden.PatientName = f"RESIDUE^HIDDEN{tag}"
    hidden.PatientID = f"RES-HIDDEN-{tag}"
    hidden.InstitutionName = f"Residue Hidden Ward {tag}"
    block.add_new(0x02, "SQ", Sequence([hidden]))
    return dataset


@pytest.fixture(scope="module")
def residueTree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root: Path = tmp_path_factory.mktemp("residue") / "in"
    shutil.copytree(EXAMPLES / "dicom", root / "examples")
    syntaxes: list[str] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian]
    for number in range(1, 7):
        syntax: str = syntaxes[number % 3]
        dataset_save(identified_dataset(number, syntax), root / f"series{number % 2}" / f"IM{number:04d}.dcm")
    return root


def originals_collect(paths: list[Path], covered: Callable[[str], bool]) -> tuple[set[str], int, int]:
    """The original non-empty values of covered elements; how many covered elements there are,
    and how many of them sit inside private elements."""
    values: set[str] = set()
    count: int = 0
    private: int = 0
    for path in paths:
        for where, element in elements_walk(pydicom.dcmread(path)):
            if element.VR != "SQ" and covered(element.keyword):
                count += 1
                private += "(" in where  # a private element has no keyword: its tag names it
                if text_of(element):
                    values.add(text_of(element))
    return values, count, private


def inputs_of(root: Path) -> list[Path]:
    return sorted(root.rglob("*.dcm"))


def synthetic_of(root: Path) -> list[Path]:
    """The synthetic files, whose identifying strings appear nowhere but in covered elements."""
    return sorted(root.glob("series*/*.dcm"))


@pytest.mark.parametrize("removePrivate", [False, True], ids=["keepPrivate", "removePrivateTags"])
def test_no_original_value_of_a_rule_covered_element_remains_at_any_depth(
    residueTree: Path, tmp_path: Path, cli: Callable[..., CliRun], removePrivate: bool
) -> None:
    covered: Callable[[str], bool] = covered_make()
    flags: list[str] = ["--removePrivateTags"] if removePrivate else []

    run: CliRun = cli(residueTree, tmp_path / "out", "--tagFile", RULES_FILE, *flags)

    assert run.code == 0, run.err
    outputs: list[str] = [name for name in files_under(tmp_path / "out") if name.endswith(".dcm")]
    assert len(outputs) == 10
    with creator_known():
        originals, coveredCount, privateCount = originals_collect(inputs_of(residueTree), covered)
        assert coveredCount > 150 and privateCount == 18 and any("HIDDEN" in value for value in originals)
        seen: int = 0
        for name in outputs:
            for where, element in elements_walk(pydicom.dcmread(tmp_path / "out" / name)):
                if element.VR != "SQ" and covered(element.keyword):
                    seen += 1
                    assert text_of(element) not in originals, f"{name}: {where} still holds an original value"
                if removePrivate:
                    assert not element.tag.is_private, f"{name}: {where} is private"
    assert seen == coveredCount - (privateCount if removePrivate else 0)


def test_with_remove_private_tags_no_identifying_string_remains_in_any_byte(
    residueTree: Path, tmp_path: Path, cli: Callable[..., CliRun]
) -> None:
    with creator_known():
        originals, _count, _private = originals_collect(synthetic_of(residueTree), covered_make())
    identifying: list[str] = [value for value in originals if len(value) >= 6] + [PRIVATE_NOTE]

    run: CliRun = cli(residueTree, tmp_path / "out", "--tagFile", RULES_FILE, "--removePrivateTags")

    assert run.code == 0, run.err
    for path in synthetic_of(residueTree):
        name: Path = path.relative_to(residueTree)
        data: bytes = (tmp_path / "out" / name).read_bytes()
        for value in identifying:
            for encoded in {value.encode("utf-8"), value.encode("latin-1", "replace")}:
                assert encoded not in data, f"{name} still holds {value!r}"


def test_private_elements_are_kept_unchanged_without_remove_private_tags(
    residueTree: Path, tmp_path: Path, cli: Callable[..., CliRun]
) -> None:
    run: CliRun = cli(residueTree, tmp_path / "out", "--tagFile", RULES_FILE)

    assert run.code == 0, run.err
    for path in synthetic_of(residueTree):
        original: Dataset = pydicom.dcmread(path)
        written: Dataset = pydicom.dcmread(tmp_path / "out" / path.relative_to(residueTree))
        note: object = written.private_block(0x0011, PRIVATE_CREATOR)[0x01].value
        assert note == original.private_block(0x0011, PRIVATE_CREATOR)[0x01].value
        assert (note.decode() if isinstance(note, bytes) else str(note)).startswith(PRIVATE_NOTE)
        assert written.PixelData == original.PixelData
