"""The original values to search an output for, from a file's changes, compiled into one pattern. Pure.

``--verify`` searches each output for the old value of every element the run changed, emptied
or removed: each text value of 4 or more characters, each person-name component of 3 or more,
dates as written; each encoded in the output's character set and in UTF-8. Values that identify
no one are not searched for: standard UIDs, numbers, code strings, coded entries, private
creators. A value made only of digits matches only where no digit touches it (a date inside a
remapped UID is no hit), except that a date also matches where it starts a date-time.

Key components:
    - Needle, needles_make: the texts to search for, each with the element it came from
    - Search, search_compile: the needles encoded and compiled into one pattern

Typical usage:
    search = search_compile(needles_make(result.changes), ["iso8859"])

Dependencies:
    - pydicom, for the character sets and the standard UIDs
    - pfdicom_tagSub.models
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.charset import encode_string
from pydicom.uid import UID_dictionary

from pfdicom_tagSub.models import Change

TEXT_CHARACTERS_MIN: int = 4
NAME_CHARACTERS_MIN: int = 3
UTF8: str = "utf_8"
# numbers, binary values and code strings identify no one
NOT_SEARCHED_VRS: frozenset[str] = frozenset(
    {"CS", "DS", "IS", "SQ", "AT", "OB", "OD", "OF", "OL", "OV", "OW", "UN", "US", "SS", "UL", "SL"}
    | {"UV", "SV", "FL", "FD"}
)
CODED_KEYWORDS: frozenset[str] = frozenset(
    {"CodeValue", "LongCodeValue", "URNCodeValue", "CodingSchemeDesignator", "CodingSchemeVersion"}
    | {"CodeMeaning"}
)
SINGLE_VALUE_VRS: frozenset[str] = frozenset({"LT", "ST", "UT", "UR"})
PADDING: str = " \x00"
# a date-time starts with the date: the date is found there, followed by its hours, minutes, seconds
DATE_CONTINUES: bytes = rb"(?=(?:[0-9]{2}){0,3}(?![0-9]))"
DIGIT_ENDS: bytes = rb"(?![0-9])"
ESCAPE: int = 0x1B
ESCAPE_BYTES: int = 3


@dataclass(frozen=True)
class Needle:
    """One original text to search for: ``text`` as the element held it (one value; one name
    component), ``source`` the element it came from as its change names it (``PatientID``,
    ``OtherPatientIDsSequence[0].PatientName``), ``vr`` that element's VR."""

    text: str
    source: str
    vr: str

    @property
    def digitsOnly(self) -> bool:
        """Made only of digits: found only where no digit touches it."""
        return self.text.isascii() and self.text.isdigit()


def change_isSearched(change: Change) -> bool:
    """Whether a change's old value is searched for: a text the run changed, that may identify someone.

    Example:
        >>> change_isSearched(Change("PatientID", 0x00100020, "PatientID", "LO", "replace", "MRN1", "x", "r"))
        True
        >>> change_isSearched(Change("Modality", 0x00080060, "Modality", "CS", "remove", "MR", None, "r"))
        False
    """
    if change.old is None or change.action == "create" or change.old == change.new:
        return False
    if change.vr in NOT_SEARCHED_VRS or change.keyword in CODED_KEYWORDS or tag_isPrivateCreator(change.tag):
        return False
    return not (change.vr == "UI" and change.old.strip(PADDING) in UID_dictionary)


def tag_isPrivateCreator(tag: int) -> bool:
    """Whether a tag is a private creator's, (gggg,0010)-(gggg,00FF): it names a vendor, not a person."""
    return bool(tag >> 16 & 1) and 0x10 <= tag & 0xFFFF <= 0xFF


def change_texts(change: Change) -> list[str]:
    """The texts of a change's old value: each value of 4+ characters; each name component of 3+.

    Example:
        >>> change_texts(Change("PatientName", 0x00100010, "PatientName", "PN", "remove",
        ...                     "DOE^JANE^^Dr", None, "r"))
        ['DOE', 'JANE']
    """
    old: str = change.old or ""
    values: list[str] = [old] if change.vr in SINGLE_VALUE_VRS else old.split("\\")
    if change.vr == "PN":
        groups: list[str] = [group for value in values for group in value.split("=")]
        parts: list[str] = [part for group in groups for part in group.split("^")]
        return [text for part in parts if len(text := part.strip(PADDING)) >= NAME_CHARACTERS_MIN]
    return [text for value in values if len(text := value.strip(PADDING)) >= TEXT_CHARACTERS_MIN]


def needles_make(changes: Iterable[Change]) -> list[Needle]:
    """The texts to search for, one needle per distinct text (the first element that held it names it).

    Example:
        >>> [needle.text for needle in needles_make([
        ...     Change("PatientID", 0x00100020, "PatientID", "LO", "replace", "MRN000123", "x", "r"),
        ...     Change("(0009,1001)", 0x00091001, "", "LO", "remove", "MRN000123", None, "r")])]
        ['MRN000123']
    """
    needles: dict[str, Needle] = {}
    for change in changes:
        if change_isSearched(change):
            for text in change_texts(change):
                needles.setdefault(text, Needle(text, change.path, change.vr))
    return list(needles.values())


def text_encode(text: str, encodings: list[str]) -> bytes | None:
    """A text as the character set writes it; None when it cannot be written in it.

    The escape sequence an ISO 2022 encoding adds to return to the first character set is left
    off: in the file, more text in the same character set may follow.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom only warns when it must replace characters
        try:
            encoded: bytes = encode_string(text, encodings)
        except (UnicodeError, UserWarning, LookupError):
            return None
    if len(encoded) > ESCAPE_BYTES and encoded[-ESCAPE_BYTES] == ESCAPE:
        encoded = encoded[:-ESCAPE_BYTES]
    return encoded


def needle_pattern(encoded: bytes, needle: Needle) -> bytes:
    """One alternative of the combined pattern: the bytes, and for digits the digit boundaries.

    The check that no digit precedes is placed after the first byte: a pattern whose every
    alternative starts with a literal byte lets ``re`` skip ahead to the possible first bytes.

    Example:
        >>> needle_pattern(b"1234", Needle("1234", "PatientID", "LO"))
        b'1(?<![0-9]1)234(?![0-9])'
    """
    if not needle.digitsOnly:
        return re.escape(encoded)
    first: bytes = re.escape(encoded[:1])
    ending: bytes = DATE_CONTINUES if needle.vr == "DA" else DIGIT_ENDS
    return first + b"(?<![0-9]" + first + b")" + re.escape(encoded[1:]) + ending


@dataclass(frozen=True)
class Search:
    """The needles of one file, encoded, compiled into one ``pattern`` (longest first); ``needles``
    maps encoded bytes to the needle they encode."""

    pattern: re.Pattern[bytes]
    needles: dict[bytes, Needle]


def search_compile(needles: list[Needle], encodings: list[str]) -> Search | None:
    """Encode each needle in the output's character set and in UTF-8 and compile them; None for none."""
    encoded: dict[bytes, Needle] = {}
    for needle in needles:
        for codecs in (encodings, [UTF8]):
            data: bytes | None = text_encode(needle.text, codecs)
            if data:
                encoded.setdefault(data, needle)
    if not encoded:
        return None
    ordered: list[bytes] = sorted(encoded, key=len, reverse=True)
    pattern: bytes = b"|".join(needle_pattern(data, encoded[data]) for data in ordered)
    return Search(re.compile(pattern), encoded)
