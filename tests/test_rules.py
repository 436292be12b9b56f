"""Rule sources, keys, actions, checks: everything wrong with a rule is found before any file is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from pfdicom_tagSub.errors import RuleError, UsageError
from pfdicom_tagSub.models import PrivateKey, TagSubOptions
from pfdicom_tagSub.rules import rules_compile
from pfdicom_tagSub.sources import rules_required, tagInfo_parse, tagStruct_load

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


@pytest.mark.parametrize(
    ("key", "kind", "tag", "private"),
    [
        ("PatientID", "keyword", 0x00100020, None),
        ("(0010,0020)", "tag", 0x00100020, None),
        ("(0009,10aa)", "tag", 0x000910AA, None),
        ("( 7fe0 , 0010 )", "tag", 0x7FE00010, None),
        ('(0009,"ACME 1.1",01)', "private", None, PrivateKey(0x0009, "ACME 1.1", 0x01)),
        ('(0029,"SIEMENS CSA HEADER",1a)', "private", None, PrivateKey(0x0029, "SIEMENS CSA HEADER", 0x1A)),
        ("re:.*UID", "regex", None, None),
    ],
)
def test_keys_name_an_element_by_keyword_tag_or_private_creator(key: str, kind: str, tag, private) -> None:
    rule = rules_compile({key: "%_remove"}).rules[0]
    assert (rule.kind, rule.tag, rule.private, rule.action) == (kind, tag, private, "remove")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            {"MediaStorageSOPInstanceUID": "1.2.3"},
            "MediaStorageSOPInstanceUID follows SOPInstanceUID by itself",
        ),
        ({"TransferSyntaxUID": "%_keep"}, "the transfer syntax is not a rule's business"),
        ({"(0002,0010)": "%_remove"}, "a file meta element (group 0002) takes no rule"),
        ({"(FFFE,E000)": "%_remove"}, "group FFFE holds item delimiters"),
        ({'(0010,"ACME",01)': "%_remove"}, "group 0010 holds no private elements"),
        ({'(0009,"",01)': "%_remove"}, "a private creator is 1 to 64 characters"),
        ({"(0010,20)": "x"}, 'not a tag key: write (gggg,eeee) or (gggg,"CREATOR",ee), in hex'),
        ({"PatientID": "x", "(0010,0020)": "y"}, "PatientID and (0010,0020) name the same element"),
        ({'(0009,"A",0a)': "x", '(0009,"A",0A)': "y"}, "name the same element"),
        ({"PatientID": "%_remove_PatientID"}, "%_remove is an action, the whole value by itself"),
        ({"StudyTime": "%_dateshift|-1_StudyTime"}, "%_dateshift reads DA or DT elements; StudyTime is TM"),
        ({"re:.*Time$": "%_dateshift|-1_StudyTime"}, "%_dateshift reads DA or DT elements; StudyTime is TM"),
        ({"StudyTime": "%_dateshift|-1_#tag"}, "%_dateshift reads DA or DT elements; StudyTime is TM"),
        ({"StudyDate": "%_dateshift_StudyDate"}, "function 'dateshift' needs an argument"),
        (
            {"StudyDate": "%_dateshift|patientId_StudyDate"},
            "dateshift seed 'patientId' is not a DICOM keyword",
        ),
        ({"PatientID": "%_uid_PatientID"}, "%_uid reads UI elements; PatientID is LO"),
        ({"SOPInstanceUID": "%_uid|2.25_SOPInstanceUID"}, "the uid root '2.25' must end with a dot"),
        ({"SOPInstanceUID": "%_uid|1.2.3." + "4." * 20 + "_#tag"}, "at most 44 leave the hash room"),
        ({"PatientID": "%_hash|x_PatientID"}, "hash takes a number of characters, not 'x'"),
        ({"OtherPatientIDsSequence": "%_dummy"}, "there is no dummy value for OtherPatientIDsSequence"),
        ({"PixelData": "%_dummy"}, "there is no dummy value for PixelData, a OB or OW element"),
    ],
)
def test_bad_keys_actions_and_keyed_functions_are_rule_errors(rules: dict[str, str], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        rules_compile(rules)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "action"),
    [
        ("%_remove", "remove"),
        (" %_keep ", "keep"),
        ("%_dummy", "dummy"),
        ("", "template"),
        ("x %_keep", None),
    ],
)
def test_an_action_is_a_whole_value_by_itself(value: str, action: str | None) -> None:
    if action is None:
        with pytest.raises(RuleError, match="an action, the whole value by itself"):
            rules_compile({"PatientID": value})
        return
    assert rules_compile({"PatientID": value}).rules[0].action == action


def test_remove_and_keep_may_name_sequences_and_binary_elements() -> None:
    ruleset = rules_compile({"OtherPatientIDsSequence": "%_remove", "PixelData": "%_keep"})
    assert [rule.action for rule in ruleset.rules] == ["remove", "keep"]


def test_a_private_creator_key_beats_a_tag_key_which_beats_a_regex() -> None:
    ruleset = rules_compile({"re:.*": "A", "(0009,1001)": "B", '(0009,"ACME",01)': "C", "(0010,0020)": "D"})
    assert ruleset.rule_for("", 0x00091001, "ACME")[0].key == '(0009,"ACME",01)'  # type: ignore[union-attr]
    assert ruleset.rule_for("", 0x00091001, "OTHER")[0].key == "(0009,1001)"  # type: ignore[union-attr]
    assert ruleset.rule_for("", 0x00091002, "ACME")[0] is None  # a regex matches keywords only
    assert ruleset.rule_for("PatientID")[0].key == "(0010,0020)"  # type: ignore[union-attr]
    assert ruleset.rule_for("PatientName")[0].key == "re:.*"  # type: ignore[union-attr]


def test_keep_beats_the_other_regexes_and_loses_to_an_explicit_key() -> None:
    ruleset = rules_compile({"re:PatientSex": "%_keep", "re:Patient": "%_dummy", "PatientSex": "M"})
    assert ruleset.rule_for("PatientSex")[0].key == "PatientSex"  # type: ignore[union-attr]
    ruleset = rules_compile({"re:PatientSex": "%_keep", "re:Patient": "%_dummy"})
    rule, hits = ruleset.rule_for("PatientSex")
    assert rule is not None and rule.action == "keep" and hits == frozenset({0, 1})


@pytest.mark.parametrize(
    ("rules", "needed"),
    [
        ({"PatientID": "%_md5|7_PatientID"}, False),
        ({"StudyDate": "%_dateshift|-30_StudyDate"}, False),
        ({"StudyDate": "%_dateshift|patientID_StudyDate"}, True),
        ({"PatientID": "%_hash|8_PatientID"}, True),
        ({"re:.*UID": "%_uid_#tag"}, True),
        ({"PatientName": "%_dummy"}, False),
        ({"StudyInstanceUID": "%_dummy"}, True),
        ({"re:.*Name$": "%_dummy"}, False),
        ({"re:Study": "%_dummy"}, True),  # StudyInstanceUID
        ({'(0009,"ACME",01)': "%_dummy"}, True),  # its VR is known only in a file
    ],
)
def test_the_key_is_needed_only_by_keyed_functions_and_dummies_that_may_meet_a_uid(
    rules: dict[str, str], needed: bool
) -> None:
    assert rules_compile(rules).keyNeeded is needed


def test_taginfo_takes_a_private_creator_key_whole_with_its_commas() -> None:
    assert tagInfo_parse('(0009,"ACME, Inc.",01),%_remove ++ (0010,0020),%_hash|8_PatientID', "++", ",") == {
        '(0009,"ACME, Inc.",01)': "%_remove",
        "(0010,0020)": "%_hash|8_PatientID",
    }


def test_a_run_with_nothing_to_de_identify_is_refused() -> None:
    with pytest.raises(UsageError, match="nothing to de-identify: give rules"):
        rules_required(TagSubOptions(), {})
    rules_required(TagSubOptions(removePrivateTags=True), {})
    rules_required(TagSubOptions(profile="basic"), {})
    rules_required(TagSubOptions(), {"PatientID": "%_keep"})
