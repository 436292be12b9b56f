"""SPEC's reference values, exactly, on pydicom's CT_small.dcm and MR_small.dcm, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import README_RULES, dcm, pydicomFile, tree_make


@pytest.fixture
def outputs(tmp_path: Path, cli) -> Path:
    tree_make(
        tmp_path / "in",
        {"ct/CT_small.dcm": pydicomFile("CT_small.dcm"), "mr/MR_small.dcm": pydicomFile("MR_small.dcm")},
    )
    run = cli("-I", tmp_path / "in", "-O", tmp_path / "out", "-T", json.dumps(README_RULES))
    assert run.code == 0, run.err
    return tmp_path / "out"


def test_readme_rules_give_the_reference_values_on_ct_small(outputs: Path) -> None:
    ct = dcm(outputs / "ct" / "CT_small.dcm")
    assert str(ct.PatientName) == "BROWN^STACY^ANON"
    assert ct.PatientID == "6609f5d"
    assert ct.AccessionNumber == "d41d8cd9"
    assert str(ct.ReferringPhysicianName) == "d41d"
    assert ct.InstitutionName == "InstitutionName"


def test_readme_rules_give_the_reference_values_on_mr_small(outputs: Path) -> None:
    mr = dcm(outputs / "mr" / "MR_small.dcm")
    assert str(mr.PatientName) == "ANDERSON^DARLENE^ANON"
    assert mr.PatientID == "6aadf90"
    assert str(mr.NameOfPhysiciansReadingStudy) == "baea"


@pytest.mark.parametrize(
    ("rule", "keyword", "expected"),
    [
        ("%_strmsk|******01_StudyDate", "StudyDate", "20040101"),
        ("%_nospc|-_InstitutionName", "InstitutionName", "JFK-IMAGING-CENTER"),
        ("%_md5|8_PatientName", "PatientName", "ceb2b578"),
        ("%_md5_PatientID", "PatientID", "6609f5d815f5d6ea563b03921765e77c"),
        ("%_strmsk|**_PatientID", "PatientID", "1C"),
        ("%_name|studyInstanceUID_PatientName", "PatientName", "PERKINS^WENDY^ANON"),
    ],
)
def test_function_reference_values_on_ct_small(
    tmp_path: Path, cli, rule: str, keyword: str, expected: str
) -> None:
    tree_make(tmp_path / "in", {"CT_small.dcm": pydicomFile("CT_small.dcm")})
    run = cli(tmp_path / "in", tmp_path / "out", "--tagStruct", json.dumps({keyword: rule}))
    assert run.code == 0, run.err
    assert str(dcm(tmp_path / "out" / "CT_small.dcm")[keyword].value) == expected
