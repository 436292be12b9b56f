"""Verify an output: search its bytes for the original value of every element the run changed.

A rule that replaces PatientID leaves the identifier wherever else the file holds it: a private
element, a description, a nested item, the preamble. ``--verify`` reads the output as written
(the temporary file before its rename; a dry run's bytes in memory) and searches all of it,
preamble and file meta included, for the file's needles (``needles``) with one combined
pattern. Pixel, overlay and waveform data are left out: 4 bytes of an image match some text too
often. A hit is mapped back, through the positions pydicom records while reading the output, to
the element whose bytes hold it, and named without its value.

Key components:
    - Span, Part, Layout, layout_read: the output parsed; where each element's value lies
    - Hit, output_verify, needles_find, hits_describe: the search, its hits, and their line

Typical usage:
    hits = output_verify(result.tempPath, result.changes)

Dependencies:
    - pydicom, to read the output
    - pfdicom_tagSub.needles (what to search for), sequences (sequence items), models, dictionary
"""

from __future__ import annotations

import bisect
import mmap
import zlib
from collections.abc import Iterable, Iterator, MutableSequence
from dataclasses import dataclass
from io import BytesIO

from pydicom.charset import convert_encodings
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import dcmread
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from pfdicom_tagSub.dictionary import keyword_of
from pfdicom_tagSub.models import META_PATH, Change, tag_format
from pfdicom_tagSub.needles import Needle, Search, needles_make, search_compile
from pfdicom_tagSub.sequences import UNDEFINED_LENGTH, sequence_items

PREAMBLE_BYTES: int = 128
DICOM_PREFIX: bytes = b"DICM"
DELIMITER_BYTES: int = 8
HEADER_BYTES_MAX: int = 12
DEFER_BYTES: int = 1 << 16  # larger values are not read back: only where they lie is needed
# pixel, overlay and waveform data: 4 bytes of an image match some text too often
NOT_SCANNED_TAGS: frozenset[int] = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009, 0x54001010})
NOT_SCANNED_REPEATING: frozenset[int] = frozenset({0x60003000, 0x50003000})  # overlay, curve: (60xx,3000)
REPEATING_MASK: int = 0xFF01FFFF
HITS_LISTED_MAX: int = 3
Buffer = bytes | mmap.mmap


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

    data: Buffer
    datasets: tuple[tuple[Dataset, str], ...]
    first: bool = True

    def spans(self, deep: bool) -> list[Span]:
        """The spans, sorted by start: every element's at every depth; else only the top-level
        ones that are not searched (which is all a clean output needs)."""
        spans: list[Span] = []
        for dataset, prefix in self.datasets:
            if deep:
                spans_collect(dataset, 0, prefix, spans)
                continue
            spans += spans_unscanned(dataset, prefix)
        spans.sort(key=lambda span: span.start)
        return spans_close(spans, len(self.data))


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
    return tag not in NOT_SCANNED_TAGS and tag & REPEATING_MASK not in NOT_SCANNED_REPEATING


def spans_collect(dataset: Dataset, base: int, prefix: str, spans: list[Span]) -> None:
    """Every element's value span, at every depth.

    pydicom records a value's position relative to what it was parsing: the file for the top
    level and for a sequence of undefined length read as the file was; the sequence's own value
    for one of defined length, parsed when first asked for. ``base`` is where that lies.
    """
    for tag in list(dataset.keys()):  # iterating a Dataset would decode every element
        raw: object = dataset.get_item(tag, keep_deferred=True)
        name: str = prefix + (keyword_of(tag) or tag_format(tag))
        items: Sequence | None = None
        if element_isScanned(tag) and getattr(raw, "VR", None) in (None, "UN", "SQ"):  # pixels: never items
            items = sequence_items(dataset, BaseTag(tag))
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
        if element.value is None:  # not read back (encapsulated pixel data): ends where the next starts
            return Span(start, None, path, tag, scanned)
        return Span(start, start + len(element.value) + DELIMITER_BYTES, path, tag, scanned)
    return Span(base + (getattr(element, "file_tell", None) or 0), None, path, tag, scanned)


