"""Outputs: safe names, the dry run's null stream, the atomic no-clobber place, claims in input order."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pydicom
import pytest

from pfdicom_tagSub.encode import NullStream, dataset_encode
from pfdicom_tagSub.models import FileResult
from pfdicom_tagSub.output import (
    OutputCommitter,
    dataset_write,
    name_safe,
    output_place,
    suffix_of,
)
from tests.conftest import pydicomFile


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("../../etc", ".._.._etc.dcm"),
        ("a/b\\c", "a_b_c.dcm"),
        ("..", "__.dcm"),
        ("", "_.dcm"),
        ("x\nforged", "x_forged.dcm"),
        ("é" * 200, "é" * 125 + ".dcm"),
    ],
)
def test_a_stem_becomes_one_safe_file_name(stem: str, name: str) -> None:
    assert name_safe(stem, ".dcm") == name
    assert len(name_safe(stem, ".dcm").encode()) <= 255


@pytest.mark.parametrize("name", ["IM1.dcm", ".hidden", "a.", "x.tar.gz", "noext", "..", "a..b", "."])
def test_the_suffix_of_a_name_is_the_one_pathlib_gives(name: str) -> None:
    assert suffix_of(name) == PurePosixPath(name).suffix


def test_the_null_stream_takes_what_a_file_would_and_keeps_nothing(tmp_path: Path) -> None:
    dataset = pydicom.dcmread(pydicomFile("CT_small.dcm"))
    null = NullStream()
    dataset_encode(dataset, null)
    written: str = dataset_write(dataset, str(tmp_path), str(tmp_path / "final.dcm"))
    assert null.tell() == os.path.getsize(written)


def test_an_existing_output_is_never_replaced_without_overwrite(tmp_path: Path) -> None:
    final: Path = tmp_path / "out.dcm"
    final.write_bytes(b"kept")
    temp: Path = tmp_path / "temp"
    temp.write_bytes(b"new")
    assert output_place(str(temp), str(final), overwrite=False) is False
    assert final.read_bytes() == b"kept" and not temp.exists()
    temp.write_bytes(b"new")
    assert output_place(str(temp), str(final), overwrite=True) is True
    assert final.read_bytes() == b"new" and not temp.exists()


def test_the_second_input_claiming_one_output_name_fails_naming_both(tmp_path: Path) -> None:
    committer = OutputCommitter(overwrite=False)
    results: list[FileResult] = []
    for name in ("a.dcm", "b.dcm"):
        temp: Path = tmp_path / f".{name}.tmp"
        temp.write_bytes(name.encode())
        results.append(
            FileResult(f"/in/{name}", "written", outputPath=str(tmp_path / "same.dcm"), tempPath=str(temp))
        )
    for result in results:
        committer.commit(result)
    assert [result.outcome for result in results] == ["written", "failed"]
    assert (
        results[1].reason
        == f"not written: its output name {tmp_path / 'same.dcm'} is already the output of /in/a.dcm"
    )
    assert (tmp_path / "same.dcm").read_bytes() == b"a.dcm"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["same.dcm"]
