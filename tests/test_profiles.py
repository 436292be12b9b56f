"""profiles.py: Table E.1-1 and the options to rules; the values asserted are SPEC's and PS3.15's."""

from __future__ import annotations

import json

import pytest

from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.profiles import (
    Profile,
    TableRow,
    profile_build,
    profile_parse,
    row_code,
    stamps_make,
    table_load,
    tagPattern_parse,
    treatment_of,
)
from pfdicom_tagSub.rules import rules_compile
from tests.conftest import REPO

DATA = REPO / "pfdicom_tagSub" / "data"


@pytest.fixture(scope="module")
def basic() -> Profile:
    return profile_build("basic", "9.9.9")


@pytest.mark.parametrize(
    ("text", "value", "mask"),
    [
        ("(0010,0020)", 0x00100020, 0xFFFFFFFF),
        ("(0008,002A)", 0x0008002A, 0xFFFFFFFF),
        ("(50XX,XXXX)", 0x50000000, 0xFF000000),
        ("(60XX,3000)", 0x60003000, 0xFF00FFFF),
        ("(GGGG,EEEE) WHERE GGGG IS ODD", 0x00010000, 0x00010000),
    ],
)
def test_a_row_s_tag_or_pattern_becomes_a_value_and_a_mask(text: str, value: int, mask: int) -> None:
    assert tagPattern_parse(text) == (value, mask)


def test_a_row_tag_that_is_no_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="neither"):
        tagPattern_parse("(0010,00Q0)")


def test_the_shipped_table_has_the_621_rows_of_2024b_its_licence_and_its_source() -> None:
    assert (
        len(table_load())
        == 621
        == len(json.loads((DATA / "confidentiality_profile_attributes.json").read_text()))
    )
    assert (
        "MIT" in (DATA / "SOURCE.txt").read_text()
        and "innolitics/dicom-standard" in (DATA / "SOURCE.txt").read_text()
    )
    assert "Innolitics" in (DATA / "LICENSE.txt").read_text()


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("basic", ()),
        ("basic,", ()),
        (" basic , cleanGraphics,retainUIDs ", ("retainUIDs", "cleanGraphics")),
        ("basic,retainLongModifiedDates,retainLongModifiedDates", ("retainLongModifiedDates",)),
    ],
)
def test_the_options_are_read_in_the_table_s_order(text: str, options: tuple[str, ...]) -> None:
    assert profile_parse(text) == options


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Basic", "not 'Basic'"),
        ("", "not ''"),
        ("basic,RetainUIDs", "unknown option 'RetainUIDs'; the options are retainLongFullDates, "),
        ("basic,retainSafePrivate", "unknown option 'retainSafePrivate'"),
        ("basic,retainLongFullDates,retainLongModifiedDates", "exclude each other"),
    ],
)
def test_a_bad_profile_is_a_usage_error(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=None) as caught:
        profile_parse(text)
    assert says in str(caught.value)


DATE_OPTIONS = (("rtnLongFullDatesOpt", "K"), ("rtnLongModifDatesOpt", "C"), ("rtnDevIdOpt", "K"))
DATE_ROW = TableRow("Date of Last Calibration", 0x00181200, 0xFFFFFFFF, "X", DATE_OPTIONS)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ((), ("X", "")),
        (("retainDeviceIdentity",), ("K", "retainDeviceIdentity")),
        (("retainLongModifiedDates",), ("C", "retainLongModifiedDates")),
        (("retainLongModifiedDates", "retainDeviceIdentity"), ("C", "retainLongModifiedDates")),
        (("retainLongFullDates", "retainDeviceIdentity"), ("K", "retainLongFullDates")),
        (("cleanGraphics",), ("X", "")),
    ],
)
def test_an_option_changes_only_the_rows_of_its_column_and_cleaning_beats_keeping(
    options: tuple[str, ...], code: tuple[str, str]
) -> None:
    assert row_code(DATE_ROW, options) == code


@pytest.mark.parametrize(
    ("code", "basic", "vr", "tag", "treatment"),
    [
        ("X", "X", "LO", 0x00081030, "remove"),
        ("Z", "Z", "PN", 0x00100010, "empty"),
        ("Z", "Z", "SQ", 0x00400562, "empty"),  # a sequence left with no items
        ("X/Z", "X/Z", "DA", 0x00080022, "empty"),
        ("U", "U", "UI", 0x00080018, "uid"),
        ("D", "D", "LO", 0x00181000, "dummy"),
        ("Z/D", "Z/D", "LO", 0x00100020, "hash"),  # PatientID: the keyed pseudonym
        ("X/D", "X/D", "DA", 0x00080021, "dummy"),
        ("X/Z/D", "X/Z/D", "LO", 0x00080080, "dummy"),
        ("D", "D", "SQ", 0x0040A730, "keep"),  # kept, the profile applied to its items
        ("D", "D", "OB", 0x00420011, "empty"),  # binary data has no dummy
        ("D", "D", "UI", 0x006A0003, "dummy"),  # a UI's dummy is its keyed UID
        ("X/Z/U*", "X/Z/U*", "SQ", 0x00081140, "keep"),  # kept, its UIDs remapped by their rows
        ("K", "X", "DA", 0x00080021, "keep"),
        ("C", "X", "DA", 0x00080021, "dateshift"),
        ("C", "X", "DT", 0x0008002A, "dateshift"),
        ("C", "X", "TM", 0x00080031, "keep"),  # a whole-day shift leaves times alone
        ("C", "X", "LO", 0x00081030, "empty"),  # free text
        ("C", "D", "AE", 0x00081010, "empty"),
        ("C", "D", "CS", 0x04000565, "keep"),  # defined terms, no free text
        ("C", "D", "SQ", 0x0040A730, "keep"),
        ("C", "X", "OB", 0x00162B00, "remove"),  # binary data cannot be cleaned: the basic action
        ("C", "D", "OB", 0x00340007, "empty"),
    ],
)
def test_a_code_does_what_spec_says_for_the_element_s_vr(
    code: str, basic: str, vr: str, tag: int, treatment: str
) -> None:
    assert treatment_of(code, basic, vr, tag) == treatment


