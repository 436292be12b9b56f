"""``--profile basic`` on every file pydicom ships that the tool reads and writes.

Each row of PS3.15 Table E.1-1 present in a file, at any depth, does what the table says: X
absent, Z empty, D a valid value other than the original, U a remapped valid UID, the combined
codes as SPEC maps them; no private element remains; the four conformance elements are right;
pixel data is byte for byte the input's. The expectation is computed here, from the table file
read with json and from SPEC's words, never from the package's code; the keyed values from HMAC
computed here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from pydicom import config as pydicomConfig
from pydicom.dataset import Dataset
from pydicom.uid import UID_dictionary
from pydicom.valuerep import validate_value

from pfdicom_tagSub import __version__
from pfdicom_tagSub.__main__ import main
from tests.conftest import REPO
from tests.test_pydicom_files import shipped_readable

TABLE: Path = REPO / "pfdicom_tagSub" / "data" / "confidentiality_profile_attributes.json"
KEY: bytes = b"the profile tests' key, 32 bytes"
# SPEC "Profiles": Z/D, X/D, X/Z/D -> D; X/Z -> Z; X/Z/U* -> the sequence kept, its UIDs remapped
SPEC_MAPPING: dict[str, str] = {
    "X": "X",
    "Z": "Z",
    "D": "D",
    "U": "U",
    "Z/D": "D",
    "X/D": "D",
    "X/Z/D": "D",
    "X/Z": "Z",
    "X/Z/U*": "kept",
}
BINARY_VRS: frozenset[str] = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
PIXEL_KEYWORDS: tuple[str, ...] = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
PATIENT_ID: int = 0x00100020
MEDIA_STORAGE_SOP_INSTANCE_UID: int = 0x00020003
ROWS_EXERCISED_AT_LEAST: int = 100


def table_read() -> tuple[dict[int, dict[str, str]], list[tuple[int, int, dict[str, str]]]]:
    """The table's rows: by tag, and the pattern rows as (value, mask, row), the private row first."""
    exact: dict[int, dict[str, str]] = {}
    patterns: list[tuple[int, int, dict[str, str]]] = []
    for row in json.loads(TABLE.read_text(encoding="utf-8")):
        if "ODD" in row["tag"].upper():  # (GGGG,EEEE) WHERE GGGG IS ODD: the group's lowest bit set
            patterns.insert(0, (0x00010000, 0x00010000, row))
            continue
        digits: str = row["tag"].strip("()").replace(",", "").upper()
        if "X" in digits:
            mask: int = int("".join("0" if char == "X" else "F" for char in digits), 16)
            patterns.append((int(digits.replace("X", "0"), 16), mask, row))
        else:
            exact[int(digits, 16)] = row
    return exact, patterns


def uid_expected(value: str) -> str:
    """A UID as ``%_uid`` maps it (SPEC "Keyed functions"), computed with hmac here."""
    if not value or value in UID_dictionary:
        return value
    number: int = int.from_bytes(hmac.new(KEY, value.encode(), hashlib.sha256).digest(), "big")
    return "2.25." + str(10**58 + number % (9 * 10**58))


def values_of(element: object) -> list[str]:
    """An element's values as text."""
    value: object = getattr(element, "value", None)
    if value is None:
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [str(value)]
    return [str(item) for item in value]  # type: ignore[union-attr]


