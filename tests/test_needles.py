"""What ``--verify`` searches for: which old values, cut how, and which not. Pure: changes in, needles out."""

from __future__ import annotations

import re

import pytest

from pfdicom_tagSub.models import Change
from pfdicom_tagSub.needles import Needle, change_texts, needles_make, search_compile


def change(vr: str, old: str, keyword: str = "X", action: str = "replace", new: str | None = "n") -> Change:
    return Change(keyword, 0, keyword, vr, action, old, new, "rule")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("made", "texts"),
    [
        (change("LO", "MRN000123\\AB\\ABCD "), ["MRN000123", "ABCD"]),
        (change("LT", "one\\two three"), ["one\\two three"]),
        (change("PN", "DOE^JANE^^Dr^Jr=YAMADA^TARO"), ["DOE", "JANE", "YAMADA", "TARO"]),
        (change("DA", "20240115"), ["20240115"]),
        (change("UI", "2.25.1234"), ["2.25.1234"]),
    ],
)
def test_texts_of_4_characters_and_name_components_of_3_are_searched(made: Change, texts: list[str]) -> None:
    assert [needle.text for needle in needles_make([made])] == texts
    assert change_texts(made) == texts


@pytest.mark.parametrize(
    "made",
    [
        change("CS", "ORIGINAL"),
        change("DS", "12345.5"),
        change("IS", "123456"),
        change("US", "512"),
        change("UI", "1.2.840.10008.5.1.4.1.1.7"),  # a standard UID: Secondary Capture Image Storage
        change("SH", "113100", keyword="CodeValue"),
        change("LO", "Basic Application Confidentiality Profile", keyword="CodeMeaning"),
        change("SH", "DCM", keyword="CodingSchemeDesignator"),
        Change("(0009,0010)", 0x00090010, "", "LO", "remove", "ACME IMAGING", None, "rule"),
        change("LO", "MRN000123", action="create", new="x"),
        change("LO", "MRN000123", new="MRN000123"),  # not changed
    ],
    ids=lambda made: f"{made.vr}-{made.keyword}-{made.action}",
)
def test_values_that_identify_no_one_are_not_searched(made: Change) -> None:
    assert needles_make([made]) == []


def found(needle: str, vr: str, haystack: bytes) -> list[bytes]:
    search = search_compile([Needle(needle, "X", vr)], ["iso8859"])
    assert search is not None
    return [match.group() for match in search.pattern.finditer(haystack)]


@pytest.mark.parametrize(
    ("vr", "haystack", "hits"),
    [
        ("LO", b"ID:12345678.", 1),
        ("LO", b"2.25.12345678.9", 1),
        ("LO", b"2.25.991234567899", 0),
        ("LO", b"x123456789", 0),
        ("LO", b"012345678x", 0),
        ("DA", b"20240115", 1),
        ("DA", b"20240115101500.000000+0100", 1),
        ("DA", b"2.25.99202401151015", 0),
        ("DA", b"2.25.20240115101500123", 0),
    ],
)
def test_a_value_made_of_digits_matches_only_where_no_digit_touches_it(
    vr: str, haystack: bytes, hits: int
) -> None:
    needle: str = "20240115" if vr == "DA" else "12345678"
    assert len(found(needle, vr, haystack)) == hits


def test_a_value_is_searched_in_the_character_set_and_in_utf8() -> None:
    search = search_compile([Needle("MÜLLER", "PatientName", "PN")], ["iso8859"])
    assert search is not None
    assert set(search.needles) == {"MÜLLER".encode("latin-1"), "MÜLLER".encode()}
    assert re.compile(search.pattern.pattern).search(b"x" + "MÜLLER".encode() + b"x")


def test_a_value_the_character_set_cannot_write_is_searched_in_utf8_only() -> None:
    search = search_compile([Needle("山田", "PatientName", "PN"), Needle("ABCD", "X", "LO")], ["iso8859"])
    assert search is not None
    assert set(search.needles) == {"山田".encode(), b"ABCD"}
