"""An output spliced from the input: what pydicom would write unchanged is copied, pydicom encodes the rest.

pydicom writes an element it has not converted (a raw element) as it read it: its header again,
then its bytes. Encoding such an element costs pydicom tens of microseconds, most of a small
file's write. Here an element pydicom would write exactly as the input holds it is copied from
the input's bytes instead; every element that is converted or changed is encoded by pydicom's
own ``write_data_element``, in the order and with the character set its ``write_dataset`` uses,
so the bytes are those pydicom writes. The pixel data and what follows it are copied from file
to file by the kernel (``range_copy``).

Key components:
    - element_range: where an element lies in the input (a raw one, an empty one pydicom
      converted, a sequence item by item), when pydicom would write it as it lies
    - dataset_splice: pydicom's ``write_dataset``, unchanged elements copied from the input
    - fileMeta_splice, header_splice: pydicom's ``write_file_meta_info`` and ``dcmwrite`` (up to the
      pixel data), likewise
    - range_copy: a range of one file appended to another, in the kernel where it is fast, else
      through a buffer placed against 4 KB aliasing

Typical usage:
    fileMeta_splice(stream, dataset.file_meta, source)
    dataset_splice(stream, dataset, source, below=0x7FE00010)
    range_copy(inputDescriptor, outputDescriptor, pixelStart, size - pixelStart)

Dependencies:
    - pydicom, which encodes every element that is not copied
"""

from __future__ import annotations

import errno
import functools
import mmap
import os
from collections.abc import Callable
from struct import Struct
from typing import Any

from pydicom.charset import default_encoding
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset, validate_file_meta
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_dataset
from pydicom.tag import tag_in_exception
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

UNDEFINED_LENGTH: int = 0xFFFFFFFF
PIXEL_DATA: int = 0x7FE00010
GROUP_LENGTH_BYTES: int = 12  # (0002,0000) UL, explicit VR: what pydicom leaves out of the group length
COPY_CHUNK: int = 1 << 30
PAGE_BYTES: int = mmap.PAGESIZE
ALIASING_BYTES: int = 64  # a cache line
LOOP_CHUNK: int = 1 << 20
# copy_file_range and sendfile refuse these between file systems, on old kernels, on some file
# systems, and (sendfile outside Linux) to a file that is not a socket
KERNEL_REFUSALS: frozenset[int] = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTSOCK}
)
SHORT_HEADER: dict[bool, Struct] = {True: Struct("<HH2sH"), False: Struct(">HH2sH")}
IMPLICIT_HEADER: dict[bool, Struct] = {True: Struct("<HHL"), False: Struct(">HHL")}
LONG_LENGTH: dict[bool, Struct] = {True: Struct("<L"), False: Struct(">L")}
ITEM: dict[bool, bytes] = {True: b"\xfe\xff\x00\xe0", False: b"\xff\xfe\xe0\x00"}
SEQUENCE_END: dict[bool, bytes] = {True: b"\xfe\xff\xdd\xe0\0\0\0\0", False: b"\xff\xfe\xe0\xdd\0\0\0\0"}
ITEM_END: dict[bool, bytes] = {True: b"\xfe\xff\x0d\xe0\0\0\0\0", False: b"\xff\xfe\xe0\x0d\0\0\0\0"}


def element_range(
    element: object, source: bytes, implicit: bool, little: bool, shift: int = 0
) -> tuple[int, int] | None:
    """Where an element lies in ``source``, header included, when pydicom would write exactly
    those bytes for it (in the encoding given); None otherwise.

    pydicom writes a raw element's header again from what it read (tag, VR, length; zero for the
    reserved bytes, and for the length of an undefined length's delimiter), and a sequence
    item by item, each item's length computed: the input's own bytes are taken only where they
    say the same, at every depth.

    Args:
        element: the element as its data set holds it.
        source: the input's bytes (or a part of them).
        implicit, little: the encoding being written.
        shift: what turns a position pydicom recorded for the element into an index of ``source``.
    """
    if isinstance(element, RawDataElement):
        return raw_range(element, source, implicit, little, shift)
    if getattr(element, "VR", None) == "SQ":
        return sequence_range(element, source, implicit, little, shift)
    return empty_range(element, source, implicit, little, shift)


