"""Where the pixel data lies, and whether pydicom would write it as it lies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit

from pfdicom_tagSub.pixels import PIXEL_DATA, PixelSpan, items_walk, pixelSpan_read
from tests.safety_support import dataset_bytes, image_dataset

ITEM: bytes = b"\xfe\xff\x00\xe0"
END: bytes = b"\xfe\xff\xdd\xe0\0\0\0\0"


def span_of(tmp_path: Path, data: bytes, syntax: str) -> PixelSpan | None:
    path: Path = tmp_path / "file.dcm"
    path.write_bytes(data)
    descriptor: int = os.open(path, os.O_RDONLY)
    try:
        return pixelSpan_read(descriptor, data.index(b"\xe0\x7f\x10\x00"), len(data), UID(syntax), PIXEL_DATA)
    finally:
        os.close(descriptor)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_native_pixel_data_spans_its_header_and_value(tmp_path: Path, syntax: str) -> None:
    data: bytes = dataset_bytes(image_dataset(1, syntax=syntax))
    assert span_of(tmp_path, data, syntax) == PixelSpan(data.index(b"\xe0\x7f\x10\x00"), len(data))


def encapsulated_bytes() -> bytes:
    dataset = image_dataset(2, syntax=JPEGBaseline8Bit)
    dataset.PixelData = encapsulate([b"\xff\xd8one\xff\xd9!", b"\xff\xd8two\xff\xd9!"])
    dataset["PixelData"].VR = "OB"
    return dataset_bytes(dataset)


def test_encapsulated_pixel_data_spans_its_items_and_delimiter(tmp_path: Path) -> None:
    data: bytes = encapsulated_bytes()
    assert span_of(tmp_path, data, JPEGBaseline8Bit) == PixelSpan(data.index(b"\xe0\x7f\x10\x00"), len(data))


@pytest.mark.parametrize(
    ("case", "syntax"),
    [
        ("cut inside the value", ExplicitVRLittleEndian),
        ("cut inside an item", JPEGBaseline8Bit),
        ("an odd length", ExplicitVRLittleEndian),
        ("reserved bytes not zero", ExplicitVRLittleEndian),
        ("VR UN", ExplicitVRLittleEndian),
        ("a defined length under a compressed syntax", JPEGBaseline8Bit),
        ("encapsulated under a native syntax", ExplicitVRLittleEndian),
    ],
)
def test_pixel_data_not_copied_as_it_lies(tmp_path: Path, case: str, syntax: str) -> None:
    encapsulated: bool = "item" in case or "native syntax" in case
    data: bytes = encapsulated_bytes() if encapsulated else dataset_bytes(image_dataset(3))
    at: int = data.index(b"\xe0\x7f\x10\x00")
    if case.startswith("cut"):
        data = data[:-11]
    if case == "an odd length":
        data = data[: at + 8] + (len(data) - at - 13).to_bytes(4, "little") + data[at + 12 : -1]
    if case == "reserved bytes not zero":
        data = data[: at + 6] + b"\x01\x00" + data[at + 8 :]
    if case == "VR UN":
        data = data[: at + 4] + b"UN" + data[at + 6 :]
    assert span_of(tmp_path, data, syntax) is None


@pytest.mark.parametrize(
    ("items", "size", "end"),
    [
        (ITEM + b"\0\0\0\0" + ITEM + b"\x02\0\0\0ab" + END, None, 26),  # an empty offset table, one fragment
        (END, None, None),  # no item: pydicom refuses to write it
        (ITEM + b"\x03\0\0\0abc" + END, None, None),  # an odd total, which pydicom would pad
        (ITEM + b"\x02\0\0\0ab" + b"\xfe\xff\xdd\xe0\x01\0\0\0", None, None),  # a delimiter's length not 0
        (ITEM + b"\x02\0\0\0ab" + END, 17, None),  # cut inside the delimiter
        (ITEM + b"\xff\xff\xff\xffab" + END, None, None),  # an item longer than the file
        (ITEM + b"\x02\0\0\0ab" + b"\x08\x00\x10\x00" + b"\0\0\0\0", None, None),  # not an item
    ],
)
def test_items_are_walked_by_their_headers(
    tmp_path: Path, items: bytes, size: int | None, end: int | None
) -> None:
    path: Path = tmp_path / "items"
    path.write_bytes(items)
    descriptor: int = os.open(path, os.O_RDONLY)
    try:
        assert items_walk(descriptor, 0, size or len(items), True) == end
    finally:
        os.close(descriptor)
