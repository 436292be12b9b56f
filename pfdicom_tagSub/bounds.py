"""Bounds on the work one file can cause: a hostile file fails alone, in seconds and in bounded memory.

pydicom trusts what a file says about itself. A length field may claim gigabytes in a file of a
kilobyte; a zero-filled file parses as millions of empty elements, one per 8 bytes; a deflated
data set may inflate a thousandfold; sequences nested a few hundred deep make pydicom's writer
recurse until its error reports fill the memory. Each of these is refused here, with its reason,
before it can cost more than the file's own size.

Key components:
    - FileReader: the file as pydicom reads it, every read bounded by what the file holds, a run
      of zero bytes where elements should be, or too many elements, refused
    - head_isPlausible: whether a file without the DICM prefix starts with a plausible element
    - inflated_check: a deflated data set inflates to no more than a limit
    - depth_check: sequences nest no deeper than a limit

Typical usage:
    with FileReader(path) as stream:
        dataset = read_partial(stream, force=True)
    depth_check(dataset)

Dependencies:
    - pydicom, zlib
    - pfdicom_tagSub.errors, dictionary, sequences
"""

from __future__ import annotations

import io
import os
import zlib

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from pfdicom_tagSub.dictionary import keyword_of, tag_isSequence
from pfdicom_tagSub.errors import DicomReadError
from pfdicom_tagSub.sequences import sequence_items

DEPTH_MAX: int = 64
ELEMENTS_MAX: int = 500_000
INFLATED_BYTES_MAX: int = 128 << 20
READ_BOUNDED_FROM: int = 1 << 16
HEADER_BYTES: int = 8
UNDEFINED_LENGTH: int = 0xFFFFFFFF
ZERO_HEADER: bytes = bytes(HEADER_BYTES)
HEADER_READS_MAX: int = 2 * ELEMENTS_MAX  # a value may be 8 bytes too
INFLATE_CHUNK: int = 1 << 20
DEFLATED_UID: bytes = DeflatedExplicitVRLittleEndian.encode("ascii")
META_HEADER_END: int = 144  # preamble, DICM, and the file meta's group length element
FIRST_GROUP: int = 0x0008
META_GROUP: int = 0x0002
GROUP_LENGTH_BYTES: int = 4
EXPLICIT_VRS: frozenset[bytes] = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT "
    b"UV".split()
)


_bufferedRead = io.BufferedReader.read


class FileReader(io.BufferedReader):
    """A file opened for pydicom, whose reads are bounded by what the file holds.

    A read of more than the rest of the file asks for the rest only: a length field claiming
    gigabytes would otherwise have that much allocated before the short read finds the file cut.
    An element header made of zero bytes followed by another ends the read: no element header is
    all zero (tag (0000,0000) with no length), and a zero-filled region read element by element
    costs a second per megabyte. pydicom reads each element's header as 8 bytes: more than twice
    ``ELEMENTS_MAX`` such reads (a value may be 8 bytes too) is more elements than any data set
    holds, junk that would take more time and memory than the file's size suggests.

    Attributes:
        size: the file's size in bytes.
        headers: the reads of 8 bytes so far.
    """

    def __init__(self, path: str) -> None:
        super().__init__(io.FileIO(path, "r"))
        self.size: int = os.fstat(self.fileno()).st_size
        self.headers: int = 0

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > READ_BOUNDED_FROM:
            size = min(size, max(0, self.size - self.tell()))
        data: bytes = _bufferedRead(self, size)  # not super(): pydicom reads a lot, and this is per read
        if len(data) == HEADER_BYTES:
            self.headers += 1
            if self.headers > HEADER_READS_MAX or data == ZERO_HEADER:
                self.header_check(data)
        return data

    def header_check(self, data: bytes) -> None:
        """Refuse the read of a zero header followed by zeros, or of one header too many.

        Raises:
            DicomReadError: saying which.
        """
        if self.headers > HEADER_READS_MAX:
            raise DicomReadError(f"more than {ELEMENTS_MAX} elements (the limit)")
        if self.peek(HEADER_BYTES)[:HEADER_BYTES] == ZERO_HEADER:
            raise DicomReadError(
                f"zero bytes where DICOM elements should be (from byte {self.tell() - HEADER_BYTES})"
            )