def header_read(
    source: bytes, start: int, implicit: bool, little: bool, vr: str | None
) -> tuple[int, int] | None:
    """The tag and length of the element header at ``start``, when its VR is ``vr`` and its
    reserved bytes are zero; None otherwise."""
    if implicit:
        if start < 0 or start + 8 > len(source):
            return None
        group, number, length = IMPLICIT_HEADER[little].unpack_from(source, start)
        return group << 16 | number, length
    long: bool = vr in EXPLICIT_VR_LENGTH_32
    if vr is None or start < 0 or start + (12 if long else 8) > len(source):
        return None
    group, number, written, length = SHORT_HEADER[little].unpack_from(source, start)
    if written != vr.encode("latin-1"):
        return None
    if long:
        if length != 0:  # the reserved bytes
            return None
        length = LONG_LENGTH[little].unpack_from(source, start + 8)[0]
    return group << 16 | number, length


def raw_range(
    element: RawDataElement, source: bytes, implicit: bool, little: bool, shift: int
) -> tuple[int, int] | None:
    """``element_range`` of an element pydicom has not converted.

    pydicom read its tag, VR and length from the header it is copied with; the header is read
    again all the same, to be sure that ``source`` holds the bytes pydicom read (not those of a
    deflated data set, say), and for what pydicom writes otherwise: the reserved bytes of a
    4-byte length, the length of an undefined length's delimiter, a VR it did not read (an
    implicit element in an explicit data set), a value shorter than its length.
    """
    value: bytes | None = element.value
    if value is None or element.is_implicit_VR != implicit or element.is_little_endian != little:
        return None
    valueStart: int = element.value_tell + shift
    start: int = valueStart - (12 if not implicit and element.VR in EXPLICIT_VR_LENGTH_32 else 8)
    # int(): a BaseTag compares in Python
    if header_read(source, start, implicit, little, element.VR) != (int(element.tag), element.length):
        return None
    end: int = valueStart + len(value)
    if element.length != UNDEFINED_LENGTH:
        return (start, end) if len(value) == element.length else None
    if element.tag == PIXEL_DATA and not value.startswith(ITEM[little]):
        return None  # pydicom refuses to write it: it says why
    if source[end : end + len(SEQUENCE_END[little])] != SEQUENCE_END[little]:
        return None
    return start, end + len(SEQUENCE_END[little])


def empty_range(
    element: Any, source: bytes, implicit: bool, little: bool, shift: int
) -> tuple[int, int] | None:
    """``element_range`` of an empty element pydicom converted (it does so with some, reading them):
    pydicom writes its header alone."""
    if element.file_tell is None or element.is_undefined_length or not element.is_empty:
        return None
    long: bool = not implicit and element.VR in EXPLICIT_VR_LENGTH_32
    start: int = element.file_tell + shift - (12 if long else 8)
    if header_read(source, start, implicit, little, element.VR) != (int(element.tag), 0):
        return None
    return start, element.file_tell + shift


def sequence_range(
    element: Any, source: bytes, implicit: bool, little: bool, shift: int
) -> tuple[int, int] | None:
    """``element_range`` of a sequence pydicom has read or converted (its items datasets)."""
    if element.file_tell is None:
        return None
    valueStart: int = element.file_tell + shift
    start: int = valueStart - (8 if implicit else 12)
    header: tuple[int, int] | None = header_read(source, start, implicit, little, "SQ")
    undefined: bool = bool(element.is_undefined_length)
    if header is None or header[0] != int(element.tag) or undefined != (header[1] == UNDEFINED_LENGTH):
        return None
    # a sequence of defined length is parsed from its own bytes: its items count from its value
    inner: int = shift if undefined else valueStart
    position: int = valueStart
    for item in element.value:
        end: int | None = item_end(item, source, implicit, little, position, inner)
        if end is None:
            return None
        position = end
    if not undefined:
        return (start, position) if position == valueStart + header[1] else None
    if source[position : position + len(SEQUENCE_END[little])] != SEQUENCE_END[little]:
        return None
    return start, position + len(SEQUENCE_END[little])


def item_end(
    item: Dataset, source: bytes, implicit: bool, little: bool, position: int, shift: int
) -> int | None:
    """Where a sequence item that starts at ``position`` ends, when pydicom would write it as it lies."""
    if source[position : position + 4] != ITEM[little] or position + 8 > len(source):
        return None
    length: int = LONG_LENGTH[little].unpack_from(source, position + 4)[0]
    undefined: bool = bool(getattr(item, "is_undefined_length_sequence_item", False))
    if undefined != (length == UNDEFINED_LENGTH) or "SpecificCharacterSet" in item:
        return None  # (pydicom converts an item's character set to write it)
    start: int = position + 8
    end: int | None = elements_end(item, source, implicit, little, start, shift)
    if end is None:
        return None
    if not undefined:
        return end if end == start + length else None
    return end + 8 if source[end : end + 8] == ITEM_END[little] else None


