"""Verify an output: search its bytes for the original value of every element the run changed.

A rule that replaces PatientID leaves the identifier wherever else the file holds it: a private
element, a description, a nested item, the preamble. ``--verify`` reads the output as written
(the temporary file before its rename; a dry run's bytes in memory) and searches all of it,
preamble and file meta included, for the old values of the file's changes, in the output's
character set and in UTF-8, with one combined pattern. Pixel, overlay and waveform data are left
out (4 bytes of an image match some text too often), as are values that identify no one. A hit
is mapped back, through the positions pydicom records while reading the output, to the element
whose bytes hold it, and named without its value.

Key components:
    - Needle, needles_make: the texts to search for, from a file's changes
    - Search, search_compile: the needles encoded and compiled into one pattern
    - Span, Part, Layout, layout_read: the output parsed; where each element's value lies
    - Hit, output_verify, needles_find, hits_describe: the search, its hits, and their line

Typical usage:
    hits = output_verify(result.tempPath, result.changes)

Dependencies:
    - pydicom, to read the output, for the character sets and the standard UIDs
    - pfdicom_tagSub.plan (sequence items), models, dictionary
"""

from __future__ import annotations

import bisect
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, MutableSequence
from dataclasses import dataclass
from io import BytesIO

from pydicom.charset import convert_encodings, encode_string
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import dcmread
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID_dictionary

from pfdicom_tagSub.dictionary import keyword_of
from pfdicom_tagSub.models import META_PATH, Change, tag_format
from pfdicom_tagSub.plan import UNDEFINED_LENGTH, sequence_items

TEXT_CHARACTERS_MIN: int = 4
NAME_CHARACTERS_MIN: int = 3
PREAMBLE_BYTES: int = 128
DICOM_PREFIX: bytes = b"DICM"
DELIMITER_BYTES: int = 8
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
# pixel, overlay and waveform data: 4 bytes of an image match some text too often
NOT_SCANNED_TAGS: frozenset[int] = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009, 0x54001010})
NOT_SCANNED_GROUPS: tuple[tuple[int, int], ...] = ((0x6000, 0x3000), (0x5000, 0x3000))  # overlay, curve
# a date-time starts with the date: the date is found there, followed by its hours, minutes, seconds
DATE_CONTINUES: bytes = rb"(?=(?:[0-9]{2}){0,3}(?![0-9]))"
DIGIT_ENDS: bytes = rb"(?![0-9])"
ESCAPE: int = 0x1B
ESCAPE_BYTES: int = 3
HITS_LISTED_MAX: int = 3


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


@dataclass(frozen=True)
class Span:
    """Where an element's value lies in a buffer of the output: ``start`` to ``end`` (None when
    pydicom does not say: a value it converted while reading); ``path`` names it as a change does;
    ``scanned`` is False for pixel, overlay and waveform data."""

    start: int
    end: int | None
    path: str
    tag: int = 0
    scanned: bool = True


@dataclass(frozen=True)
class Part:
    """A buffer of an output (``first``: the one that starts the file) and the (data set, path
    prefix) pairs pydicom read from it, their positions counted from its start.

    A deflated data set is searched inflated (its file bytes hold no text): its output has two
    parts, the file meta and the inflated data set; every other output is one part.
    """

    data: bytes
    datasets: tuple[tuple[Dataset, str], ...]
    first: bool = True

    def spans(self, deep: bool) -> list[Span]:
        """The spans, sorted by start: every element's at every depth; else only the top-level
        elements that are not searched (which is all a clean output needs)."""
        spans: list[Span] = []
        for dataset, prefix in self.datasets:
            if deep:
                spans_collect(dataset, 0, prefix, spans)
                continue
            for tag in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
                if not element_isScanned(tag):
                    spans.append(element_span(dataset.get_item(tag), 0, prefix, int(tag)))
        return sorted(spans, key=lambda span: span.start)


