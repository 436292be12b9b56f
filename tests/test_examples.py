"""The example tree the README runs on: made by its script, and de-identified by the README's command."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pydicom

from examples.make_examples import examples_make
from tests.conftest import EXAMPLES, REPO, dcm, script_run, tree_snapshot


def test_the_committed_example_tree_is_what_the_script_makes(tmp_path: Path) -> None:
    examples_make(tmp_path / "dicom")
    assert tree_snapshot(tmp_path / "dicom") == tree_snapshot(EXAMPLES / "dicom")


def test_the_example_tree_holds_what_the_readme_promises() -> None:
    files = sorted((EXAMPLES / "dicom").rglob("*.dcm"))
    datasets = [pydicom.dcmread(path) for path in files]
    assert len({ds.PatientID for ds in datasets}) == 2
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 2
    nested = datasets[0].OtherPatientIDsSequence[0]
    assert "PatientName" in nested and "PatientID" in nested
    assert any(element.tag.is_private for element in datasets[0])
    assert (EXAMPLES / "dicom" / "README.txt").is_file()


def readme_first_command() -> list[str]:
    """The tool's part of the README's first command (after the install)."""
    text = (REPO / "README.rst").read_text()
    line = next(line for line in text.splitlines() if "pip install . &&" in line)
    return shlex.split(re.split(r"&& (?=pfdicom_tagSub)", line)[1])


def test_the_readme_first_command_de_identifies_the_example_tree(tmp_path: Path) -> None:
    command = readme_first_command()
    assert command[0] == "pfdicom_tagSub"
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    run = script_run(*command[1:], cwd=tmp_path)
    assert run.code == 0, run.err
    anon = tmp_path / "anon"
    written = sorted(str(path.relative_to(anon)) for path in anon.rglob("*.dcm"))
    assert written == [
        str(path.relative_to(EXAMPLES / "dicom")) for path in sorted((EXAMPLES / "dicom").rglob("*.dcm"))
    ]
    for path in anon.rglob("*.dcm"):
        original = pydicom.dcmread(EXAMPLES / "dicom" / path.relative_to(anon))
        output = dcm(path)
        assert output.PatientID != original.PatientID and len(output.PatientID) == 7
        assert str(output.PatientName).endswith("^ANON")
        assert output.PatientBirthDate == original.PatientBirthDate[:6] + "01"
        assert output.InstitutionName == "InstitutionName"
        assert output.InstitutionAddress == "InstitutionAddress"
        assert output.OtherPatientIDsSequence[0].PatientID != original.OtherPatientIDsSequence[0].PatientID
        assert output.PixelData == original.PixelData
    assert "README.txt" in run.out