def elements_end(
    dataset: Dataset, source: bytes, implicit: bool, little: bool, position: int, shift: int
) -> int | None:
    """Where a data set's elements, written by pydicom from ``position``, end, when each would be
    written as it lies and they lie one after the other in tag order; None otherwise."""
    if dataset_isConverted(dataset, implicit, little):
        return None
    for tag in sorted(dataset.keys(), key=int):
        if int(tag) & 0xFFFF == 0 and tag >> 16 > 6:  # pydicom leaves it out: the input has it
            return None
        where: tuple[int, int] | None = element_range(dataset.get_item(tag), source, implicit, little, shift)
        if where is None or where[0] != position:
            return None
        position = where[1]
    return position


def dataset_isConverted(dataset: Dataset, implicit: bool, little: bool) -> bool:
    """Whether pydicom's ``write_dataset`` converts every element before writing it: another
    encoding than the data set was read in, or another character set."""
    current: tuple[bool | None, bool | None] = (implicit, little)
    return current != dataset.original_encoding or dataset.original_character_set != dataset._character_set


class RangeWriter:
    """Writes ranges of the input into a stream, joining ranges that follow each other."""

    def __init__(self, stream: DicomBytesIO, source: bytes) -> None:
        self.stream: DicomBytesIO = stream
        self.source: memoryview = memoryview(source)
        self.start: int = 0
        self.end: int = 0

    def add(self, start: int, end: int) -> None:
        if start != self.end or self.start == self.end:
            self.flush()
            self.start = start
        self.end = end

    def flush(self) -> None:
        if self.end > self.start:
            self.stream.write(self.source[self.start : self.end])
        self.start = self.end = 0


def dataset_splice(stream: DicomBytesIO, dataset: Dataset, source: bytes, below: int | None = None) -> None:
    """Write a data set as pydicom's ``write_dataset`` does, each element it would write as read
    copied from the input.

    Args:
        stream: where to write, its ``is_implicit_VR`` and ``is_little_endian`` set.
        dataset: the data set; pydicom converts its Specific Character Set, as it does.
        source: the input's bytes from its start, holding every element of ``dataset`` that is copied.
        below: write only the elements whose tags are below this one (the header of a file whose
            pixel data and what follows are copied by ``range_copy``).

    Raises:
        whatever pydicom raises for an element it cannot encode.
    """
    implicit, little = stream.is_implicit_VR, stream.is_little_endian
    if dataset_isConverted(dataset, implicit, little):
        if below is not None:
            raise ValueError("a data set pydicom converts is written whole")
        write_dataset(stream, dataset)
        return
    encodings: object = dataset.get("SpecificCharacterSet", default_encoding)
    ranges: RangeWriter = RangeWriter(stream, source)
    limit: int = 1 << 32 if below is None else below
    for tag in sorted(dataset.keys(), key=int):  # int: a BaseTag compares in Python
        number: int = int(tag)
        if number >= limit:
            break
        if number & 0xFFFF == 0 and number >> 16 > 6:  # pydicom leaves out retired group lengths
            continue
        element: object = dataset.get_item(tag)
        where: tuple[int, int] | None = element_range(element, source, implicit, little)
        if where is not None:
            ranges.add(*where)
            continue
        ranges.flush()
        with tag_in_exception(tag):
            write_data_element(stream, element, encodings)  # type: ignore[arg-type]
    ranges.flush()


def fileMeta_splice(stream: DicomBytesIO, fileMeta: FileMetaDataset, source: bytes) -> None:
    """Write the file meta as pydicom's ``write_file_meta_info`` does (the standard not enforced),
    each element it would write as read copied from the input; the group length computed anew."""
    validate_file_meta(fileMeta, enforce_standard=False)
    buffer: DicomBytesIO = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = False
    dataset_splice(buffer, fileMeta, source)
    if "FileMetaInformationGroupLength" in fileMeta:
        length: int = buffer.tell() - GROUP_LENGTH_BYTES
        if not groupLength_isWritten(fileMeta, source, length):
            fileMeta.FileMetaInformationGroupLength = length
            buffer.seek(0)
            write_data_element(buffer, fileMeta[0x00020000])
    stream.write(buffer.getvalue())


def groupLength_isWritten(fileMeta: FileMetaDataset, source: bytes, length: int) -> bool:
    """Whether the file meta's group length was copied as read and already says ``length``: pydicom
    would write the same 12 bytes again."""
    element: object = fileMeta.get_item(0x00020000)
    if not isinstance(element, RawDataElement) or element_range(element, source, False, True) is None:
        return False
    return element.value == length.to_bytes(4, "little")


