"""Values as text and back: the checks a rule's result passes before it is planned."""

from __future__ import annotations

import pytest
from pydicom.multival import MultiValue

from pfdicom_tagSub.values import element_text, text_check, value_fromText, vm_allows


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (MultiValue(str, ["ORIGINAL", "PRIMARY"]), "ORIGINAL\\PRIMARY"),
        (512, "512"),
        (None, ""),
        ([1.5, 2], "1.5\\2"),
    ],
)
def test_values_read_as_dicom_text(value: object, text: str) -> None:
    assert element_text(value) == text


def test_binary_values_have_no_text() -> None:
    with pytest.raises(TypeError):
        element_text(b"\x00\x01")


@pytest.mark.parametrize(
    ("vr", "text", "fine"),
    [
        ("DA", "20240115", True),
        ("DA", "2024-01-15", False),
        ("SH", "x" * 17, False),
        ("SH", "x" * 16, True),
        ("US", "1", True),
        ("US", "70000", False),
        ("US", "one", False),
        ("LO", "ok\\two", True),
        ("LO", "tab\there", False),
        ("LT", "tab\there", True),
        ("LO", "Zoë", False),  # not in ASCII, the default repertoire
        ("OB", "text", False),
    ],
)
def test_text_check_refuses_what_the_vr_vm_or_character_set_does_not_allow(
    vr: str, text: str, fine: bool
) -> None:
    tag: int = {
        "DA": 0x00080020,
        "SH": 0x00080050,
        "US": 0x00280010,
        "LO": 0x00081030,
        "LT": 0x00204000,
        "OB": 0x7FE00010,
    }[vr]
    if vr == "LO" and "\\" in text:
        tag = 0x00081090  # ManufacturerModelName: VM 1
        fine = False
    if fine:
        text_check(vr, tag, text, ["ascii"])
    else:
        with pytest.raises(ValueError):
            text_check(vr, tag, text, ["ascii"])


@pytest.mark.parametrize(
    ("vr", "text", "value"),
    [
        ("US", "512", 512),
        ("US", "1\\2", [1, 2]),
        ("FD", "0.5", 0.5),
        ("LO", "a\\b", "a\\b"),
        ("US", "", None),
        ("LO", "", ""),
    ],
)
def test_a_checked_text_becomes_the_value_pydicom_writes(vr: str, text: str, value: object) -> None:
    assert value_fromText(vr, text) == value


@pytest.mark.parametrize(
    ("vm", "count", "allowed"),
    [("1", 1, True), ("1", 2, False), ("1-n", 5, True), ("2-2n", 3, False), ("1-3", 3, True)],
)
def test_vm_allows_the_counts_the_dictionary_allows(vm: str, count: int, allowed: bool) -> None:
    assert vm_allows(vm, count) is allowed
