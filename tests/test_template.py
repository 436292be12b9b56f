"""Parsing value templates once, and evaluating them against a file's values."""

from __future__ import annotations

import pytest

from pfdicom_tagSub.errors import RuleError
from pfdicom_tagSub.models import ReferencePiece, TagNamePiece, TextPiece
from pfdicom_tagSub.template import Absent, template_evaluate, template_parse

VALUES: dict[str, str] = {
    "PatientID": "1CT1",
    "PatientName": "CompressedSamples^CT1",
    "Manufacturer": "GE MEDICAL SYSTEMS",
    "ManufacturerModelName": "RHAPSODE",
    "StudyDate": "20040119",
    "AccessionNumber": "",
}


def evaluate(text: str, current: str = "PatientID") -> str:
    return template_evaluate(template_parse(text), current, VALUES.get)


def test_manufacturer_model_name_is_one_reference_not_manufacturer_plus_text() -> None:
    assert template_parse("%ManufacturerModelName").pieces == (ReferencePiece("ManufacturerModelName"),)
    assert evaluate("%ManufacturerModelName") == "RHAPSODE"
    assert evaluate("%Manufacturer-%ManufacturerModelName") == "GE MEDICAL SYSTEMS-RHAPSODE"


def test_a_literal_word_after_a_reference_stays_literal() -> None:
    assert template_parse("%PatientID name").pieces == (ReferencePiece("PatientID"), TextPiece(" name"))
    assert evaluate("%PatientID name md5 strmsk") == "1CT1 name md5 strmsk"


def test_hash_tag_is_the_keyword_and_percent_hash_tag_its_value() -> None:
    assert template_parse("#tag").pieces == (TagNamePiece(),)
    assert evaluate("#tag", "InstitutionName") == "InstitutionName"
    assert evaluate("%#tag", "PatientID") == "1CT1"
    assert evaluate("%_md5|4_#tag", "AccessionNumber") == "d41d"
    assert evaluate("anon-#tag-%_strmsk|**_#tag", "PatientID") == "anon-PatientID-1C"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%_md5|7_PatientID", "6609f5d"),
        ("%_md5_PatientID", "6609f5d815f5d6ea563b03921765e77c"),
        ("%_strmsk|******01_StudyDate", "20040101"),
        ("%_nospc|-_Manufacturer", "GE-MEDICAL-SYSTEMS"),
        ("%_nospc_Manufacturer", "GEMEDICALSYSTEMS"),
        ("%_name|patientID_PatientName", "BROWN^STACY^ANON"),
        ("%_md5|8_AccessionNumber", "d41d8cd9"),
        ("ID-%PatientID-%StudyDate", "ID-1CT1-20040119"),
        ("100% sure", "100% sure"),
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_templates_evaluate_to_the_expected_text(text: str, expected: str) -> None:
    assert evaluate(text) == expected


def test_an_absent_reference_names_the_missing_element_instead_of_writing_template_text() -> None:
    result = evaluate("x-%PatientAge-%PatientID")
    assert isinstance(result, Absent)
    assert result == "PatientAge"


def test_name_without_seed_or_with_absent_seed_uses_the_element_own_value() -> None:
    # Faker seeded with the bytes of "CompressedSamples^CT1" says "Katherine Brown"
    assert evaluate("%_name_PatientName") == "BROWN^KATHERINE^ANON"
    assert evaluate("%_name|patientAge_PatientName") == "BROWN^KATHERINE^ANON"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%_md6|4_PatientID", "unknown function 'md6'"),
        ("%PatientsName", "%PatientsName is not a DICOM keyword; did you mean PatientName"),
        ("%_md5|4", "malformed function call"),
        ("%_md5|four_PatientID", "md5 takes a number of characters, not 'four'"),
        ("%_strmsk_PatientID", "function 'strmsk' needs an argument"),
        ("%_name|patientIdentity_PatientName", "name seed 'patientIdentity' is not a DICOM keyword"),
        ("%_md5|4_Nonsense", "%Nonsense is not a DICOM keyword"),
    ],
)
def test_bad_templates_are_rule_errors_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(RuleError, match=None) as caught:
        template_parse(text)
    assert message in str(caught.value)