@dataclass(frozen=True)
class Layout:
    """An output as pydicom reads it: its parts, whether it has a preamble (and the DICM prefix),
    and the Python codecs of its Specific Character Set."""

    parts: tuple[Part, ...]
    preamble: bool
    encodings: list[str]


def element_isScanned(tag: int) -> bool:
    """Whether an element's value is searched: not pixel, overlay, curve or waveform data.

    Example:
        >>> element_isScanned(0x7FE00010), element_isScanned(0x60023000), element_isScanned(0x00091001)
        (False, False, True)
    """
    group: int = tag >> 16
    element: int = tag & 0xFFFF
    if tag in NOT_SCANNED_TAGS:
        return False
    return not any((group & 0xFF01) == base and element == number for base, number in NOT_SCANNED_GROUPS)


def spans_collect(dataset: Dataset, base: int, prefix: str, spans: list[Span]) -> None:
    """Every element's value span, at every depth.

    pydicom records a value's position relative to what it was parsing: the file for the top
    level and for a sequence of undefined length read as the file was; the sequence's own value
    for one of defined length, parsed when first asked for. ``base`` is where that lies.
    """
    for tag in list(dataset.keys()):  # iterating a Dataset would decode every element
        raw: object = dataset.get_item(tag)
        name: str = prefix + (keyword_of(tag) or tag_format(tag))
        items: Sequence | None = sequence_items(dataset, BaseTag(tag))
        if items is not None:
            inner: int = base + raw.value_tell if isinstance(raw, RawDataElement) else base
            for index, item in enumerate(items):
                spans_collect(item, inner, f"{name}[{index}].", spans)
            continue
        spans.append(element_span(raw, base, name, int(tag)))


def element_span(element: object, base: int, path: str, tag: int) -> Span:
    """The span of one element that is not a sequence."""
    scanned: bool = element_isScanned(tag)
    if isinstance(element, RawDataElement):
        start: int = base + element.value_tell
        if element.length != UNDEFINED_LENGTH:
            return Span(start, start + element.length, path, tag, scanned)
        size: int = len(element.value or b"")
        return Span(start, start + size + DELIMITER_BYTES, path, tag, scanned)
    return Span(base + (getattr(element, "file_tell", None) or 0), None, path, tag, scanned)


def layout_read(data: bytes) -> Layout:
    """Read an output from its bytes, lazily: values are converted only where a span is asked for.

    Raises:
        Exception: whatever pydicom raises for bytes it cannot read (not expected of an output
            it has just written).
    """
    dataset: Dataset = dcmread(BytesIO(data), force=True)
    charset: str | MutableSequence[str] = dataset.original_character_set or convert_encodings(None)
    encodings: list[str] = [charset] if isinstance(charset, str) else list(charset)
    preamble: bool = data[PREAMBLE_BYTES : PREAMBLE_BYTES + len(DICOM_PREFIX)] == DICOM_PREFIX
    meta: Dataset = getattr(dataset, "file_meta", None) or Dataset()
    if not getattr(meta.get("TransferSyntaxUID"), "is_deflated", False):
        return Layout((Part(data, ((meta, META_PATH), (dataset, ""))),), preamble, encodings)
    start: int = max(
        (span.end or span.start for span in Part(data, ((meta, META_PATH),)).spans(True)), default=0
    )
    inflated: bytes = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[start:])
    parts: tuple[Part, ...] = (
        Part(data[:start], ((meta, META_PATH),)),
        Part(inflated, ((dataset, ""),), False),
    )
    return Layout(parts, preamble, encodings)


@dataclass(frozen=True)
class Hit:
    """An original value found in an output: ``where`` (the element that holds it, ``(0009,1001)``,
    or ``the preamble``) and ``source`` (the element whose original value it is, ``PatientID``)."""

    where: str
    source: str

    def describe(self) -> str:
        """The hit, without the value.

        Example:
            >>> Hit("(0009,1001)", "PatientID").describe()
            '(0009,1001) holds the original PatientID'
        """
        return f"{self.where} holds the original {self.source}"