def spans_unscanned(dataset: Dataset, prefix: str) -> list[Span]:
    """The top-level elements that are not searched, and the element after one whose end is not
    known (``spans_close`` needs it)."""
    spans: list[Span] = []
    after: bool = False
    for tag in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
        if after or not element_isScanned(tag):
            element: object = dataset.get_item(tag, keep_deferred=True)
            spans.append(element_span(element, 0, prefix + (keyword_of(tag) or tag_format(tag)), int(tag)))
            after = spans[-1].end is None and not spans[-1].scanned
    return spans


def spans_close(spans: list[Span], size: int) -> list[Span]:
    """Give a span of unknown end that is not searched the end it must have: the next element's
    header, or the end of the buffer.

    Example:
        >>> spans_close([Span(10, None, "PixelData", 0x7FE00010, False), Span(90, 94, "x")], 100)[0].end
        78
    """
    for index, span in enumerate(spans):
        if span.end is None and not span.scanned:
            end: int = spans[index + 1].start - HEADER_BYTES_MAX if index + 1 < len(spans) else size
            spans[index] = Span(span.start, max(end, span.start), span.path, span.tag, False)
    return spans


def layout_read(data: Buffer, path: str = "") -> Layout:
    """Read an output, lazily: large values are left unread, values are converted only where a
    span is asked for.

    Args:
        data: the output's bytes.
        path: the file they are in, if any (pydicom reads it; else it reads ``data``).

    Raises:
        Exception: whatever pydicom raises for bytes it cannot read (not expected of an output
            it has just written).
    """
    dataset: Dataset = dcmread(path or BytesIO(data), force=True, defer_size=DEFER_BYTES)
    charset: str | MutableSequence[str] = dataset.original_character_set or convert_encodings(None)
    encodings: list[str] = [charset] if isinstance(charset, str) else list(charset)
    preamble: bool = data[PREAMBLE_BYTES : PREAMBLE_BYTES + len(DICOM_PREFIX)] == DICOM_PREFIX
    meta: Dataset = getattr(dataset, "file_meta", None) or Dataset()
    if not getattr(meta.get("TransferSyntaxUID"), "is_deflated", False):
        return Layout((Part(data, ((meta, META_PATH), (dataset, ""))),), preamble, encodings)
    dataset = dcmread(BytesIO(data[:]), force=True)  # deferred values would be read from the deflated file
    meta = dataset.file_meta
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
    if isinstance(output, bytes):
        return needles_find(output, needles)
    with open(output, "rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return needles_find(data, needles, output)


def needles_find(data: Buffer, needles: list[Needle], path: str = "") -> list[Hit]:
    """Search an output's bytes for the needles: one pass per part with one pattern.

    The pass leaves out the top-level pixel, overlay and waveform data; only when it finds
    something are the nested elements' positions worked out, to leave out a match in nested
    pixel data (an icon) and to name the element of each hit.
    """
    layout: Layout = layout_read(data, path)
    search: Search | None = search_compile(needles, layout.encodings)
    if search is None:
        return []
    hits: dict[str, Hit] = {}
    for part in layout.parts:
        matches: list[tuple[int, bytes]] = [  # no match object outlives the search (it holds the map)
            (match.start(), match.group())
            for start, end in segments_scanned(len(part.data), part.spans(deep=False))
            for match in search.pattern.finditer(part.data, start, end)
        ]
        if not matches:
            continue
        spans: list[Span] = part.spans(deep=True)
        starts: list[int] = [span.start for span in spans]
        for offset, found in matches:
            span: Span | None = span_at(offset, spans, starts)
            if span is not None and not span.scanned:
                continue
            where: str = place_name(offset, span, layout.preamble and part.first)
            hits.setdefault(where, Hit(where, search.needles[found].source))
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
