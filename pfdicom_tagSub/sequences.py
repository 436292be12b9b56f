"""A data set's sequences as pydicom reads them, and the data set a change's steps lead to.

A sequence may come as an SQ element, as an element of implicit VR or UN whose dictionary entry
says SQ, or, for a private creator pydicom does not know, as bare bytes that hold items; an
element may be shorter than its header says. These helpers answer for all of them alike, without
changing what is written for an element no change touches.

Key components:
    - element_isComplete: a raw element holds as many bytes as its header announced
    - private_asSequence: the bytes of an opaque private element read as the sequence they hold
    - sequence_items, element_isSequence: an element's items, or None for any other element
    - dataset_at: the data set that holds a change's element

Typical usage:
    items = sequence_items(dataset, Tag(0x00101002))

Dependencies:
    - pydicom for element conversion
    - pfdicom_tagSub.dictionary, models
"""

from __future__ import annotations

from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from pfdicom_tagSub.dictionary import tag_isSequence
from pfdicom_tagSub.models import Change

UNDEFINED_LENGTH: int = 0xFFFFFFFF
ITEM_TAG: bytes = b"\xfe\xff\x00\xe0"


def element_isComplete(raw: object) -> bool:
    """Whether a raw element holds as many bytes as its header announced (not truncated)."""
    if not isinstance(raw, RawDataElement) or raw.length == UNDEFINED_LENGTH or raw.value is None:
        return True
    return len(raw.value) >= raw.length


def element_isOpaquePrivate(raw: object) -> bool:
    """Whether a raw element is a private one of unknown VR (implicit or UN) and defined length."""
    return (
        isinstance(raw, RawDataElement)
        and raw.tag.is_private
        and raw.VR in (None, "UN")
        and raw.length != UNDEFINED_LENGTH
    )


def private_asSequence(dataset: Dataset, tag: BaseTag, value: bytes) -> DataElement | None:
    """The bytes of an opaque private element read as the sequence they hold, when they start with an item.

    A private sequence of a creator pydicom does not know, in an implicit-VR file (or written as
    UN), reads as bytes: the identifiers in its items would escape the rules. Its bytes are
    implicit VR little endian either way (PS3.5 6.2.2). The data set is not changed.
    """
    if value[: len(ITEM_TAG)] != ITEM_TAG:
        return None
    charset: object = dataset.original_character_set or dataset._character_set
    raw: RawDataElement = RawDataElement(tag, "SQ", len(value), value, 0, True, True)
    try:
        element: DataElement = convert_raw_data_element(
            raw,
            encoding=charset,  # type: ignore[arg-type]  # what pydicom passes itself
            ds=dataset,
        )
    except Exception:  # not a sequence after all: its bytes stay as they are
        return None
    return element if element.VR == "SQ" else None


def sequence_items(dataset: Dataset, tag: BaseTag) -> Sequence | None:
    """The items of an element that is a sequence; None for any other element.

    A standard element of implicit VR or UN takes the dictionary's word; a private one, or one
    of undefined length, is converted so that pydicom decides, as it does when reading.
    """
    raw: object = dataset.get_item(tag)
    vr: str | None = getattr(raw, "VR", None)
    if vr == "SQ":
        return dataset[tag].value
    if vr not in (None, "UN"):
        return None
    if not tag.is_private and getattr(raw, "length", 0) != UNDEFINED_LENGTH:
        return dataset[tag].value if tag_isSequence(tag) else None
    element: DataElement = dataset[tag]  # pydicom converts it here, as it would to write it
    items: Sequence | None = element.value if element.VR == "SQ" else None
    if items is None and tag.is_private and isinstance(element.value, bytes):
        converted: DataElement | None = private_asSequence(dataset, tag, element.value)
        items = converted.value if converted is not None else None
    if items is not None and isinstance(raw, RawDataElement) and element_isOpaquePrivate(raw):
        # its bytes stay as they came, unless a change inside it is applied (``dataset_at``)
        dataset[tag] = raw
    return items


def element_isSequence(dataset: Dataset, tag: BaseTag) -> bool:
    """Whether an element is a sequence, converting it only when its header leaves a doubt."""
    raw: object = dataset.get_item(tag)
    vr: str | None = getattr(raw, "VR", None)
    if vr not in (None, "UN"):
        return vr == "SQ"
    if tag.is_private or getattr(raw, "length", 0) == UNDEFINED_LENGTH:
        return sequence_items(dataset, tag) is not None
    return tag_isSequence(tag)


def dataset_at(root: Dataset, change: Change) -> Dataset:
    """The data set that holds a change's element, sequences entered by their steps.

    A private sequence that was read as bare bytes is converted in its data set here, where a
    change inside it is about to be applied.
    """
    if change.meta:
        return root.file_meta
    dataset: Dataset = root
    for tag, index in change.steps:
        element: DataElement = dataset[tag]
        if element.VR != "SQ" and isinstance(element.value, bytes):
            converted: DataElement | None = private_asSequence(dataset, Tag(tag), element.value)
            if converted is not None:
                dataset[tag] = element = converted
        dataset = element.value[index]
    return dataset
