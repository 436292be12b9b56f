"""Whether a data set pydicom has read is the whole file: a file cut short is refused, not written shorter.

pydicom ends a data set quietly where a file stops: inside an element's header, or inside an
undefined-length element whose delimiter the file lacks. Writing what it read would drop the
rest of the file. The checks here compare what was read with the file's size and last bytes.

Key components:
    - dataset_hasContent: more than a character set and command elements
    - dataset_checkComplete: every top-level element as long as its header says
    - dataset_checkWhole, dataset_end: the last element read ends where the file does

Typical usage:
    dataset_checkWhole(dataset, os.path.getsize(path), lastEightBytes)

Dependencies:
    - pydicom's element classes
    - pfdicom_tagSub.dictionary (names in messages), sequences (an element's completeness)
"""

from __future__ import annotations

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag

from pfdicom_tagSub.dictionary import keyword_of
from pfdicom_tagSub.errors import DicomReadError
from pfdicom_tagSub.sequences import element_isComplete

UNDEFINED_LENGTH: int = 0xFFFFFFFF
UNKNOWN_END: int = -1
DELIMITER_BYTES: int = 8
SEQUENCE_DELIMITERS: frozenset[bytes] = frozenset(
    {b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"}
)
COMMAND_GROUP: int = 0x0000
SPECIFIC_CHARACTER_SET: BaseTag = Tag(0x0008, 0x0005)


def dataset_hasContent(dataset: Dataset) -> bool:
    """Whether a data set holds more than a character set and command elements.

    pydicom decodes the Specific Character Set while reading, so a file cut inside or just after
    it leaves that one element, which no completeness check can judge; a zero-filled file reads
    as command elements (0000,0000).
    """
    return any(
        tag.group != COMMAND_GROUP and tag != SPECIFIC_CHARACTER_SET
        for tag in dataset.keys()  # noqa: SIM118  # iterating a Dataset would decode every element
    )


def dataset_checkComplete(dataset: Dataset, where: str = "") -> None:
    """Refuse a data set whose top-level elements are shorter than their headers say.

    Raises:
        DicomReadError: naming the first truncated element.
    """
    for tag in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
        if not element_isComplete(dataset.get_item(tag)):
            name: str = keyword_of(tag) or str(tag)
            raise DicomReadError(f"truncated: {where}{name} is shorter than its header says")


def dataset_checkWhole(dataset: Dataset, fileSize: int, tail: bytes) -> None:
    """Refuse a data set that is shorter than its file: writing it would drop the rest of the file.

    pydicom ends a data set quietly when the file stops inside an element's header, and drops an
    undefined-length element (encapsulated pixel data) whose delimiter the file lacks; either way
    the elements it read end before the file does. A file cut exactly between two elements is a
    shorter data set that no reader can tell from a whole one.

    Args:
        dataset: as read.
        fileSize: the file's size in bytes.
        tail: the file's last bytes (at most 8).

    Raises:
        DicomReadError: a truncated element, or bytes after the last whole element.
    """
    meta: Dataset | None = getattr(dataset, "file_meta", None)
    if meta is not None:
        dataset_checkComplete(meta, "file meta ")
    syntax: object = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if getattr(syntax, "is_deflated", False):  # positions count in the inflated stream, not the file
        dataset_checkComplete(dataset)
        return
    last: tuple[int | None, BaseTag] | None = dataset_end(dataset)
    if last is None:
        return
    end, tag = last
    if end is None:
        whole: bool = tail in SEQUENCE_DELIMITERS  # an undefined-length sequence ends the file
    else:
        whole = end >= fileSize
    if not whole:
        gap: str = "bytes" if end is None else f"{fileSize - end} bytes"
        raise DicomReadError(f"truncated: the {gap} after {keyword_of(tag) or tag} are not a whole element")


def dataset_end(dataset: Dataset) -> tuple[int | None, BaseTag] | None:
    """The file offset just past the last top-level element read, with its tag; None when empty.

    The offset is None when that element is a sequence of undefined length: pydicom does not
    record where it ends (one cut short raises while it is read). None for the whole data set
    when the last element is one pydicom converted while reading and whose end it cannot give.

    Raises:
        DicomReadError: an element is shorter than its header says.
    """
    last: tuple[int | None, BaseTag] | None = None
    lastStart: int = -1
    for tag in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
        element: object = dataset.get_item(tag)
        if not isinstance(element, RawDataElement):
            start: int | None = getattr(element, "file_tell", None)
            if getattr(element, "VR", "") == "SQ":
                if (start or 0) > lastStart:
                    last, lastStart = (None, tag), start or 0
            elif start is not None and start > lastStart and element_isEmpty(element):
                # converted while read (pydicom does so with some empty values): it ends where its
                # value would start
                last, lastStart = (start, tag), start
            elif start is None or start > lastStart:
                last, lastStart = (UNKNOWN_END, tag), start or lastStart
            continue
        if element.length != UNDEFINED_LENGTH:
            if element.value is not None and len(element.value) < element.length:
                raise DicomReadError(f"truncated: {keyword_of(tag) or tag} is shorter than its header says")
            end: int = element.value_tell + element.length
        elif element.value is not None:
            end = element.value_tell + len(element.value) + DELIMITER_BYTES
        else:
            return None
        if element.value_tell > lastStart:
            last, lastStart = (end, tag), element.value_tell
    if last is not None and last[0] == UNKNOWN_END:
        return None
    return last


def element_isEmpty(element: object) -> bool:
    """Whether a converted element's value is empty (None, '', b'' or no values)."""
    value: object = getattr(element, "value", None)
    return value is None or (isinstance(value, str | bytes | list | MultiValue) and len(value) == 0)