@dataclass
class Checker:
    """Walks an input data set and its output side by side, row by row."""

    exact: dict[int, dict[str, str]]
    patterns: list[tuple[int, int, dict[str, str]]]
    exercised: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def row_for(self, tag: int) -> dict[str, str] | None:
        row: dict[str, str] | None = self.exact.get(tag)
        if row is None:
            row = next((found for value, mask, found in self.patterns if tag & mask == value), None)
        return row

    def problem(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def items_check(self, before: Dataset, after: Dataset, tag: int, where: str) -> None:
        itemsBefore, itemsAfter = before[tag].value, after[tag].value
        if len(itemsBefore) != len(itemsAfter):
            self.problem(where, f"{len(itemsBefore)} items became {len(itemsAfter)}")
            return
        for index, (one, other) in enumerate(zip(itemsBefore, itemsAfter, strict=True)):
            self.dataset_check(one, other, f"{where}[{index}].")

    def dataset_check(self, before: Dataset, after: Dataset, where: str = "") -> None:
        for tag in before.keys():  # noqa: SIM118
            element = before[tag]
            name: str = where + (element.keyword or str(tag))
            row: dict[str, str] | None = self.row_for(int(tag))
            if row is None:
                if element.VR == "SQ" and tag in after:
                    self.items_check(before, after, tag, name)
                continue
            self.exercised.add(row["id"])
            self.row_check(SPEC_MAPPING[row["basicProfile"]], before, after, int(tag), name)

    def row_check(self, expect: str, before: Dataset, after: Dataset, tag: int, where: str) -> None:
        if expect == "X":
            if tag in after:
                self.problem(where, "X: still there")
            return
        if tag not in after:
            self.problem(where, f"{expect}: removed")
            return
        vr: str = before[tag].VR
        if expect == "Z":
            empty: bool = len(after[tag].value) == 0 if vr == "SQ" else after[tag].is_empty
            if not empty:
                self.problem(where, "Z: not empty")
        elif expect == "kept" or (expect == "D" and vr == "SQ"):
            self.items_check(before, after, tag, where)  # the profile applies to its items
        elif expect == "U":
            self.uid_check(values_of(before[tag]), values_of(after[tag]), where)
        elif vr in BINARY_VRS:  # no dummy for binary data: emptied (README)
            if not after[tag].is_empty:
                self.problem(where, "D of binary data: not emptied")
        else:
            self.dummy_check(before, after, tag, vr, where)

    def uid_check(self, old: list[str], new: list[str], where: str) -> None:
        if new != [uid_expected(value) for value in old]:
            self.problem(where, "U: not the keyed UID")
        for value in new:
            try:
                validate_value("UI", value, pydicomConfig.RAISE)
            except ValueError:
                self.problem(where, "U: not a valid UID")

    def dummy_check(self, before: Dataset, after: Dataset, tag: int, vr: str, where: str) -> None:
        old, new = values_of(before[tag]), values_of(after[tag])
        if tag == PATIENT_ID:  # SPEC: D on PatientID is %_hash|16_PatientID
            wanted: str = hmac.new(KEY, "\\".join(old).encode(), hashlib.sha256).hexdigest()[:16]
            if new != [wanted]:
                self.problem(where, "D of PatientID: not the keyed pseudonym")
        if vr == "UI":
            self.uid_check(old, new, where)
            return
        if not new or not all(new):
            self.problem(where, "D: empty")
        if new == old:
            self.problem(where, "D: the original value")
        for value in new:
            try:
                validate_value(vr, value, pydicomConfig.RAISE)
            except ValueError as err:
                self.problem(where, f"D: not a valid {vr}: {err}")


def privates_find(dataset: Dataset, where: str = "") -> list[str]:
    """Every private element at any depth."""
    found: list[str] = []
    for tag in dataset.keys():  # noqa: SIM118
        if tag.is_private:
            found.append(f"{where}{tag}")
        elif dataset[tag].VR == "SQ":
            for index, item in enumerate(dataset[tag].value):
                found += privates_find(item, f"{where}{dataset[tag].keyword}[{index}].")
    return found


def conformance_problems(after: Dataset) -> list[str]:
    """The four conformance elements of a Basic Profile run without options (SPEC, CID 7050)."""
    problems: list[str] = []
    if after.get("PatientIdentityRemoved") != "YES":
        problems.append("PatientIdentityRemoved is not YES")
    if after.get("DeidentificationMethod") != f"pfdicom_tagSub {__version__}: PS3.15 E.1-1 Basic":
        problems.append("DeidentificationMethod is not the Basic Profile's")
    codes = [
        (item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning)
        for item in after.get("DeidentificationMethodCodeSequence", [])
    ]
    if codes != [("113100", "DCM", "Basic Application Confidentiality Profile")]:
        problems.append(f"DeidentificationMethodCodeSequence is {codes}")
    if after.get("LongitudinalTemporalInformationModified") != "REMOVED":
        problems.append("LongitudinalTemporalInformationModified is not REMOVED")
    return problems


@dataclass
class ProfiledTree:
    """pydicom's files, each under a folder of its own, and the run's outputs."""

    pairs: list[tuple[str, Path, Path]]
    code: int


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> ProfiledTree:
    root: Path = tmp_path_factory.mktemp("profile")
    pairs: list[tuple[str, Path, Path]] = []
    for index, path in enumerate(shipped_readable()):
        relative: Path = Path(f"{index:03d}") / path.name  # two of pydicom's files share a name
        (root / "in" / relative).parent.mkdir(parents=True)
        shutil.copyfile(path, root / "in" / relative)
        pairs.append((path.name, root / "in" / relative, root / "out" / relative))
    (root / "key").write_bytes(KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arguments: list[str] = [str(root / "in"), str(root / "out"), "--keyFile", str(root / "key")]
        code: int = main([*arguments, "--profile", "basic", "-v", "0"])
    return ProfiledTree(pairs, code)


def read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def test_every_file_pydicom_ships_and_reads_is_written_under_the_profile(profiled: ProfiledTree) -> None:
    assert profiled.code == 0
    assert [name for name, _, output in profiled.pairs if not output.is_file()] == []


def test_every_row_of_e11_in_pydicom_files_does_what_the_table_says(profiled: ProfiledTree) -> None:
    exact, patterns = table_read()
    checker = Checker(exact, patterns)
    for name, source, output in profiled.pairs:
        before, after = read(source), read(output)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            checker.dataset_check(before, after, f"{name}: ")
            meta = getattr(before, "file_meta", None)
        if meta is not None and MEDIA_STORAGE_SOP_INSTANCE_UID in meta:
            checker.exercised.add(exact[MEDIA_STORAGE_SOP_INSTANCE_UID]["id"])
            # it follows the new SOPInstanceUID (SPEC); without one it is remapped by itself
            source_uid: str = str(before.get("SOPInstanceUID", meta.MediaStorageSOPInstanceUID))
            if after.file_meta.MediaStorageSOPInstanceUID != uid_expected(source_uid):
                checker.problem(f"{name}: MediaStorageSOPInstanceUID", "U: not the keyed UID")
    assert checker.problems == []
    print(f"E.1-1 rows exercised across {len(profiled.pairs)} files of pydicom: {len(checker.exercised)}")
    assert len(checker.exercised) >= ROWS_EXERCISED_AT_LEAST


def test_no_private_element_remains_at_any_depth(profiled: ProfiledTree) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = {name: privates_find(read(output)) for name, _, output in profiled.pairs}
        before = {name: privates_find(read(source)) for name, source, _ in profiled.pairs}
    assert {name: tags for name, tags in found.items() if tags} == {}
    assert sum(map(len, before.values())) > 100  # there were some


def test_every_output_carries_the_four_conformance_elements(profiled: ProfiledTree) -> None:
    problems = {name: conformance_problems(read(output)) for name, _, output in profiled.pairs}
    assert {name: found for name, found in problems.items() if found} == {}


def test_pixel_data_is_byte_for_byte_the_input_s(profiled: ProfiledTree) -> None:
    compared: int = 0
    for name, source, output in profiled.pairs:
        before, after = read(source), read(output)
        for keyword in PIXEL_KEYWORDS:
            if keyword in before:
                assert after[keyword].value == before[keyword].value, f"{name}: {keyword}"
                compared += 1
    assert compared > 50
