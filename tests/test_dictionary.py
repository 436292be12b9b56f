"""The data dictionary, asked in one place: keywords, tags, VRs, VMs and typo suggestions."""

from __future__ import annotations

import pytest

from pfdicom_tagSub.dictionary import (
    keyword_isFileMeta,
    keyword_isKnown,
    keyword_isRepeating,
    keyword_of,
    keyword_suggest,
    keyword_vr,
    tag_isSequence,
    tag_of,
    tag_vm,
    tag_vr,
    vr_isText,
)


@pytest.mark.parametrize(
    ("tag", "keyword", "vr", "vm"),
    [
        (0x00100010, "PatientName", "PN", "1"),
        (0x00100020, "PatientID", "LO", "1"),
        (0x00080008, "ImageType", "CS", "2-n"),
        (0x00101002, "OtherPatientIDsSequence", "SQ", "1"),
        (0x7FE00010, "PixelData", "OB or OW", "1"),
    ],
)
def test_a_tag_has_its_keyword_vr_and_vm(tag: int, keyword: str, vr: str, vm: str) -> None:
    assert (keyword_of(tag), tag_of(keyword), tag_vr(tag), tag_vm(tag), keyword_vr(keyword)) == (
        keyword,
        tag,
        vr,
        vm,
        vr,
    )


def test_private_and_unknown_tags_have_no_keyword() -> None:
    assert (keyword_of(0x00091001), tag_vr(0x00091001), tag_of("NotAKeyword")) == ("", "", None)


@pytest.mark.parametrize(
    ("word", "known", "repeating", "meta"),
    [
        ("PatientName", True, False, False),
        ("PatientsName", False, False, False),
        ("OverlayData", False, True, False),  # no single tag: groups 6000-601E
        ("MediaStorageSOPInstanceUID", True, False, True),
        ("TransferSyntaxUID", True, False, True),
        ("", False, False, False),
    ],
)
def test_words_are_told_apart(word: str, known: bool, repeating: bool, meta: bool) -> None:
    assert (keyword_isKnown(word), keyword_isRepeating(word), keyword_isFileMeta(word)) == (
        known,
        repeating,
        meta,
    )


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [
        ("PatientsName", "; did you mean PatientName?"),
        ("ReferringPhysiciansName", "; did you mean ReferringPhysicianName?"),
        ("Xq", ""),
    ],
)
def test_a_typo_is_answered_with_the_closest_keywords(word: str, suggestion: str) -> None:
    assert keyword_suggest(word) == suggestion


@pytest.mark.parametrize(
    ("vr", "text"),
    [("PN", True), ("US", True), ("SQ", False), ("OB or OW", False), ("US or SS", True), ("UN", False)],
)
def test_only_vrs_with_a_text_form_are_text(vr: str, text: bool) -> None:
    assert vr_isText(vr) is text


def test_sequences_are_known_by_the_dictionary() -> None:
    assert tag_isSequence(0x00101002) and not tag_isSequence(0x00100010) and not tag_isSequence(0x00091010)
