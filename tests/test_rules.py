"""Rule sources and rule checks: everything wrong with a rule is found before any file is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from pfdicom_tagSub.errors import RuleError, UsageError
from pfdicom_tagSub.models import TagSubOptions
from pfdicom_tagSub.rules import rules_compile, tagInfo_parse, tagStruct_load

WRAPPER_TAGINFO: str = (
    "PatientName,%_name|patientID_PatientName ++ PatientID,%_md5|7_PatientID ++ "
    "AccessionNumber,%_md5|8_AccessionNumber"
)


def test_the_chris_wrapper_taginfo_string_gives_three_rules_in_order() -> None:
    assert tagInfo_parse(WRAPPER_TAGINFO, "++", ",") == {
        "PatientName": "%_name|patientID_PatientName",
        "PatientID": "%_md5|7_PatientID",
        "AccessionNumber": "%_md5|8_AccessionNumber",
    }


def test_taginfo_splits_each_item_at_its_first_separator_only() -> None:
    rules = tagInfo_parse("re:.*hysician = %_md5|4_#tag ++ StudyDescription = a = b", "++", "=")
    assert rules == {"re:.*hysician": "%_md5|4_#tag", "StudyDescription": "a = b"}


def test_taginfo_ignores_empty_items_from_a_trailing_token() -> None:
    assert tagInfo_parse("PatientName,ANON ++ ", "++", ",") == {"PatientName": "ANON"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PatientName ANON", "is not <key>,<value>"),
        (",ANON", "is not <key>,<value>"),
        ("PatientName,a ++ PatientName,b", "given twice"),
    ],
)
def test_malformed_taginfo_is_a_rule_error(text: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        tagInfo_parse(text, "++", ",")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("tagStruct", "message"),
    [
        ('{"PatientName": "ANON",}', "--tagStruct: invalid JSON"),
        ('["PatientName"]', "expected a JSON object"),
        ('{"PatientAge": 42}', "the value of 'PatientAge' must be text"),
        ('{"PatientID": "a", "PatientID": "b"}', "'PatientID' is given twice"),
    ],
)
def test_bad_json_rules_are_rule_errors(tagStruct: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        tagStruct_load(TagSubOptions(tagStruct=tagStruct))
    assert message in str(caught.value)


def test_a_missing_tag_file_is_a_rule_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(RuleError) as caught:
        tagStruct_load(TagSubOptions(tagFile=str(missing)))
    assert str(caught.value) == f"--tagFile {missing}: cannot read: No such file or directory"


def test_two_rule_sources_at_once_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--tagStruct and --tagInfo both given"):
        tagStruct_load(TagSubOptions(tagStruct="{}", tagInfo="PatientName,x"))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"PatientsName": "x"}, "PatientsName: not a DICOM keyword; did you mean PatientName?"),
        ({"re:(": "x"}, "'re:(': invalid regular expression: missing ), unterminated subpattern"),
        ({"re:": "x"}, "empty regular expression"),
        ({"PatientID": "%_hush|4_PatientID"}, "unknown function 'hush'"),
        ({"PatientID": "%PatientIdentifier"}, "%PatientIdentifier is not a DICOM keyword"),
        (
            {"OtherPatientIDsSequence": "x"},
            "OtherPatientIDsSequence: a SQ element cannot be given a text value",
        ),
        ({"PixelData": ""}, "PixelData: a OB or OW element cannot be given a text value"),
        ({"PatientID": "%_md5|4_PixelData"}, "%PixelData is a OB or OW element, with no text"),
    ],
)
def test_bad_rules_are_found_when_compiled(rules: dict[str, str], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        rules_compile(rules)
    assert message in str(caught.value)


def test_an_explicit_key_beats_a_regex_whatever_the_order() -> None:
    ruleset = rules_compile({"re:.*hysician": "%_md5|4_#tag", "ReferringPhysicianName": "DR^X"})
    rule, hits = ruleset.rule_for("ReferringPhysicianName")
    assert rule is not None and rule.key == "ReferringPhysicianName"
    assert hits == frozenset({0})


def test_among_regexes_the_later_one_wins() -> None:
    ruleset = rules_compile({"re:.*hysician": "A", "re:.*Name": "B"})
    rule, hits = ruleset.rule_for("ReferringPhysicianName")
    assert rule is not None and rule.key == "re:.*Name"
    assert hits == frozenset({0, 1})


def test_a_regex_is_anchored_at_the_start_of_the_keyword_not_the_end() -> None:
    ruleset = rules_compile({"re:hysician": "x", "re:Referring": "y"})
    assert ruleset.rule_for("ReferringPhysicianName")[0].key == "re:Referring"  # type: ignore[union-attr]
    assert ruleset.rule_for("PerformingPhysicianName")[0] is None


def test_unmatched_regexes_are_listed_for_the_end_of_run_warning() -> None:
    ruleset = rules_compile({"re:.*hysican": "x", "re:.*stitution": "#tag"})
    ruleset.rule_for("InstitutionName")
    assert ruleset.regexes_unmatched({1}) == ["re:.*hysican"]
