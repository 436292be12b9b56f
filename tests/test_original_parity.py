"""This tool writes what the original pfdicom_tagSub 3.1.1 wrote, wherever SPEC says it must.

The expected values below were produced by the original 3.1.1 on its pinned stack (pftree 3.4.2,
pydicom 2.4.5, Faker 40.63.0), each file alone in its own directory, by
``tests/parity/capture_expected.py`` (which also says how). They are the top-level values the
original wrote for every element a rule targets, without SPEC's deliberate differences (template
text written for an absent reference, sequences, colliding references, names with titles): what
users of the original get and must keep getting. ``tests/parity/compare_original.py`` compares the
two tools on every file pydicom ships; these cases run in CI, where the original is not installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydicom.data import get_charset_files
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from pfdicom_tagSub.__main__ import main
from tests.conftest import README_RULES, dcm, pydicomFile, tree_make

PARITY_RULES: dict[str, str] = {
    "PatientName": "%_md5|10_PatientName",
    "PatientID": "%_strmsk|XX****_PatientID",
    "ReferringPhysicianName": "%_name|patientID_ReferringPhysicianName",
    "OperatorsName": "%_md5|6_OperatorsName",
    "AccessionNumber": "%_md5|16_AccessionNumber",
    "StudyDate": "%_strmsk|****0101_StudyDate",
    "SeriesDate": "%_strmsk|****0101_SeriesDate",
    "StudyTime": "%_strmsk|**0000_StudyTime",
    "InstitutionName": "%_nospc|-_InstitutionName",
    "ProtocolName": "%_md5|8_ProtocolName",
    "re:.*Description$": "%_nospc|-_#tag",
    "re:Station": "%_md5|6_#tag",
    "re:Manufacturer$": "%_nospc|_#tag",
    "re:StudyID$": "#tag",
    "PatientIdentityRemoved": "YES",
    "DeidentificationMethod": "pfdicom_tagSub %_md5|4_PatientID",
}


def bundled(name: str) -> Path:
    """A file pydicom ships, among its test files or its character-set files."""
    charset: list[str] = [path for path in get_charset_files() if Path(path).name == name]
    return Path(charset[0]) if charset else pydicomFile(name)


def with_patientID(patientID: str) -> Dataset:
    """CT_small.dcm with another PatientID (the seed of the fake names)."""
    dataset: Dataset = dcm(pydicomFile("CT_small.dcm"))
    dataset.PatientID = patientID
    return dataset


# P0039 gets a Faker name with a suffix ("Tina Sanders MD"): both tools keep first and last name
CASES: dict[str, Path | Dataset] = {
    "CT_small.dcm": bundled("CT_small.dcm"),
    "MR_small.dcm": bundled("MR_small.dcm"),
    "rtplan.dcm": bundled("rtplan.dcm"),
    "JPEG2000.dcm": bundled("JPEG2000.dcm"),
    "waveform_ecg.dcm": bundled("waveform_ecg.dcm"),
    "chrFren.dcm": bundled("chrFren.dcm"),
    "chrH31.dcm": bundled("chrH31.dcm"),
    "CT_small.dcm PatientID=P0039": with_patientID("P0039"),
    "CT_small.dcm PatientID=P0014": with_patientID("P0014"),
}

# produced by the original 3.1.1 on its pinned stack (see the module docstring)
README_EXPECTED: dict[str, dict[str, str]] = {
    "CT_small.dcm": {
        "PatientName": "BROWN^STACY^ANON",
        "PatientID": "6609f5d",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "InstitutionName": "InstitutionName",
        "ReferringPhysicianName": "d41d",
    },
    "MR_small.dcm": {
        "PatientName": "ANDERSON^DARLENE^ANON",
        "PatientID": "6aadf90",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "InstitutionName": "InstitutionName",
        "NameOfPhysiciansReadingStudy": "baea",
        "ReferringPhysicianName": "d41d",
    },
    "rtplan.dcm": {
        "PatientName": "ROBERTSON^NICHOLAS^ANON",
        "PatientID": "49e086a",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "InstitutionName": "InstitutionName",
        "InstitutionalDepartmentName": "InstitutionalDepartmentName",
        "ReferringPhysicianName": "d41d",
    },
    "JPEG2000.dcm": {
        "PatientName": "ROGERS^VANESSA^ANON",
        "PatientID": "90d5002",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "InstitutionName": "InstitutionName",
        "NameOfPhysiciansReadingStudy": "d41d",
        "ReferringPhysicianName": "d41d",
    },
    "waveform_ecg.dcm": {
        "PatientName": "DUNLAP^LESLIE^ANON",
        "PatientID": "7df8ad0",
        "AccessionNumber": "adb02143",
        "PatientBirthDate": "19710101",
        "InstitutionName": "InstitutionName",
        "NameOfPhysiciansReadingStudy": "d41d",
        "PatientAddress": "PatientAddress",
        "PatientInstitutionResidence": "PatientInstitutionResidence",
        "ReferringPhysicianName": "3623",
        "RequestingPhysician": "3623",
    },
    "chrFren.dcm": {
        "PatientName": "GEORGE^TANNER^ANON",
        "PatientID": "1b13e59",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "ReferringPhysicianName": "8a06",
    },
    "chrH31.dcm": {
        "PatientName": "DILLON^ADRIAN^ANON",
        "PatientID": "54955e2",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "ReferringPhysicianName": "8a06",
    },
    "CT_small.dcm PatientID=P0039": {
        "PatientName": "SANDERS^TINA^ANON",
        "PatientID": "babb122",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "InstitutionName": "InstitutionName",
        "ReferringPhysicianName": "d41d",
    },
    "CT_small.dcm PatientID=P0014": {
        "PatientName": "HIGGINS^MARCUS^ANON",
        "PatientID": "b543ed5",
        "AccessionNumber": "d41d8cd9",
        "PatientBirthDate": "",
        "InstitutionName": "InstitutionName",
        "ReferringPhysicianName": "d41d",
    },
}

# produced by the original 3.1.1 on its pinned stack (see the module docstring)
PARITY_EXPECTED: dict[str, dict[str, str]] = {
    "CT_small.dcm": {
        "PatientName": "ceb2b57806",
        "PatientID": "XXT1",
        "ReferringPhysicianName": "BROWN^STACY^ANON",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "20040101",
        "SeriesDate": "19970101",
        "StudyTime": "070000",
        "InstitutionName": "JFK-IMAGING-CENTER",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub 6609",
        "Manufacturer": "GEMEDICALSYSTEMS",
        "StationName": "c50157",
        "StudyDescription": "e-1",
        "StudyID": "StudyID",
    },
    "MR_small.dcm": {
        "PatientName": "124a2d27e9",
        "PatientID": "XXR1",
        "ReferringPhysicianName": "ANDERSON^DARLENE^ANON",
        "OperatorsName": "baea04",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "20040101",
        "SeriesDate": "",
        "StudyTime": "180000",
        "InstitutionName": "TOSHIBA",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub 6aad",
        "Manufacturer": "TOSHIBA_MEC",
        "StationName": "4c9300",
        "StudyID": "StudyID",
    },
    "rtplan.dcm": {
        "PatientName": "f43a564254",
        "PatientID": "XX0000",
        "ReferringPhysicianName": "ROBERTSON^NICHOLAS^ANON",
        "OperatorsName": "4b5833",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "20030101",
        "StudyTime": "150000",
        "InstitutionName": "Here",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub 49e0",
        "Manufacturer": "Manufacturernamehere",
        "StationName": "f3246d",
        "StudyID": "StudyID",
    },
    "JPEG2000.dcm": {
        "PatientName": "644aeeaa58",
        "PatientID": "XXM1",
        "ReferringPhysicianName": "ROGERS^VANESSA^ANON",
        "OperatorsName": "d41d8c",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "20040101",
        "SeriesDate": "19970101",
        "StudyTime": "180000",
        "InstitutionName": "Hospital-Name-12345",
        "ProtocolName": "7f8ee612",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub 90d5",
        "DerivationDescription": "JPEG-2000-irreversible-lossy-2097-1",
        "Manufacturer": "GEMedicalSystems",
        "StationName": "de70f6",
        "StudyDescription": "Whole-Body-Bone",
        "StudyID": "StudyID",
    },
    "waveform_ecg.dcm": {
        "PatientName": "7079c72c21",
        "PatientID": "XX2341",
        "ReferringPhysicianName": "DUNLAP^LESLIE^ANON",
        "OperatorsName": "d41d8c",
        "AccessionNumber": "adb02143d301afc1",
        "StudyDate": "20130101",
        "StudyTime": "100000",
        "InstitutionName": "E-O-Ospedali-Galliera",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub 7df8",
        "Manufacturer": "MortaraInstrumentInc",
        "StationName": "d41449",
        "StudyDescription": "ECG",
        "StudyID": "StudyID",
    },
    "chrFren.dcm": {
        "PatientName": "abc1cd646e",
        "PatientID": "XXSFRE",
        "ReferringPhysicianName": "GEORGE^TANNER^ANON",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "",
        "StudyTime": "",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub 1b13",
        "Manufacturer": "",
        "StudyID": "StudyID",
    },
    "chrH31.dcm": {
        "PatientName": "de574c3d99",
        "PatientID": "XX1EXA",
        "ReferringPhysicianName": "DILLON^ADRIAN^ANON",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "",
        "StudyTime": "",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub 5495",
        "Manufacturer": "",
        "StudyID": "StudyID",
    },
    "CT_small.dcm PatientID=P0039": {
        "PatientName": "ceb2b57806",
        "PatientID": "XX039",
        "ReferringPhysicianName": "SANDERS^TINA^ANON",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "20040101",
        "SeriesDate": "19970101",
        "StudyTime": "070000",
        "InstitutionName": "JFK-IMAGING-CENTER",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub babb",
        "Manufacturer": "GEMEDICALSYSTEMS",
        "StationName": "c50157",
        "StudyDescription": "e-1",
        "StudyID": "StudyID",
    },
    "CT_small.dcm PatientID=P0014": {
        "PatientName": "ceb2b57806",
        "PatientID": "XX014",
        "ReferringPhysicianName": "HIGGINS^MARCUS^ANON",
        "AccessionNumber": "d41d8cd98f00b204",
        "StudyDate": "20040101",
        "SeriesDate": "19970101",
        "StudyTime": "070000",
        "InstitutionName": "JFK-IMAGING-CENTER",
        "PatientIdentityRemoved": "YES",
        "DeidentificationMethod": "pfdicom_tagSub b543",
        "Manufacturer": "GEMEDICALSYSTEMS",
        "StationName": "c50157",
        "StudyDescription": "e-1",
        "StudyID": "StudyID",
    },
}

RULE_SETS: dict[str, dict[str, str]] = {"readme": README_RULES, "parity": PARITY_RULES}


def directory_of(case: str) -> str:
    """A directory name for a case."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", case)