def segments_scanned(size: int, spans: list[Span]) -> Iterator[tuple[int, int]]:
    """The (start, end) ranges of a buffer to search: all of it but pixel, overlay and waveform data.

    Example:
        >>> list(segments_scanned(100, [Span(10, 20, "a"), Span(40, 60, "PixelData", 0x7FE00010, False)]))
        [(0, 40), (60, 100)]
    """
    position: int = 0
    for span in spans:
        if not span.scanned and span.end is not None:
            if span.start > position:
                yield position, span.start
            position = max(position, span.end)
    if position < size:
        yield position, size


def span_at(offset: int, spans: list[Span], starts: list[int]) -> Span | None:
    """The element whose value holds a byte, from the spans sorted by start; None between elements."""
    index: int = bisect.bisect_right(starts, offset) - 1
    if index < 0:
        return None
    span: Span = spans[index]
    return span if span.end is None or offset < span.end else None


def place_name(offset: int, span: Span | None, preamble: bool) -> str:
    """Where a hit is, for the message.

    Example:
        >>> place_name(40, None, True), place_name(300, Span(290, 310, "(0009,1001)"), True)
        ('the preamble', '(0009,1001)')
    """
    if preamble and offset < PREAMBLE_BYTES:
        return "the preamble"
    if preamble and offset < PREAMBLE_BYTES + len(DICOM_PREFIX):
        return "the DICM prefix"
    return span.path if span is not None else f"byte {offset}"


def output_verify(output: bytes | str, changes: Iterable[Change]) -> list[Hit]:
    """Search an output for the original values of its changes; the hits, in file order.

    Args:
        output: the output's bytes, or the path of the file written (read only when there is
            something to search for).
        changes: the file's changes.

    Returns:
        One hit per element that holds an original value (the first such value named); none when
        the output is clean or nothing was changed that is searched for.
    """
    needles: list[Needle] = needles_make(changes)
    if not needles:
        return []
    if isinstance(output, str):
        with open(output, "rb") as stream:
            output = stream.read()
    return needles_find(output, needles)


def needles_find(data: bytes, needles: list[Needle]) -> list[Hit]:
    """Search an output's bytes for the needles: one pass per part with one pattern.

    The pass leaves out the top-level pixel, overlay and waveform data; only when it finds
    something are the nested elements' positions worked out, to leave out a match in nested
    pixel data (an icon) and to name the element of each hit.
    """
    layout: Layout = layout_read(data)
    search: Search | None = search_compile(needles, layout.encodings)
    if search is None:
        return []
    hits: dict[str, Hit] = {}
    for part in layout.parts:
        matches: list[re.Match[bytes]] = [
            match
            for start, end in segments_scanned(len(part.data), part.spans(deep=False))
            for match in search.pattern.finditer(part.data, start, end)
        ]
        if not matches:
            continue
        spans: list[Span] = part.spans(deep=True)
        starts: list[int] = [span.start for span in spans]
        for match in matches:
            span: Span | None = span_at(match.start(), spans, starts)
            if span is not None and not span.scanned:
                continue
            where: str = place_name(match.start(), span, layout.preamble and part.first)
            hits.setdefault(where, Hit(where, search.needles[match.group()].source))
    return list(hits.values())


def hits_describe(hits: list[Hit]) -> str:
    """The hits as the one line that fails the file: elements named, no value.

    Example:
        >>> hits_describe([Hit("(0009,1001)", "PatientID"), Hit("StudyDescription", "PatientName")])
        '--verify: (0009,1001) holds the original PatientID; StudyDescription holds the original PatientName'
    """
    listed: str = "; ".join(hit.describe() for hit in hits[:HITS_LISTED_MAX])
    more: int = len(hits) - HITS_LISTED_MAX
    return f"--verify: {listed}" + (f"; and {more} more" if more > 0 else "")