def header_splice(dataset: Dataset, source: bytes, encoding: tuple[bool, bool], below: int | None) -> bytes:
    """A file's bytes up to ``below`` (all of them for None), as pydicom's ``dcmwrite`` writes
    them (the file's own encoding, the standard not enforced), unchanged elements copied.

    Raises:
        whatever pydicom raises for an element it cannot encode.
    """
    stream: DicomBytesIO = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = encoding
    preamble: bytes | None = getattr(dataset, "preamble", None)
    if preamble:
        stream.write(preamble)
        stream.write(b"DICM")
    fileMeta: FileMetaDataset | None = getattr(dataset, "file_meta", None)
    if fileMeta:
        fileMeta_splice(stream, fileMeta, source)
    dataset_splice(stream, dataset, source, below)
    return stream.getvalue()


def range_copy(source: int, target: int, offset: int, count: int) -> None:
    """Append ``count`` bytes of the file ``source`` from ``offset`` to the file ``target`` (at its
    position): in the kernel (``copy_file_range``; ``sendfile`` between file systems), else through
    a buffer.

    The kernel copies page to page with the CPU: when the output lies a few bytes further into its
    page than the input does (the header grew by less than a cache line), each store falls on an
    address the next load seems to depend on (4 KB aliasing) and the copy takes twice as long; a
    buffer placed half a page off both goes as fast as the kernel does otherwise.

    Raises:
        OSError: a read or write fails, or the source ends before ``count`` bytes.
    """
    if 0 < (os.lseek(target, 0, os.SEEK_CUR) - offset) % PAGE_BYTES < ALIASING_BYTES:
        loop_copy(source, target, offset, count)
        return
    copier = getattr(os, "copy_file_range", None)
    # the kernel also copies slowly a range that starts as far into a page in both files: the
    # source's first partial page goes alone, and the rest starts on a page boundary
    if copier is not None:
        offset, count = kernel_copy(
            lambda at, size: copier(source, target, size, at), offset, count, -offset % PAGE_BYTES
        )
    if hasattr(os, "sendfile"):
        offset, count = kernel_copy(lambda at, size: os.sendfile(target, source, at, size), offset, count)
    loop_copy(source, target, offset, count)


def kernel_copy(copy: Callable[[int, int], int], offset: int, count: int, first: int = 0) -> tuple[int, int]:
    """Copy in the kernel (``copy(offset, size)`` returns the bytes it copied) until ``count`` bytes
    are copied or the kernel refuses these files; the (offset, count) left for another way.

    Raises:
        OSError: a failure other than a refusal, or the source ends before ``count`` bytes.
    """
    step: int = first or COPY_CHUNK
    while count > 0:
        try:
            done: int = copy(offset, min(count, step))
        except OSError as err:
            if err.errno not in KERNEL_REFUSALS:
                raise
            break
        if done == 0:
            raise OSError(errno.EIO, "the input ended before its pixel data did")
        offset, count, step = offset + done, count - done, COPY_CHUNK
    return offset, count


def loop_copy(source: int, target: int, offset: int, count: int) -> None:
    """``range_copy`` through one buffer, in memory half a page off the input's place in its pages
    (so that neither copy, into it or out of it, aliases)."""
    if count <= 0:
        return
    start: int = (offset + PAGE_BYTES // 2) % PAGE_BYTES
    view: memoryview = memoryview(copyBuffer_get())[start : start + LOOP_CHUNK]
    try:
        while count > 0:
            done: int = chunk_read(source, view[: min(count, LOOP_CHUNK)], offset)
            if done == 0:
                raise OSError(errno.EIO, "the input ended before its pixel data did")
            written: int = 0
            while written < done:
                written += os.write(target, view[written:done])
            offset, count = offset + done, count - done
    finally:
        view.release()


def chunk_read(source: int, into: memoryview, offset: int) -> int:
    """Read into a buffer from a position; the bytes read (``preadv`` where the system has it)."""
    if hasattr(os, "preadv"):
        return os.preadv(source, [into], offset)
    data: bytes = os.pread(source, len(into), offset)
    into[: len(data)] = data
    return len(data)


@functools.cache
def copyBuffer_get() -> mmap.mmap:
    """The process's copy buffer, made once: a buffer made per file would be mapped, faulted in page
    by page and unmapped again for every file."""
    return mmap.mmap(-1, LOOP_CHUNK + PAGE_BYTES)  # an anonymous map starts on a page