def test_the_profile_gives_every_element_named_by_a_row_its_rule(basic: Profile) -> None:
    assert basic.rule_for(0x00100010).action == "empty"  # type: ignore[union-attr]
    assert basic.rule_for(0x00100020).template.source == "%_hash|16_PatientID"  # type: ignore[union-attr]
    assert basic.rule_for(0x0020000D).template.source == "%_uid_#tag"  # type: ignore[union-attr]
    assert basic.rule_for(0x00091001).action == "remove"  # type: ignore[union-attr]
    assert basic.rule_for(0x7FE10010).action == "remove"  # type: ignore[union-attr]  # odd: private
    assert basic.rule_for(0x60023000).action == "remove"  # type: ignore[union-attr]  # overlay data
    assert basic.rule_for(0x50100022).action == "remove"  # type: ignore[union-attr]  # curve data
    assert basic.rule_for(0x7FE00010) is None  # pixel data: no row
    assert basic.rule_for(0x00080016) is None  # SOPClassUID: no row


def test_clean_graphics_empties_overlay_comments_and_removes_the_bitmap_it_cannot_clean() -> None:
    profile = profile_build("basic,cleanGraphics", "9.9.9")
    assert profile.rule_for(0x60004000).action == "empty"  # type: ignore[union-attr]
    assert profile.rule_for(0x60003000).action == "remove"  # type: ignore[union-attr]
    assert profile.rule_for(0x50000022).action == "empty"  # type: ignore[union-attr]  # CurveDescription
    assert profile.rule_for(0x00700001).action == "keep"  # type: ignore[union-attr]  # its items profiled


def test_a_rule_says_the_row_and_the_option_behind_it() -> None:
    profile = profile_build("basic,retainInstitutionIdentity", "9.9.9")
    assert profile.rule_for(0x00080080).key == "E.1-1 X/Z/D, K by retainInstitutionIdentity"  # type: ignore[union-attr]
    assert profile.rule_for(0x00100010).key == "E.1-1 Z"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("options", "longitudinal"),
    [((), "REMOVED"), (("retainLongFullDates",), "UNMODIFIED"), (("retainLongModifiedDates",), "MODIFIED")],
)
def test_the_conformance_elements_say_what_was_done(options: tuple[str, ...], longitudinal: str) -> None:
    stamps = {stamp.keyword: stamp.text for stamp in stamps_make(options, "9.9.9", userRules=False)}
    assert stamps["PatientIdentityRemoved"] == "YES"
    assert stamps["DeidentificationMethod"] == "\\".join(
        ["pfdicom_tagSub 9.9.9: PS3.15 E.1-1 Basic", *options]
    )
    assert stamps["LongitudinalTemporalInformationModified"] == longitudinal
    codes = json.loads(stamps["DeidentificationMethodCodeSequence"])
    assert codes[0] == {
        "CodeValue": "113100",
        "CodingSchemeDesignator": "DCM",
        "CodeMeaning": "Basic Application Confidentiality Profile",
    }
    dates: dict[str, str] = {"retainLongFullDates": "113106", "retainLongModifiedDates": "113107"}
    assert [code["CodeValue"] for code in codes[1:]] == [dates[option] for option in options]


def test_every_option_s_code_is_its_cid_7050_code() -> None:
    every = (
        "retainLongFullDates",
        "retainUIDs",
        "retainDeviceIdentity",
        "retainInstitutionIdentity",
        "retainPatientCharacteristics",
        "cleanDescriptors",
        "cleanStructuredContent",
        "cleanGraphics",
    )
    stamps = {stamp.keyword: stamp.text for stamp in stamps_make(every, "9.9.9", userRules=True)}
    codes = [code["CodeValue"] for code in json.loads(stamps["DeidentificationMethodCodeSequence"])]
    assert codes == ["113100", "113106", "113110", "113109", "113112", "113108", "113105", "113104", "113103"]
    assert stamps["DeidentificationMethod"].split("\\")[-1] == "with user rules (-T/-F/-n)"
    assert all(len(value) <= 64 for value in stamps["DeidentificationMethod"].split("\\"))  # LO


def test_a_user_rule_beats_the_profile_and_the_profile_acts_where_none_does(basic: Profile) -> None:
    ruleset = rules_compile({"PatientName": "%_keep", "re:Study": "x"}, basic)
    assert ruleset.rule_for("PatientName")[0].key == "PatientName"  # type: ignore[union-attr]
    assert ruleset.rule_for("StudyDescription")[0].key == "re:Study"  # type: ignore[union-attr]
    assert ruleset.rule_for("PatientBirthDate")[0].key == "E.1-1 Z"  # type: ignore[union-attr]
    assert ruleset.keyNeeded  # the profile's hash and uid
    assert [stamp.keyword for stamp in rules_compile({"PatientIdentityRemoved": "NO"}, basic).stamps()] == [
        "DeidentificationMethod",
        "DeidentificationMethodCodeSequence",
        "LongitudinalTemporalInformationModified",
    ]
