"""Splicing an output: elements copied only where pydicom would write them as they lie; ranges copied
between files in the kernel or through a buffer."""

from __future__ import annotations

import os
import warnings
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from pfdicom_tagSub.splice import dataset_splice, element_range, header_splice, loop_copy, range_copy
from tests.conftest import pydicomFile
from tests.safety_support import dataset_bytes, element_offset, image_dataset, sequence_add


def read(data: bytes) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(BytesIO(data))


def pydicom_bytes(dataset: Dataset) -> bytes:
    """The data set as pydicom's ``write_dataset`` writes it, in its own encoding."""
    stream: DicomBytesIO = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = dataset.original_encoding
    write_dataset(stream, dataset)
    return stream.getvalue()


def spliced_bytes(dataset: Dataset, source: bytes) -> bytes:
    stream: DicomBytesIO = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = dataset.original_encoding
    dataset_splice(stream, dataset, source)
    return stream.getvalue()


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "rtplan.dcm",
        "SC_rgb_small_odd.dcm",
        "JPEG2000.dcm",
        "MR_small_bigendian.dcm",
        "image_dfl.dcm",
    ],
)
def test_a_data_set_spliced_is_what_pydicom_writes(name: str) -> None:
    source: bytes = pydicomFile(name).read_bytes()
    assert spliced_bytes(read(source), source) == pydicom_bytes(read(source))


def test_changed_and_converted_elements_are_encoded_by_pydicom_at_every_depth() -> None:
    source: bytes = dataset_bytes(sequence_add(image_dataset(1), undefinedLength=False))
    dataset: Dataset = read(source)
    dataset.PatientID = "CHANGED-ID"
    dataset.OtherPatientIDsSequence[1].PatientID = "CHANGED-TOO"
    dataset.StudyDescription  # noqa: B018  # converted, unchanged
    spliced: bytes = spliced_bytes(dataset, source)
    assert spliced == pydicom_bytes(dataset)
    assert b"CHANGED-ID" in spliced and b"CHANGED-TOO" in spliced and b"MRN000123" not in spliced


def test_an_element_whose_reserved_bytes_are_not_zero_is_not_copied() -> None:
    source: bytes = dataset_bytes(image_dataset(2))
    offset: int = element_offset(source, "PixelData")
    patched: bytes = source[: offset - 6] + b"\x07\x00" + source[offset - 4 :]
    dataset: Dataset = read(patched)
    element: object = dataset.get_item("PixelData")
    assert element_range(element, patched, False, True) is None
    assert element_range(read(source).get_item("PixelData"), source, False, True) is not None
    assert spliced_bytes(dataset, patched) == pydicom_bytes(dataset)  # pydicom writes them as zero


def test_a_sequence_of_undefined_length_is_copied_whole_when_untouched() -> None:
    source: bytes = dataset_bytes(sequence_add(image_dataset(3), undefinedLength=True))
    dataset: Dataset = read(source)
    items = dataset.OtherPatientIDsSequence  # converted, as the plan converts it to look inside
    assert len(items) == 2
    where: tuple[int, int] | None = element_range(dataset["OtherPatientIDsSequence"], source, False, True)
    assert where is not None
    assert source[where[1] - 8 : where[1]] == b"\xfe\xff\xdd\xe0\0\0\0\0"
    assert spliced_bytes(dataset, source) == pydicom_bytes(dataset)


def test_the_header_ends_before_the_pixel_data_and_starts_with_the_preamble() -> None:
    source: bytes = dataset_bytes(image_dataset(4))
    header: bytes = header_splice(read(source), source, (False, True), 0x7FE00010)
    pixels: int = source.index(b"\xe0\x7f\x10\x00")
    assert header == source[:pixels]


def file_with(directory: Path, name: str, data: bytes) -> int:
    path: Path = directory / name
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


@pytest.mark.parametrize("where", ["same file system", "memory file system"])
def test_a_range_is_appended_to_another_file_byte_for_byte(tmp_path: Path, where: str) -> None:
    target: Path = Path("/dev/shm") if where == "memory file system" else tmp_path
    if not target.is_dir() or not os.access(target, os.W_OK):
        pytest.skip(f"no writable {target}")
    data: bytes = os.urandom(3 << 20)
    source: int = file_with(tmp_path, "source", data)
    outputPath: Path = target / f"pfdicom_tagSub-test-{os.getpid()}"
    try:
        output: int = os.open(outputPath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(output, b"HEADER")
        range_copy(source, output, 1000, len(data) - 1000)
        os.close(output)
        assert outputPath.read_bytes() == b"HEADER" + data[1000:]
    finally:
        os.close(source)
        outputPath.unlink(missing_ok=True)


def test_the_buffered_copy_copies_what_the_kernel_copies(tmp_path: Path) -> None:
    data: bytes = os.urandom((2 << 20) + 77)
    source: int = file_with(tmp_path, "source", data)
    output: int = os.open(tmp_path / "output", os.O_WRONLY | os.O_CREAT, 0o600)
    loop_copy(source, output, 5, len(data) - 5)
    os.close(output)
    os.close(source)
    assert (tmp_path / "output").read_bytes() == data[5:]


@pytest.mark.parametrize("copier", [range_copy, loop_copy])
def test_a_source_shorter_than_the_range_is_an_error(tmp_path: Path, copier: object) -> None:
    source: int = file_with(tmp_path, "source", b"x" * 100)
    output: int = os.open(tmp_path / "output", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError, match="ended before"):
            copier(source, output, 50, 100)  # type: ignore[operator]
    finally:
        os.close(output)
        os.close(source)
