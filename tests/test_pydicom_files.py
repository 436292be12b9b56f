"""Every file pydicom ships and reads whole is read whole by the tool; the cut ones are refused."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files

from pfdicom_tagSub.dicomfile import dicom_read
from pfdicom_tagSub.errors import DicomReadError

CUT_SHORT: frozenset[str] = frozenset({"MR_truncated.dcm", "rtplan_truncated.dcm"})


def shipped_readable() -> list[Path]:
    """pydicom's bundled files with a DICM prefix that pydicom itself reads."""
    found: list[Path] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # no pattern: with one, pydicom tries to download its external test files
        for name in sorted(get_testdata_files()):
            path: Path = Path(name)
            if not path.is_file() or path.name in CUT_SHORT or path.read_bytes()[128:132] != b"DICM":
                continue
            try:
                pydicom.dcmread(path)
            except Exception:  # pydicom cannot read it either: not the tool's to read
                continue
            found.append(path)
    return found


@pytest.mark.parametrize("path", shipped_readable(), ids=lambda path: path.name)
def test_a_file_pydicom_reads_whole_is_read_whole(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(dicom_read(str(path))) > 0


def test_a_file_ending_in_an_empty_element_pydicom_converts_is_whole() -> None:
    # its last element, an empty OF, comes back from pydicom converted and without a raw length
    dataset = dicom_read(str(get_testdata_file("reportsi_with_empty_number_tags.dcm")))
    assert "VectorGridData" in dataset


def test_that_file_cut_inside_its_last_element_is_refused(tmp_path: Path) -> None:
    data: bytes = Path(str(get_testdata_file("reportsi_with_empty_number_tags.dcm"))).read_bytes()
    cut: Path = tmp_path / "cut.dcm"
    cut.write_bytes(data[:-6])
    with pytest.raises(DicomReadError, match="truncated"):
        dicom_read(str(cut))


@pytest.mark.parametrize("name", sorted(CUT_SHORT))
def test_pydicom_s_cut_files_are_refused(name: str) -> None:
    with pytest.raises(DicomReadError, match="truncated"):
        dicom_read(str(get_testdata_file(name)))
