"""Element values as text and back: DICOM's text form, and a text checked for its element.

Templates read and write text; elements hold numbers, person names, multiple values. This module
turns a value into the text a template sees (numbers as written, ``Family^Given``, values joined
with ``\\``), checks a template's result against the element's VR, VM and the data set's
character set, and turns a checked text into the value pydicom writes.

Key components:
    - element_text, element_textOrNone: an element's value as text
    - text_check: a rule's text checked for the element's VR, VM and character set; every reason
      it gives is free of the value (``result is 26 characters, more than 16``)
    - vm_allows, vm_minimum: what a dictionary VM asks for
    - value_fromText: a checked text as the value pydicom writes (a sequence's text: its items, as
      a JSON list of objects of keyword to text)
    - dataset_encodings: the codecs of the nearest Specific Character Set

Typical usage:
    text_check("DA", 0x00080020, "20240115", ["ascii"])
    value_fromText("US", "1\\2")  # [1, 2]

Dependencies:
    - pydicom for VR validation and character sets
    - pfdicom_tagSub.dictionary, for the VM
"""

from __future__ import annotations

import json

from pydicom import config as pydicomConfig
from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.valuerep import MAX_VALUE_LEN, validate_value

from pfdicom_tagSub.dictionary import keyword_of, keyword_vr, tag_of, tag_vm

SPECIFIC_CHARACTER_SET: BaseTag = Tag(0x0008, 0x0005)
DEFAULT_CHARSETS: frozenset[str] = frozenset({"", "ISO_IR 6", "ISO 2022 IR 6"})
SINGLE_VALUE_VRS: frozenset[str] = frozenset({"LT", "ST", "UT", "UR"})
TEXT_VRS: frozenset[str] = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
INT_RANGES: dict[str, tuple[int, int]] = {
    "US": (0, 2**16 - 1),
    "SS": (-(2**15), 2**15 - 1),
    "UL": (0, 2**32 - 1),
    "SL": (-(2**31), 2**31 - 1),
    "UV": (0, 2**64 - 1),
    "SV": (-(2**63), 2**63 - 1),
}
INT_VRS: frozenset[str] = frozenset(INT_RANGES)
FLOAT_VRS: frozenset[str] = frozenset({"FL", "FD"})
PARAGRAPH_CONTROLS: frozenset[str] = frozenset("\r\n\f\t")
ESCAPE: str = "\x1b"
PN_COMPONENT_MAX: int = 64
VR_FORMS: dict[str, str] = {
    "AE": "an application entity title (no backslash or control characters)",
    "AS": "an age, nnnD, nnnW, nnnM or nnnY",
    "CS": "a code string (upper-case letters, digits, space and underscore)",
    "DA": "a date, YYYYMMDD",
    "DS": "a decimal number",
    "DT": "a date-time, YYYYMMDDHHMMSS.FFFFFF&ZZXX",
    "IS": "an integer from -2147483648 to 2147483647",
    "PN": "a person name (at most 5 components of 64 characters, 3 groups)",
    "TM": "a time, HHMMSS.FFFFFF",
    "UI": "a UID (digits and dots, components without leading zeros)",
}


def text_single(value: object) -> str:
    """One value in DICOM's text form: numbers as written, person names as ``Family^Given``."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        raise TypeError("binary value")
    return str(value)


def element_text(value: object) -> str:
    """An element value in DICOM's text form; multiple values joined with a backslash.

    Example:
        >>> element_text(MultiValue(str, ["ORIGINAL", "PRIMARY"]))
        'ORIGINAL\\\\PRIMARY'
    """
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(text_single(item) for item in value)
    return text_single(value)


def element_textOrNone(element: DataElement) -> str | None:
    """An element's text, None when its value is binary or a sequence."""
    if element.VR == "SQ":
        return None
    try:
        return element_text(element.value)
    except TypeError:
        return None


def vm_allows(vm: str, count: int) -> bool:
    """Whether ``count`` values satisfy a dictionary VM such as ``1``, ``1-3``, ``1-n``, ``2-2n``.

    Example:
        >>> vm_allows("2-2n", 4), vm_allows("1", 2)
        (True, False)
    """
    if count == 0 or not vm:
        return True
    low, _, high = vm.partition("-")
    try:
        minimum: int = int(low)
        if not high:
            return count == minimum
        if high == "n":
            return count >= minimum
        if high.endswith("n"):
            return count >= minimum and count % int(high[:-1]) == 0
        return minimum <= count <= int(high)
    except ValueError:
        return True


def vm_minimum(vm: str) -> int:
    """The fewest values a dictionary VM asks for (1 when it says nothing).

    Example:
        >>> vm_minimum("3"), vm_minimum("2-2n"), vm_minimum("")
        (3, 2, 1)
    """
    low: str = vm.partition("-")[0]
    return int(low) if low.isdigit() else 1


def dataset_encodings(chain: list[Dataset]) -> list[str]:
    """The Python codecs of the nearest Specific Character Set; plain ASCII when none is given.

    pydicom decodes the default repertoire as Latin-1; DICOM's default is ASCII, so a non-ASCII
    value in a file without a character set is refused rather than written unreadable.
    """
    for dataset in chain:
        element = dataset.get(SPECIFIC_CHARACTER_SET)
        if element is not None and element.value:
            names: list[str] = (
                list(element.value) if isinstance(element.value, MultiValue) else [element.value]
            )
            encodings: list[str] = convert_encodings(names)
            if names[0].strip() in DEFAULT_CHARSETS:
                encodings[0] = "ascii"
            return encodings
    return ["ascii"]


