"""``--verify``: an output that still holds an original value of something the run changed is not written.

Every file here is built with pydicom from made-up values. Each test plants an original value
somewhere a user would not think to look (a private element, a description, the preamble) and
checks what the user sees: which files are written, which are not, and that the line naming a
failed file says where the value is without saying the value.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_files
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from pfdicom_tagSub.dicomfile import FileJob
from pfdicom_tagSub.models import FileTask, TagSubOptions
from pfdicom_tagSub.rules import rules_compile
from pfdicom_tagSub.verify import layout_read
from tests.conftest import EXAMPLES, CliRun, dcm
from tests.safety_support import dataset_save, error_lines, files_under, image_dataset

PATIENT_ID: str = "MRN000123"
FAMILY: str = "DOE"
RULES: dict[str, str] = {"PatientID": "ANON-ID", "PatientName": "ANON^PATIENT", "StudyDate": "19000101"}
Cli = Callable[..., CliRun]


def private_add(dataset: Dataset, value: str | bytes, vr: str = "LO", element: int = 0x01) -> Dataset:
    """A private element (0009,10xx) of creator ``ACME 1.0`` holding ``value``."""
    block = dataset.private_block(0x0009, "ACME 1.0", create=True)
    block.add_new(element, vr, value)
    return dataset


def tree_with(tmp_path: Path, planted: Dataset) -> Path:
    """An input tree: ``bad.dcm`` (the planted data set) and ``clean.dcm``, a neighbour without a plant."""
    inputDir: Path = tmp_path / "in"
    dataset_save(planted, inputDir / "bad.dcm")
    dataset_save(image_dataset(2), inputDir / "clean.dcm")
    return inputDir


def verify_run(cli: Cli, inputDir: Path, outputDir: Path, *extra: object) -> CliRun:
    return cli("-I", inputDir, "-O", outputDir, "-T", json.dumps(RULES), "--verify", *extra)


def hit_line(run: CliRun) -> str:
    """The one error line of the run, which names bad.dcm."""
    lines: list[str] = error_lines(run.err)
    assert len(lines) == 1, run.err
    assert "bad.dcm" in lines[0]
    return lines[0]


# -- the cases ---------------------------------------------------------------------------


def test_patient_id_in_a_private_element_fails_the_file_and_its_line_holds_no_value(
    cli: Cli, tmp_path: Path
) -> None:
    inputDir: Path = tree_with(tmp_path, private_add(image_dataset(1), f"internal {PATIENT_ID}"))
    run: CliRun = verify_run(cli, inputDir, tmp_path / "out")
    assert run.code == 1
    line: str = hit_line(run)
    assert "(0009,1001) holds the original PatientID" in line
    assert PATIENT_ID not in run.err + run.out
    assert files_under(tmp_path / "out") == ["clean.dcm"]


def test_family_name_in_study_description_fails_the_file_and_its_line_holds_no_value(
    cli: Cli, tmp_path: Path
) -> None:
    planted: Dataset = image_dataset(1, patientName=f"{FAMILY}^JANE")
    planted.StudyDescription = f"follow-up of Mrs {FAMILY}"
    inputDir: Path = tree_with(tmp_path, planted)
    run: CliRun = verify_run(cli, inputDir, tmp_path / "out")
    assert run.code == 1
    assert "StudyDescription holds the original PatientName" in hit_line(run)
    assert FAMILY not in run.err + run.out
    assert files_under(tmp_path / "out") == ["clean.dcm"]


def test_without_verify_the_same_file_is_written_with_the_value_in_it(cli: Cli, tmp_path: Path) -> None:
    inputDir: Path = tree_with(tmp_path, private_add(image_dataset(1), f"internal {PATIENT_ID}"))
    run: CliRun = cli("-I", inputDir, "-O", tmp_path / "out", "-T", json.dumps(RULES))
    assert run.code == 0, run.err
    assert files_under(tmp_path / "out") == ["bad.dcm", "clean.dcm"]
    assert PATIENT_ID.encode() in (tmp_path / "out" / "bad.dcm").read_bytes()


def test_the_summary_and_the_json_record_count_the_files_verified_and_failed(
    cli: Cli, tmp_path: Path
) -> None:
    inputDir: Path = tree_with(tmp_path, private_add(image_dataset(1), PATIENT_ID))
    run: CliRun = verify_run(cli, inputDir, tmp_path / "out", "--json")
    record: dict[str, object] = run.json()["d_tagSub"]  # type: ignore[assignment]
    assert (record["filesVerified"], record["filesVerifyFailed"], record["filesSaved"]) == (1, 1, 1)
    assert "--verify: 2 outputs searched for original values: 1 clean, 1 held one" in run.err


@pytest.mark.parametrize(
    "syntax",
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian],
    ids=["explicit", "implicit", "big-endian", "deflated"],
)
def test_a_planted_value_is_found_and_named_in_every_transfer_syntax(
    cli: Cli, tmp_path: Path, syntax: str
) -> None:
    planted: Dataset = private_add(image_dataset(1, syntax=syntax), f"internal {PATIENT_ID}")
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert "(0009,1001) holds the original PatientID" in hit_line(run)


def test_a_nested_element_is_named_by_its_path(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1)
    item = Dataset()
    item.PatientID = "OTHER-1"
    item.IssuerOfPatientID = f"registry of {PATIENT_ID}"
    inner = Dataset()
    inner.TextValue = f"{FAMILY} family"
    item.ContentSequence = Sequence([inner])
    planted.OtherPatientIDsSequence = Sequence([Dataset(), item])
    planted.PatientName = f"{FAMILY}^JANE"
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    line: str = hit_line(run)
    assert "OtherPatientIDsSequence[1].IssuerOfPatientID holds the original PatientID" in line
    assert "OtherPatientIDsSequence[1].ContentSequence[0].TextValue holds the original PatientName" in line


@pytest.mark.parametrize("dryRun", [False, True], ids=["written", "dry run"])
def test_an_element_deep_in_a_large_sequence_is_named(cli: Cli, tmp_path: Path, dryRun: bool) -> None:
    """A sequence larger than what is read back of the output is read when a hit must be named."""
    planted: Dataset = image_dataset(1)
    items: list[Dataset] = []
    for index in range(2000):
        item = Dataset()
        item.PatientID = f"OTHER{index:05d}"
        item.IssuerOfPatientID = "Regional Registry of Somewhere Far Away"
        items.append(item)
    items[1500].IssuerOfPatientID = f"registry of {PATIENT_ID}"
    planted.OtherPatientIDsSequence = Sequence(items)
    planted["OtherPatientIDsSequence"].is_undefined_length = False
    extra: list[str] = ["--dryRun"] if dryRun else []
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out", *extra)
    expected: str = "--verify: OtherPatientIDsSequence[1500].IssuerOfPatientID holds the original PatientID"
    assert hit_line(run).endswith(expected)


def test_the_file_meta_is_searched(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1)
    planted.file_meta.ImplementationVersionName = PATIENT_ID
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert "FileMetaInformation.ImplementationVersionName holds the original PatientID" in hit_line(run)


# -- what is not a hit ---------------------------------------------------------------------------


def test_digits_inside_a_longer_run_of_digits_are_no_hit(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1, patientID="12345678")
    planted.SeriesInstanceUID = "2.25.991234567899"  # the ID's digits inside a longer number
    planted.FrameOfReferenceUID = "2.25.7720240115331"  # the study date inside a longer number
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert run.code == 0, run.err
    assert files_under(tmp_path / "out") == ["bad.dcm", "clean.dcm"]


@pytest.mark.parametrize(
    ("holder", "expected"),
    [
        ("2.25.12345678.9", "SeriesInstanceUID holds the original PatientID"),
        ("ID:12345678", "StudyDescription holds the original PatientID"),
    ],
)
def test_digits_alone_are_a_hit(cli: Cli, tmp_path: Path, holder: str, expected: str) -> None:
    planted: Dataset = image_dataset(1, patientID="12345678")
    if holder.startswith("2.25."):
        planted.SeriesInstanceUID = holder
    else:
        planted.StudyDescription = holder
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert expected in hit_line(run)


def test_a_date_is_found_where_it_starts_a_date_time(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1)
    planted.AcquisitionDateTime = "20240115101500.000000"
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert "AcquisitionDateTime holds the original StudyDate" in hit_line(run)


def overlay_add(dataset: Dataset, data: bytes) -> None:
    dataset.add_new(0x60000010, "US", 8)
    dataset.add_new(0x60000011, "US", 8)
    dataset.add_new(0x60003000, "OW", data)


def icon_add(dataset: Dataset, data: bytes) -> None:
    icon = Dataset()
    icon.Rows = icon.Columns = 4
    icon.BitsAllocated = 8
    icon.PixelData = data
    dataset.IconImageSequence = Sequence([icon])


def waveform_add(dataset: Dataset, data: bytes) -> None:
    waveform = Dataset()
    waveform.WaveformBitsAllocated = 8
    waveform.WaveformData = data
    dataset.WaveformSequence = Sequence([waveform])


def pixels_add(dataset: Dataset, data: bytes) -> None:
    dataset.PixelData = data


def large_pixels_add(dataset: Dataset, data: bytes) -> None:
    """Pixel data larger than what is read back of the output: only its position is."""
    dataset.Rows = dataset.Columns = 256
    dataset.PixelData = data.ljust(256 * 256 * 2, b"\x00")


def encapsulated_add(dataset: Dataset, data: bytes) -> None:
    """Encapsulated (compressed) pixel data of undefined length, larger than what is read back."""
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    dataset.PixelData = encapsulate([data.ljust(100_000, b"\x01"), data])
    dataset["PixelData"].VR = "OB"


@pytest.mark.parametrize(
    "where",
    [pixels_add, large_pixels_add, encapsulated_add, overlay_add, icon_add, waveform_add],
    ids=lambda add: add.__name__,
)
def test_pixel_overlay_and_waveform_data_holding_the_value_bytes_are_no_hit(
    cli: Cli, tmp_path: Path, where: Callable[[Dataset, bytes], None]
) -> None:
    planted: Dataset = image_dataset(1, size=4)
    where(planted, f"xx{PATIENT_ID}x{FAMILY}".encode().ljust(32, b"x"))
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert run.code == 0, run.err
    assert files_under(tmp_path / "out") == ["bad.dcm", "clean.dcm"]


def test_the_same_bytes_in_another_binary_element_are_a_hit(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = private_add(image_dataset(1), f"xx{PATIENT_ID}xx".encode(), vr="OB")
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert "(0009,1001) holds the original PatientID" in hit_line(run)


def test_an_unchanged_element_is_not_searched_for(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1)
    planted.StudyDescription = planted.InstitutionName  # InstitutionName is not changed by the rules
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert run.code == 0, run.err


# -- the preamble --------------------------------------------------------------------------------


def test_a_tiff_preamble_holding_the_value_is_a_hit(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1)
    planted.preamble = (b"II*\x00" + PATIENT_ID.encode()).ljust(128, b"\x00")
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert "the preamble holds the original PatientID" in hit_line(run)
    assert PATIENT_ID not in run.err


def test_any_other_preamble_is_zeroed_and_so_no_hit(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1)
    planted.preamble = PATIENT_ID.encode().ljust(128, b"\x00")
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert run.code == 0, run.err
    assert (tmp_path / "out" / "bad.dcm").read_bytes()[:128] == bytes(128)


# -- character sets ------------------------------------------------------------------------------


def test_a_non_ascii_value_is_found_in_the_files_character_set(cli: Cli, tmp_path: Path) -> None:
    planted: Dataset = image_dataset(1, patientName="MÜLLER^HANS", charset="ISO_IR 100")
    planted.StudyDescription = "Herr MÜLLER"
    inputDir: Path = tree_with(tmp_path, planted)
    assert "Herr MÜLLER".encode("latin-1") in (inputDir / "bad.dcm").read_bytes()
    run: CliRun = verify_run(cli, inputDir, tmp_path / "out")
    assert "StudyDescription holds the original PatientName" in hit_line(run)
    assert "MÜLLER" not in run.err


def test_a_non_ascii_value_is_found_in_utf8_in_a_file_of_another_character_set(
    cli: Cli, tmp_path: Path
) -> None:
    planted: Dataset = image_dataset(1, patientName="MÜLLER^HANS", charset="ISO_IR 100")
    private_add(planted, "Herr MÜLLER".encode(), vr="OB")
    run: CliRun = verify_run(cli, tree_with(tmp_path, planted), tmp_path / "out")
    assert "(0009,1001) holds the original PatientName" in hit_line(run)


# -- with the run's other modes ------------------------------------------------------------------


def test_a_dry_run_verifies_the_bytes_it_would_write(cli: Cli, tmp_path: Path) -> None:
    inputDir: Path = tree_with(tmp_path, private_add(image_dataset(1), PATIENT_ID))
    run: CliRun = verify_run(cli, inputDir, tmp_path / "out", "--dryRun")
    assert run.code == 1
    assert "(0009,1001) holds the original PatientID" in hit_line(run)
    assert "dry run, nothing written: 2 files found: 2 read, 1 would be written" in run.out + run.err
    assert not (tmp_path / "out").exists()


def test_two_workers_find_what_one_finds(cli: Cli, tmp_path: Path) -> None:
    inputDir: Path = tree_with(tmp_path, private_add(image_dataset(1), PATIENT_ID))
    for number in range(3, 7):
        dataset_save(private_add(image_dataset(number), PATIENT_ID), inputDir / f"more{number}.dcm")
    one: CliRun = verify_run(cli, inputDir, tmp_path / "one", "--threads", "1", "--json")
    two: CliRun = verify_run(cli, inputDir, tmp_path / "two", "--threads", "2", "--json")
    assert one.json()["d_tagSub"]["failed"] == two.json()["d_tagSub"]["failed"]  # type: ignore[index]
    assert files_under(tmp_path / "one") == files_under(tmp_path / "two") == ["clean.dcm"]


def test_the_temporary_file_of_a_hit_is_removed_by_the_job(tmp_path: Path) -> None:
    source: Path = dataset_save(private_add(image_dataset(1), PATIENT_ID), tmp_path / "in" / "bad.dcm")
    temp: Path = tmp_path / "temp"
    temp.mkdir()
    job = FileJob(TagSubOptions(verify=True), rules_compile(RULES), tempDir=str(temp))
    result = job.file_process(FileTask(str(source), str(tmp_path / "out")))
    assert (result.outcome, result.verified, result.tempPath) == ("failed", "failed", "")
    assert list(temp.iterdir()) == []


# -- the example tree and the README rules -------------------------------------------------------


def test_the_example_tree_under_the_readme_rules_holds_the_mrn_in_a_private_element_and_the_hospital_nested(
    cli: Cli, tmp_path: Path
) -> None:
    inputDir: Path = Path(shutil.copytree(EXAMPLES / "dicom", tmp_path / "in"))
    run: CliRun = cli("-I", inputDir, "-O", tmp_path / "out", "-F", EXAMPLES / "anonymize.json", "--verify")
    assert run.code == 1
    assert files_under(tmp_path / "out") == []
    lines: list[str] = error_lines(run.err)
    assert len(lines) == 4
    for line in lines:
        assert line.endswith(
            "not written: --verify: (0009,1001) holds the original PatientID; "
            "OtherPatientIDsSequence[0].IssuerOfPatientID holds the original InstitutionName"
        )
    for path in inputDir.rglob("*.dcm"):
        original: Dataset = pydicom.dcmread(path)
        assert original.PatientID in str(original[0x00091001].value)  # the private copy the rules miss
        assert original.OtherPatientIDsSequence[0].IssuerOfPatientID == original.InstitutionName
        for value in (original.PatientID, str(original.InstitutionName)):
            assert value not in run.err + run.out


def test_the_example_tree_under_the_readme_rules_without_verify_keeps_those_values(
    cli: Cli, tmp_path: Path
) -> None:
    run: CliRun = cli("-I", EXAMPLES / "dicom", "-O", tmp_path / "out", "-F", EXAMPLES / "anonymize.json")
    assert run.code == 0, run.err
    output: Dataset = dcm(tmp_path / "out" / "PAT001" / "MR_T1_axial" / "IM0001.dcm")
    assert "MRN000123" in str(output[0x00091001].value)
    assert output.OtherPatientIDsSequence[0].IssuerOfPatientID == "Princeton General Hospital"


def test_every_element_position_read_from_pydicoms_files_is_just_after_its_own_header() -> None:
    """The positions that name a hit's element, checked against the bytes: the element's tag
    stands 8 or 12 bytes before its value (short or long header), for every element at every depth."""
    warnings.simplefilter("ignore")
    checked: int = 0
    for name in get_testdata_files():  # a pattern would look for the files pydicom downloads
        if not Path(name).is_file():
            continue
        data: bytes = Path(name).read_bytes()
        try:
            parts = layout_read(data).parts
        except Exception:  # pydicom cannot read a few of its own broken test files
            continue
        for part in parts:
            for span in part.spans(deep=True):
                tags: set[bytes] = {
                    (span.tag >> 16).to_bytes(2, order) + (span.tag & 0xFFFF).to_bytes(2, order)
                    for order in ("little", "big")
                }
                assert {
                    part.data[span.start - 8 : span.start - 4],
                    part.data[span.start - 12 : span.start - 8],
                } & tags
                checked += 1
    assert checked > 10_000
