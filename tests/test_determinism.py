"""The same input and rules give byte-identical outputs across runs and across ``--threads`` values.

The installed console script runs five times over one tree (the example tree, pydicom's CT and
MR files, and synthetic patients spread over several directories) with the README rules, fake
names included, and an ``--outputFileStem``: twice with one process, then with 2 and 3 worker
processes and with the default count (every core), each run under a different ``PYTHONHASHSEED``
so that nothing may hang on the order of a set or a dict. Every run must produce the same file
names with the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from tests.conftest import EXAMPLES, README_RULES, console_script, pydicomFile
from tests.safety_support import dataset_save, files_under, image_dataset, sequence_add

RULES: dict[str, str] = {**README_RULES, "StudyDescription": "%_nospc|-_StudyDescription"}
STEM: str = "%_md5|8_PatientID-%InstanceNumber"


@pytest.fixture(scope="module")
def determinismTree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root: Path = tmp_path_factory.mktemp("determinism") / "in"
    shutil.copytree(EXAMPLES / "dicom", root / "examples")
    (root / "pydicom").mkdir()
    shutil.copyfile(pydicomFile("CT_small.dcm"), root / "pydicom" / "CT_small.dcm")
    shutil.copyfile(pydicomFile("MR_small.dcm"), root / "pydicom" / "MR_small.dcm")
    for number in range(1, 41):
        patient: int = number % 7
        dataset = image_dataset(number, patientName=f"PATIENT^NUMBER{patient}", patientID=f"P{patient:04d}")
        if number % 3 == 0:
            sequence_add(dataset, undefinedLength=number % 2 == 0)
        dataset_save(dataset, root / f"patient{patient}" / f"series{number % 2}" / f"IM{number:04d}.dcm")
    return root


def tree_run(inputDir: Path, outputDir: Path, threads: int | None, hashSeed: int) -> dict[str, bytes]:
    """One run of the console script; the output tree, name to bytes."""
    done = subprocess.run(
        [
            str(console_script()),
            str(inputDir),
            str(outputDir),
            "--tagStruct",
            json.dumps(RULES),
            "--outputFileStem",
            STEM,
            *([] if threads is None else ["--threads", str(threads)]),
            "-v",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": str(hashSeed)},
    )
    assert done.returncode == 0, done.stderr
    return {name: (outputDir / name).read_bytes() for name in files_under(outputDir)}


def test_outputs_are_byte_identical_across_runs_and_worker_counts(
    determinismTree: Path, tmp_path: Path
) -> None:
    first: dict[str, bytes] = tree_run(determinismTree, tmp_path / "one", threads=0, hashSeed=1)
    assert len(first) == 46
    assert str(pydicom.dcmread(tmp_path / "one" / "pydicom" / "6609f5d8-1.dcm").PatientName) == (
        "BROWN^STACY^ANON"
    )

    for threads, hashSeed in ((0, 2), (2, 3), (3, 4), (None, 5)):  # None: the default, every core
        again: dict[str, bytes] = tree_run(
            determinismTree, tmp_path / f"run{threads}-{hashSeed}", threads, hashSeed
        )
        assert sorted(again) == sorted(first), f"--threads {threads}: other file names"
        differing: list[str] = [name for name in first if again[name] != first[name]]
        assert differing == [], f"--threads {threads}: other bytes in {differing[:5]}"