def head_isPlausible(head: bytes) -> bool:
    """Whether a file without the DICM prefix starts like a bare DICOM data set.

    Its first element must be one a data set starts with: of group 0008 (or of the file meta,
    written without its preamble, with its explicit VR), or the group length of any group (4
    bytes, VR UL); little or big endian. A zero-filled file starts with none of these.

    Example:
        >>> head_isPlausible(b"\\x08\\x00\\x05\\x00CS\\x0a\\x00"), head_isPlausible(bytes(8))
        (True, False)
        >>> head_isPlausible(b"\\x00\\x00\\x00\\x00\\x04\\x00\\x00\\x00")  # command group length, implicit VR
        True
    """
    if len(head) < HEADER_BYTES:
        return False
    for order in ("little", "big"):
        group: int = int.from_bytes(head[0:2], order)
        element: int = int.from_bytes(head[2:4], order)
        if group == FIRST_GROUP or (group == META_GROUP and head[4:6] in EXPLICIT_VRS):
            return True
        if element == 0 and (
            int.from_bytes(head[4:8], order) == GROUP_LENGTH_BYTES
            or (head[4:6] == b"UL" and int.from_bytes(head[6:8], order) == GROUP_LENGTH_BYTES)
        ):
            return True
    return False


def meta_end(path: str) -> tuple[int, bool]:
    """Where the file meta of a file with the DICM prefix ends, and whether its syntax is deflated."""
    meta: Dataset = read_file_meta_info(path)
    ends: list[int] = [
        element.value_tell + element.length
        for element in meta.elements()
        if isinstance(element, RawDataElement) and element.length != UNDEFINED_LENGTH
    ]
    groupLength: object = meta.get("FileMetaInformationGroupLength")
    if isinstance(groupLength, int):
        ends.append(META_HEADER_END + groupLength)
    syntax: object = meta.get("TransferSyntaxUID")
    return max(ends, default=META_HEADER_END), bool(getattr(syntax, "is_deflated", False))


def inflated_check(path: str, head: bytes, stream: FileReader) -> None:
    """Refuse a deflated data set that inflates to more than ``INFLATED_BYTES_MAX``; inflating stops there.

    Only files whose first bytes name the deflated transfer syntax are looked at.

    Raises:
        DicomReadError: it inflates past the limit.
    """
    if DEFLATED_UID not in head:
        return
    try:
        start, deflated = meta_end(path)
    except Exception:  # a file meta pydicom cannot read: its own read says why
        return
    if not deflated:
        return
    stream.seek(start)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflated: int = 0
    pending: bytes = b""
    try:
        while not inflater.eof:
            pending = pending or stream.read(INFLATE_CHUNK)
            if not pending:
                return
            inflated += len(inflater.decompress(pending, INFLATE_CHUNK))
            pending = inflater.unconsumed_tail
            if inflated > INFLATED_BYTES_MAX:
                raise DicomReadError(
                    f"its deflated data set inflates to more than {INFLATED_BYTES_MAX >> 20} MB (the limit): "
                    "refused as a possible deflate bomb"
                )
    except zlib.error:
        return  # not deflate data: pydicom's read says so
    finally:
        stream.seek(0)


def depth_check(dataset: Dataset, limit: int = DEPTH_MAX) -> None:
    """Refuse a data set whose sequences nest deeper than ``limit`` levels.

    pydicom's writer recurses once per level; a few hundred levels of a 44 KB file are enough to
    end it in a RecursionError whose report, repeated at each level, grows to gigabytes. The
    check walks the levels one by one (converting each sequence, as the plan would), without
    recursion, and stops at the first level too deep.

    Raises:
        DicomReadError: naming the sequence that nests too deep.
    """
    levels: list[tuple[Dataset, int]] = [(dataset, 0)]
    while levels:
        current, depth = levels.pop()
        for element in list(current.values()):
            vr: str | None = element.VR
            if vr != "SQ" and vr != "UN" and (vr is not None or not element_mayBeSequence(element)):
                continue
            items: object = sequence_items(current, element.tag)
            if not items:
                continue
            if depth >= limit:
                name: str = keyword_of(element.tag) or str(element.tag)
                raise DicomReadError(f"sequences nested deeper than {limit} levels (the limit), in {name}")
            levels.extend((item, depth + 1) for item in items)  # type: ignore[attr-defined]


def element_mayBeSequence(element: DataElement | RawDataElement) -> bool:
    """Whether an element read without its VR (implicit VR) may be a sequence: a cheap look before
    ``sequence_items``."""
    tag: BaseTag = element.tag
    return tag.is_private or getattr(element, "length", 0) == UNDEFINED_LENGTH or tag_isSequence(tag)