def element_text(dataset: Dataset, keyword: str) -> str | None:
    """An element's value as text, multiple values joined with a backslash; None when absent."""
    if keyword not in dataset:
        return None
    value: object = dataset[keyword].value
    if isinstance(value, MultiValue | list):
        return "\\".join(str(item) for item in value)
    return "" if value is None else str(value)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Dataset]]:
    """Both rule sets run once over a tree holding every case: rule set to case to output."""
    root: Path = tmp_path_factory.mktemp("parity")
    tree_make(root / "in", {f"{directory_of(case)}/f.dcm": source for case, source in CASES.items()})
    outputs: dict[str, dict[str, Dataset]] = {}
    for name, rules in RULE_SETS.items():
        assert main([str(root / "in"), str(root / name), "-T", json.dumps(rules), "-v", "0"]) == 0
        outputs[name] = {case: dcm(root / name / directory_of(case) / "f.dcm") for case in CASES}
    return outputs


@pytest.mark.parametrize("case", list(README_EXPECTED))
def test_the_readme_rules_write_what_the_original_wrote(written, case: str) -> None:
    output: Dataset = written["readme"][case]
    assert {keyword: element_text(output, keyword) for keyword in README_EXPECTED[case]} == README_EXPECTED[
        case
    ]


@pytest.mark.parametrize("case", list(PARITY_EXPECTED))
def test_md5_strmsk_nospc_name_and_hash_tag_rules_write_what_the_original_wrote(written, case: str) -> None:
    output: Dataset = written["parity"][case]
    assert {keyword: element_text(output, keyword) for keyword in PARITY_EXPECTED[case]} == PARITY_EXPECTED[
        case
    ]


def targeted(rules: dict[str, str], source: Dataset) -> set[str]:
    """The keywords a rule set targets in a file: explicit keys and regex hits."""
    regexes: list[str] = [key[3:] for key in rules if key.startswith("re:")]
    hits: set[str] = {
        keyword for keyword in source.dir() if any(re.match(regex, keyword) for regex in regexes)
    }
    return hits | {key for key in rules if not key.startswith("re:")}


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_top_level_elements_no_rule_targets_are_written_as_read_as_the_original_did(
    written, name: str
) -> None:
    for case, source in CASES.items():
        original: Dataset = source if isinstance(source, Dataset) else dcm(source)
        output: Dataset = written[name][case]
        untouched: set[str] = set(original.dir()) - targeted(RULE_SETS[name], original)
        for keyword in sorted(untouched):
            if original[keyword].VR != "SQ":  # nested elements are replaced: a deliberate difference
                assert element_text(output, keyword) == element_text(original, keyword), (case, keyword)
