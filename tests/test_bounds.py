"""Bounds on a hostile file's work: plausible starts, reads no larger than the file, zero runs,
element counts, inflated sizes and nesting depths, each refused with its reason."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from pfdicom_tagSub.bounds import (
    ELEMENTS_MAX,
    FileReader,
    depth_check,
    head_isPlausible,
    inflated_check,
)
from pfdicom_tagSub.errors import DicomReadError


@pytest.mark.parametrize(
    ("head", "plausible"),
    [
        (b"\x08\x00\x05\x00CS\x0a\x00", True),  # SpecificCharacterSet, explicit VR little endian
        (b"\x08\x00\x16\x00\x1a\x00\x00\x00", True),  # SOPClassUID, implicit VR
        (b"\x00\x08\x00\x05CS\x00\x0a", True),  # big endian
        (b"\x10\x00\x00\x00\x04\x00\x00\x00", True),  # a group length, implicit VR
        (b"\x02\x00\x00\x00UL\x04\x00", True),  # the file meta's group length, explicit VR
        (b"\x02\x00\x01\x00OB\x00\x00", True),  # the file meta without its group length
        (b"\x00\x00\x00\x00\x04\x00\x00\x00", True),  # a command's group length
        (bytes(8), False),  # zeros
        (b"\x00\x00\x00\x00\x00\x00\x00\x00\x00", False),
        (b"\x10\x00\x10\x00PN\x08\x00", False),  # PatientName first: no data set starts so
        (b"\x02\x00\x01\x00\x00\x00\x00\x00", False),  # file meta group, no VR
        (b"Patient notes", False),
        (b"\xff" * 8, False),
        (b"\x08\x00", False),  # too short for an element
    ],
)
def test_a_bare_data_set_starts_with_a_plausible_element(head: bytes, plausible: bool) -> None:
    assert head_isPlausible(head) is plausible


def test_a_read_never_asks_for_more_than_the_file_holds(tmp_path: Path) -> None:
    path: Path = tmp_path / "short.bin"
    path.write_bytes(b"x" * 100_000)
    with FileReader(str(path)) as stream:
        stream.read(10)
        assert len(stream.read(0xF0000000)) == 99_990  # a 4 GB claim
        assert stream.read(0xF0000000) == b""


def test_a_zero_element_header_followed_by_zeros_ends_the_read_a_zero_value_does_not(tmp_path: Path) -> None:
    path: Path = tmp_path / "zeros.bin"
    path.write_bytes(b"\x08\x00\x05\x00" + bytes(8) + b"\x10\x00\x10\x00" + bytes(24))
    with FileReader(str(path)) as stream:
        stream.read(4)
        assert stream.read(8) == bytes(8)  # a value may be zero bytes: an element follows it
        stream.read(4)
        with pytest.raises(
            DicomReadError, match=r"zero bytes where DICOM elements should be \(from byte 16\)"
        ):
            stream.read(8)


def test_more_element_headers_than_twice_the_limit_are_refused(tmp_path: Path) -> None:
    path: Path = tmp_path / "many.bin"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00" * (2 * ELEMENTS_MAX + 1))
    with FileReader(str(path)) as stream:
        for _ in range(2 * ELEMENTS_MAX):
            stream.read(8)
        with pytest.raises(DicomReadError, match=f"more than {ELEMENTS_MAX} elements \\(the limit\\)"):
            stream.read(8)


def deflated_file(tmp_path: Path, inflatedMB: int) -> Path:
    """pydicom's deflated image, its data set replaced by so many megabytes of deflated zeros."""
    original: bytes = Path(str(get_testdata_file("image_dfl.dcm"))).read_bytes()
    metaEnd: int = 144 + struct.unpack("<I", original[140:144])[0]
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block: bytes = deflater.compress(bytes(1 << 20)) + deflater.flush(zlib.Z_FULL_FLUSH)
    path: Path = tmp_path / "deflated.dcm"
    path.write_bytes(original[:metaEnd] + block * inflatedMB + deflater.flush())
    return path


@pytest.mark.parametrize(("inflatedMB", "refused"), [(16, False), (129, True)])
def test_a_deflated_data_set_is_refused_past_the_limit(
    tmp_path: Path, inflatedMB: int, refused: bool
) -> None:
    path: Path = deflated_file(tmp_path, inflatedMB)
    with FileReader(str(path)) as stream:
        head: bytes = stream.read(1024)
        if refused:
            with pytest.raises(DicomReadError, match=r"inflates to more than 128 MB \(the limit\)"):
                inflated_check(str(path), head, stream)
        else:
            inflated_check(str(path), head, stream)
        assert stream.tell() == 0


def nested(levels: int) -> Dataset:
    inner = Dataset()
    inner.PatientID = "DEEPEST"
    for _ in range(levels):
        outer = Dataset()
        outer.OtherPatientIDsSequence = Sequence([inner])
        inner = outer
    return inner


def test_sequences_nest_no_deeper_than_64_levels() -> None:
    depth_check(nested(64))
    with pytest.raises(
        DicomReadError,
        match=r"sequences nested deeper than 64 levels \(the limit\), in OtherPatientIDsSequence",
    ):
        depth_check(nested(65))
