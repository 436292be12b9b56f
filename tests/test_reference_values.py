"""SPEC's reference values and the README's examples, exactly, on pydicom's CT_small.dcm and MR_small.dcm."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.conftest import README_RULES, REPO, dcm, pydicomFile, tree_make


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


README_KEY: bytes = b"pfdicom_tagSub README example key"
README_TEXT: str = (REPO / "README.rst").read_text(encoding="utf-8")
# the README's examples of keys, actions and keyed functions on CT_small.dcm: rules, element, value
KEYED_EXAMPLES: list[tuple[dict[str, str], tuple[str, ...], str, str]] = [
    ({"(0010,0020)": "%_hash|16_PatientID"}, (), "PatientID", "da5905718f8c7a28"),
    (
        {"StudyDescription": "%_hash_PatientID"},
        (),
        "StudyDescription",
        "da5905718f8c7a28e0c48bd09edf8b8f11cb3f31ddda2400b10ba0a1ce5a1313",
    ),
    ({"PatientName": "%_dummy"}, (), "PatientName", "ANONYMIZED"),
    ({"StudyTime": "%_dummy"}, (), "StudyTime", "000000"),
    ({"re:Patient": "%_dummy", "PatientSex": "%_keep"}, (), "PatientSex", "O"),
    ({"re:Patient": "%_dummy", "PatientSex": "%_keep"}, (), "PatientAge", "000D"),
    (
        {"StudyInstanceUID": "%_uid_StudyInstanceUID"},
        (),
        "StudyInstanceUID",
        "2.25.22500245870543881889370631544872022336234837720388606275034",
    ),
    (
        {"StudyInstanceUID": "%_dummy"},
        (),
        "StudyInstanceUID",
        "2.25.22500245870543881889370631544872022336234837720388606275034",
    ),
    (
        {"SOPInstanceUID": "%_uid|1.2.826.0.1.3680043.10.543._SOPInstanceUID"},
        (),
        "SOPInstanceUID",
        "1.2.826.0.1.3680043.10.543.3534617659547792473555794017961376924",
    ),
    ({"SOPClassUID": "%_uid_SOPClassUID"}, (), "SOPClassUID", "1.2.840.10008.5.1.4.1.1.2"),
    ({"StudyDate": "%_dateshift|-365_StudyDate"}, (), "StudyDate", "20030119"),
    ({"SeriesDate": "%_dateshift|patientID_SeriesDate"}, (), "SeriesDate", "19951116"),
    (
        {"SeriesDate": "%_dateshift|patientID_SeriesDate"},
        ("--dateShiftRange=-30:-10",),
        "SeriesDate",
        "19970406",
    ),
]


@pytest.mark.parametrize(("rules", "extra", "keyword", "expected"), KEYED_EXAMPLES)
def test_the_readme_examples_of_keys_actions_and_keyed_functions_on_ct_small(
    tmp_path: Path, cli, rules: dict[str, str], extra: tuple[str, ...], keyword: str, expected: str
) -> None:
    (tmp_path / "readme.key").write_bytes(README_KEY)
    tree_make(tmp_path / "in", {"CT_small.dcm": pydicomFile("CT_small.dcm")})
    run = cli(
        tmp_path / "in",
        tmp_path / "out",
        "-T",
        json.dumps(rules),
        "--keyFile",
        tmp_path / "readme.key",
        *extra,
    )
    assert run.code == 0, run.err
    assert str(dcm(tmp_path / "out" / "CT_small.dcm")[keyword].value) == expected
    assert f"``{expected}``" in README_TEXT


def test_the_readme_hash_example_is_hmac_sha256_of_the_patient_id_under_the_readme_key() -> None:
    assert hmac.new(README_KEY, b"1CT1", hashlib.sha256).hexdigest() == (
        "da5905718f8c7a28e0c48bd09edf8b8f11cb3f31ddda2400b10ba0a1ce5a1313"
    )
    assert "``pfdicom_tagSub README example key``" in README_TEXT


def test_the_readme_private_and_sequence_removals_on_ct_small(tmp_path: Path, cli) -> None:
    (tmp_path / "readme.key").write_bytes(README_KEY)
    tree_make(tmp_path / "in", {"CT_small.dcm": pydicomFile("CT_small.dcm")})
    rules = {'(0009,"GEMS_IDEN_01",01)': "%_remove", "OtherPatientIDsSequence": "%_remove"}
    run = cli(tmp_path / "in", tmp_path / "out", "-T", json.dumps(rules))
    assert run.code == 0, run.err
    before, after = dcm(pydicomFile("CT_small.dcm")), dcm(tmp_path / "out" / "CT_small.dcm")
    assert before[0x00091001].value == "GE_GENESIS_FF" and 0x00091001 not in after
    assert len(before.OtherPatientIDsSequence) == 2 and "OtherPatientIDsSequence" not in after
