"""A data set read is the whole file: one cut short, or with bytes after its last element, is refused."""

from __future__ import annotations

from io import BytesIO

import pydicom
import pytest
from pydicom.dataset import Dataset

from pfdicom_tagSub.errors import DicomReadError
from pfdicom_tagSub.whole import dataset_checkWhole, dataset_hasContent
from tests.safety_support import dataset_bytes, image_dataset


def checked(data: bytes) -> None:
    dataset: Dataset = pydicom.dcmread(BytesIO(data))
    dataset_checkWhole(dataset, len(data), data[-8:])


def test_a_whole_file_passes() -> None:
    checked(dataset_bytes(image_dataset(1)))


@pytest.mark.parametrize("cut", [3, 9, 40])
def test_a_file_cut_short_is_refused(cut: int) -> None:
    data: bytes = dataset_bytes(image_dataset(1))
    with pytest.raises(DicomReadError, match="truncated"):
        checked(data[:-cut])


def test_only_a_character_set_is_no_content() -> None:
    dataset: Dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 100"
    assert not dataset_hasContent(dataset)
    dataset.PatientID = "X"
    assert dataset_hasContent(dataset)
