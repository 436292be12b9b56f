"""Where a file's top-level pixel data lies, and whether pydicom would write it exactly as it lies.

The header-only way through a file reads everything before the pixel data with pydicom and
copies the pixel data element, and what follows it, from the input. That copy is what pydicom
would write only when the element is as pydicom writes it: its header (tag, VR, zero reserved
bytes, length) and, for ``PixelData``, the form ``dcmwrite`` gives it (an even length, which it
would pad; encapsulated exactly when the transfer syntax is compressed, with zero for the
length of the closing delimiter). Encapsulated data is walked by its item headers only (never
read), so that an item cut short is seen.

Key components:
    - PixelSpan: where the pixel data element starts and ends in the file
    - pixelSpan_read: that span, when the element is copied as it lies; None otherwise
    - items_walk: the end of encapsulated pixel data, by its item headers

Typical usage:
    span = pixelSpan_read(descriptor, start, size, syntax, 0x7FE00010)

Dependencies:
    - pydicom's UID, for the transfer syntax; pfdicom_tagSub.splice (the headers' layouts)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pydicom.uid import UID

from pfdicom_tagSub.splice import (
    IMPLICIT_HEADER,
    ITEM,
    LONG_LENGTH,
    SEQUENCE_END,
    SHORT_HEADER,
    UNDEFINED_LENGTH,
)

PIXEL_DATA: int = 0x7FE00010
FLOAT_PIXEL_DATA: int = 0x7FE00008
DOUBLE_FLOAT_PIXEL_DATA: int = 0x7FE00009
PIXEL_TAGS: frozenset[int] = frozenset({PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA})
# the VRs each is written with as read (pydicom would give any other its dictionary's)
PIXEL_VRS: dict[int, frozenset[bytes]] = {
    PIXEL_DATA: frozenset({b"OB", b"OW"}),
    FLOAT_PIXEL_DATA: frozenset({b"OF"}),
    DOUBLE_FLOAT_PIXEL_DATA: frozenset({b"OD"}),
}
ITEM_HEADER_BYTES: int = 8
ITEMS_MAX: int = 1 << 20  # more fragments than any image has: the full read judges such a file


@dataclass(frozen=True)
class PixelSpan:
    """The pixel data element in the file: from its header's first byte (``start``) to just past
    its value, delimiter included (``end``)."""

    start: int
    end: int


def pixelSpan_read(descriptor: int, start: int, size: int, syntax: UID, tag: int) -> PixelSpan | None:
    """The span of the pixel data element whose header starts at ``start``, when pydicom would
    write it exactly as it lies; None when not, or when it is cut short.

    Args:
        descriptor: the file, open for reading.
        start: where the element's header starts.
        size: the file's size.
        syntax: its transfer syntax (a public, not deflated one).
        tag: the pixel data tag pydicom stopped at.
    """
    implicit, little = bool(syntax.is_implicit_VR), bool(syntax.is_little_endian)
    head: bytes = os.pread(descriptor, 12, start)
    if len(head) < (8 if implicit else 12):
        return None
    if implicit:
        group, number, length = IMPLICIT_HEADER[little].unpack_from(head)
        valueStart: int = start + 8
    else:
        group, number, vr, reserved = SHORT_HEADER[little].unpack_from(head)
        if vr not in PIXEL_VRS.get(tag, frozenset()) or reserved != 0:
            return None
        length = LONG_LENGTH[little].unpack_from(head, 8)[0]
        valueStart = start + 12
    if (group << 16 | number) != tag:
        return None
    encapsulated: bool = length == UNDEFINED_LENGTH
    if tag == PIXEL_DATA and encapsulated != bool(syntax.is_compressed):
        return None  # dcmwrite would write it the other way
    if not encapsulated:
        end: int = valueStart + length
        return PixelSpan(start, end) if length % 2 == 0 and end <= size else None
    if tag != PIXEL_DATA:
        return None
    itemsEnd: int | None = items_walk(descriptor, valueStart, size, little)
    return PixelSpan(start, itemsEnd) if itemsEnd is not None else None


def items_walk(descriptor: int, position: int, size: int, little: bool) -> int | None:
    """The end of encapsulated pixel data whose value starts at ``position``, past its sequence
    delimiter, found by walking its item headers; None for anything but whole items of an even
    total length, the first one an item, closed by a delimiter of length zero.

    Example:
        >>> import tempfile
        >>> item, end = b"\\xfe\\xff\\x00\\xe0\\x02\\x00\\x00\\x00ab", b"\\xfe\\xff\\xdd\\xe0" + bytes(4)
        >>> with tempfile.TemporaryFile() as stream:
        ...     _ = stream.write(item + end)
        ...     stream.flush()
        ...     items_walk(stream.fileno(), 0, 18, True), items_walk(stream.fileno(), 0, 17, True)
        (18, None)
    """
    start: int = position
    items: int = 0
    while position + ITEM_HEADER_BYTES <= size and items <= ITEMS_MAX:
        header: bytes = os.pread(descriptor, ITEM_HEADER_BYTES, position)
        if len(header) < ITEM_HEADER_BYTES:
            return None
        if header[:4] == ITEM[little]:
            position += ITEM_HEADER_BYTES + LONG_LENGTH[little].unpack_from(header, 4)[0]
            items += 1
            continue
        whole: bool = items > 0 and header == SEQUENCE_END[little] and (position - start) % 2 == 0
        return position + ITEM_HEADER_BYTES if whole else None
    return None