def text_encodable(text: str, encodings: list[str]) -> bool:
    """Whether the text can be written in the given encodings (ISO 2022 switching allowed)."""

    def encodes(part: str, encoding: str) -> bool:
        try:
            part.encode(encoding)
        except (UnicodeError, LookupError):
            return False
        return True

    if any(encodes(text, encoding) for encoding in encodings):
        return True
    return len(encodings) > 1 and all(any(encodes(char, encoding) for encoding in encodings) for char in text)


def text_checkCharacters(vr: str, text: str) -> None:
    """Refuse control characters a VR does not allow (LT/ST/UT allow CR, LF, FF, TAB)."""
    allowed: frozenset[str] = PARAGRAPH_CONTROLS if vr in SINGLE_VALUE_VRS else frozenset()
    for char in text:
        if (ord(char) < 0x20 or char == "\x7f") and char not in allowed and char != ESCAPE:
            raise ValueError(f"control character U+{ord(char):04X} is not allowed in {vr}")


def number_parse(vr: str, text: str) -> int | float:
    """One binary number from its text."""
    try:
        return int(text.strip()) if vr in INT_VRS else float(text.strip())
    except ValueError:
        raise ValueError(f"result is not a number, which {vr} holds") from None


def part_checkForm(vr: str, part: str) -> None:
    """One value of a text VR checked by pydicom's validator; the reason holds no value.

    Raises:
        ValueError: too long, or not of the VR's form.

    Example:
        >>> part_checkForm("SH", "A-VERY-LONG-ADMISSION-NUMBER")
        Traceback (most recent call last):
        ValueError: result is 28 characters, more than 16
    """
    longest: int | None = MAX_VALUE_LEN.get(vr)
    if longest is not None and len(part) > longest:
        raise ValueError(f"result is {len(part)} characters, more than {longest}")
    try:
        validate_value(vr, part, pydicomConfig.RAISE)
    except ValueError:
        if vr == "PN" and any(len(component) > PN_COMPONENT_MAX for component in part.split("^")):
            raise ValueError(
                f"result has a name component of more than {PN_COMPONENT_MAX} characters"
            ) from None
        raise ValueError(f"result is not {VR_FORMS.get(vr, f'a valid {vr} value')}") from None


def text_parts(vr: str, text: str) -> list[str]:
    """The values of a text: one for the single-valued text VRs, else split at backslashes."""
    return [text] if vr in SINGLE_VALUE_VRS else text.split("\\")


def text_check(vr: str, tag: int, text: str, encodings: list[str]) -> None:
    """Check a rule's text for the element: VM, pydicom's VR validator, characters, character set.

    Raises:
        ValueError: with a reason that does not hold the value (the value may identify a patient).
    """
    if text == "":
        return
    parts: list[str] = text_parts(vr, text)
    vm: str = tag_vm(tag) if keyword_of(tag) else ""
    if not vm_allows(vm, len(parts)):
        raise ValueError(f"result is {len(parts)} values, where the dictionary allows {vm}")
    if vr in TEXT_VRS:
        for part in parts:
            part_checkForm(vr, part)
            text_checkCharacters(vr, part)
            if not text_encodable(part, encodings):
                raise ValueError(f"characters not in the file's character set ({', '.join(encodings)})")
        return
    if vr in INT_VRS or vr in FLOAT_VRS:
        for part in parts:
            number: int | float = number_parse(vr, part)
            low, high = INT_RANGES.get(vr, (number, number))
            if not low <= number <= high:
                raise ValueError(f"result is out of the {vr} range, {low} to {high}")
            validate_value(vr, number, pydicomConfig.RAISE)
        return
    raise ValueError(f"a {vr} element cannot be given a text value")


def sequence_fromText(text: str) -> Sequence:
    """A sequence from its text form: a JSON list of items, each an object of keyword to text.

    Example:
        >>> sequence_fromText('[{"CodeValue": "113100", "CodingSchemeDesignator": "DCM"}]')[0].CodeValue
        '113100'
    """
    items: list[Dataset] = []
    for entry in json.loads(text or "[]"):
        item: Dataset = Dataset()
        for keyword, value in entry.items():
            vr: str = keyword_vr(keyword).split(" or ")[0]
            item.add_new(tag_of(keyword) or 0, vr, value_fromText(vr, value))
        items.append(item)
    return Sequence(items)


def value_fromText(vr: str, text: str) -> object:
    """The element value a checked text stands for: the text itself, or the numbers it spells.

    Example:
        >>> value_fromText("US", "1\\\\2"), value_fromText("LO", "x"), value_fromText("FD", "")
        ([1, 2], 'x', None)
    """
    if vr == "SQ":
        return sequence_fromText(text)
    if text == "":
        return "" if vr in TEXT_VRS else None
    if vr in INT_VRS or vr in FLOAT_VRS:
        numbers: list[int | float] = [number_parse(vr, part) for part in text_parts(vr, text)]
        return numbers[0] if len(numbers) == 1 else numbers
    return text
