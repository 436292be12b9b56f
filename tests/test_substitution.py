"""What a rule does to a file: precedence, #tag, absent references, numbers, nested sequences, VR checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.conftest import dcm, pydicomFile, tree_make

SOP_CLASS: str = "1.2.840.10008.5.1.4.1.1.7"


def md5(text: str, count: int) -> str:
    return hashlib.md5(text.encode()).hexdigest()[:count]


def dataset_build(**elements: object) -> Dataset:
    """A small secondary-capture-like file with the given top-level elements."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SOP_CLASS
    ds.SOPClassUID = SOP_CLASS
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["sop", str(sorted(elements))])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MRN123"
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def nested_build() -> Dataset:
    """A file with identifiers in a nested sequence, two levels deep."""
    inner = Dataset()
    inner.PatientID = "INNER-ID"
    inner.PatientName = "INNER^NAME"
    other = Dataset()
    other.PatientID = "OTHER-ID"
    other.IssuerOfPatientID = "HOSPITAL"
    other.OtherPatientIDsSequence = Sequence([inner])
    ds = dataset_build()
    ds.OtherPatientIDsSequence = Sequence([other])
    return ds


@pytest.fixture
def substitute(tmp_path: Path, cli):
    """Run rules over one dataset; return (CliRun, output Dataset or None)."""

    def run(dataset: Dataset, rules: dict[str, str], *extra: str):
        tree_make(tmp_path / "in", {"f.dcm": dataset})
        result = cli(tmp_path / "in", tmp_path / "out", "-T", json.dumps(rules), *extra)
        output = tmp_path / "out" / "f.dcm"
        return result, dcm(output) if output.exists() else None

    return run


def test_an_explicit_key_beats_a_regex_on_the_same_element(substitute) -> None:
    ds = dataset_build(ReferringPhysicianName="HOUSE^G", PerformingPhysicianName="CUDDY^L")
    run, out = substitute(ds, {"ReferringPhysicianName": "EXPLICIT", "re:.*hysician": "REGEX"})
    assert run.code == 0
    assert out.ReferringPhysicianName == "EXPLICIT"
    assert out.PerformingPhysicianName == "REGEX"


def test_hash_tag_works_in_an_explicit_key(substitute) -> None:
    run, out = substitute(dataset_build(InstitutionName="JFK"), {"InstitutionName": "anon-#tag"})
    assert (run.code, out.InstitutionName) == (0, "anon-InstitutionName")


def test_every_rule_reads_the_file_as_it_was_read_not_another_rule_result(substitute) -> None:
    run, out = substitute(
        dataset_build(), {"PatientID": "%_md5|7_PatientID", "OtherPatientIDs": "%PatientID"}
    )
    assert run.code == 0
    assert out.PatientID == md5("MRN123", 7)
    assert out.OtherPatientIDs == "MRN123"


def test_an_absent_reference_skips_the_rule_and_writes_no_template_text(substitute) -> None:
    run, out = substitute(
        dataset_build(), {"PatientComments": "age %PatientAge", "PatientName": "X-%PatientAge"}
    )
    assert run.code == 0
    assert "PatientComments" not in out
    assert out.PatientName == "DOE^JANE"
    assert "rule 'PatientName' not applied in 1 file: PatientAge absent" in run.err


def test_an_absent_target_with_present_references_is_created(substitute) -> None:
    run, out = substitute(
        dataset_build(), {"PatientIdentityRemoved": "YES", "DeidentificationMethod": "%PatientID"}
    )
    assert run.code == 0
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethod == "MRN123"


def test_numeric_and_multi_valued_sources_are_used_in_dicom_text_form(substitute) -> None:
    ds = dataset_build(Rows=512, PixelSpacing=["0.5", "0.625"], ImageType=["ORIGINAL", "PRIMARY"])
    rules = {"StudyDescription": "%Rows rows", "Columns": "%Rows", "ImageType": "%ImageType\\DERIVED"}
    run, out = substitute(ds, {**rules, "PixelSpacing": "%PixelSpacing"})
    assert run.code == 0, run.err
    assert out.StudyDescription == "512 rows"
    assert out.Columns == 512
    assert list(out.ImageType) == ["ORIGINAL", "PRIMARY", "DERIVED"]
    assert [str(value) for value in out.PixelSpacing] == ["0.5", "0.625"]


def test_a_multi_valued_source_in_a_single_valued_target_is_refused_not_split(substitute) -> None:
    run, out = substitute(
        dataset_build(ImageType=["ORIGINAL", "PRIMARY"]), {"StudyDescription": "%ImageType"}
    )
    assert run.code == 1 and out is None
    assert "result is 2 values, where the dictionary allows 1" in run.err


def test_bundled_file_numbers_pass_through_templates(tmp_path: Path, cli) -> None:
    tree_make(tmp_path / "in", {"CT_small.dcm": pydicomFile("CT_small.dcm")})
    rules = {
        "StudyDescription": "%Rows x %Columns, %SliceThickness mm",
        "ImageComments": "%ImagePositionPatient",
    }
    run = cli(tmp_path / "in", tmp_path / "out", "-T", json.dumps(rules))
    assert run.code == 0, run.err
    out = dcm(tmp_path / "out" / "CT_small.dcm")
    assert out.StudyDescription == "128 x 128, 5.000000 mm"
    assert out.ImageComments == "-158.135803\\-179.035797\\-75.699997"


def test_nested_identifiers_are_replaced_at_every_depth_reading_the_innermost_item_first(substitute) -> None:
    run, out = substitute(nested_build(), {"PatientID": "%_md5|6_PatientID", "PatientName": "%PatientID"})
    assert run.code == 0
    other = out.OtherPatientIDsSequence[0]
    inner = other.OtherPatientIDsSequence[0]
    assert out.PatientID == md5("MRN123", 6)
    assert other.PatientID == md5("OTHER-ID", 6)
    assert inner.PatientID == md5("INNER-ID", 6)
    assert out.PatientName == "MRN123"
    assert inner.PatientName == "INNER-ID"
    assert other.IssuerOfPatientID == "HOSPITAL"


def test_top_level_only_leaves_nested_identifiers(substitute) -> None:
    run, out = substitute(nested_build(), {"PatientID": "%_md5|6_PatientID"}, "--topLevelOnly")
    assert run.code == 0
    assert out.PatientID == md5("MRN123", 6)
    assert out.OtherPatientIDsSequence[0].PatientID == "OTHER-ID"
    assert out.OtherPatientIDsSequence[0].OtherPatientIDsSequence[0].PatientID == "INNER-ID"


def test_a_sequence_hit_by_a_regex_is_skipped_and_its_items_visited(substitute) -> None:
    run, out = substitute(nested_build(), {"re:OtherPatientIDs": "X", "re:PatientID": "Y"})
    assert run.code == 0
    assert out.OtherPatientIDsSequence[0].PatientID == "Y"
    assert out.PatientID == "Y"


@pytest.mark.parametrize(
    ("keyword", "value", "vr", "why"),
    [
        ("PatientBirthDate", "1980-03-15", "DA", "result is not a date, YYYYMMDD"),
        ("Rows", "many", "US", "result is not a number, which US holds"),
        ("Rows", "70000", "US", "result is out of the US range, 0 to 65535"),
        ("StudyInstanceUID", "1.2.abc", "UI", "result is not a UID"),
        ("Modality", "mr", "CS", "result is not a code string"),
        ("PatientID", "x" * 65, "LO", "result is 65 characters, more than 64"),
        ("PatientSex", "M\\F", "CS", "result is 2 values, where the dictionary allows 1"),
        ("StudyDescription", "two\nlines", "LO", "control character U+000A is not allowed in LO"),
    ],
)
def test_a_result_invalid_for_its_vr_is_refused_and_the_file_named(
    substitute, keyword: str, value: str, vr: str, why: str
) -> None:
    run, out = substitute(
        dataset_build(PatientBirthDate="19800315", Rows=8, StudyInstanceUID="1.2.3"), {keyword: value}
    )
    assert run.code == 1
    assert out is None
    line = next(line for line in run.err.splitlines() if line.startswith("pfdicom_tagSub: error:"))
    assert f"f.dcm: not written: {keyword} ({vr}): {why}" in line
    assert f"rule {json.dumps(keyword)}: {json.dumps(value)}" in line


def test_text_the_character_set_cannot_hold_is_refused_and_text_it_can_is_written(
    substitute, tmp_path: Path
) -> None:
    run, out = substitute(dataset_build(), {"PatientComments": "Zoë Ødegård"})
    assert run.code == 1 and out is None
    assert "characters not in the file's character set (ascii)" in run.err
    latin = dataset_build(SpecificCharacterSet="ISO_IR 100")
    tree_make(tmp_path / "latin", {"f.dcm": latin})
    run, out = substitute(latin, {"PatientComments": "Zoë Ødegård"})
    assert run.code == 0
    assert out.PatientComments == "Zoë Ødegård"
    assert "Zo\xeb \xd8deg\xe5rd".encode("latin-1") in (tmp_path / "out" / "f.dcm").read_bytes()


def test_media_storage_sop_instance_uid_follows_a_changed_sop_instance_uid(substitute) -> None:
    run, out = substitute(dataset_build(), {"SOPInstanceUID": "2.25.20261124"})
    assert run.code == 0
    assert out.SOPInstanceUID == "2.25.20261124"
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_remove_private_tags_removes_them_at_every_depth(substitute) -> None:
    ds = nested_build()
    ds.private_block(0x0009, "ACME", create=True).add_new(0x01, "LO", "secret")
    ds.OtherPatientIDsSequence[0].private_block(0x0011, "ACME", create=True).add_new(
        0x02, "LO", "inner secret"
    )
    run, out = substitute(ds, {}, "--removePrivateTags")
    assert run.code == 0
    kept = [element.tag for element in out.iterall() if element.tag.is_private]
    assert kept == []
    run, out = substitute(ds, {"PatientIdentityRemoved": "YES"}, "--overwrite")
    assert len([element for element in out.iterall() if element.tag.is_private]) == 4


def test_untargeted_content_and_pixel_data_are_kept_byte_for_byte(tmp_path: Path, cli) -> None:
    source = pydicomFile("MR_small.dcm")
    tree_make(tmp_path / "in", {"MR_small.dcm": source})
    run = cli(tmp_path / "in", tmp_path / "out", "-T", '{"PatientID": "X"}')
    assert run.code == 0
    before, after = dcm(source), dcm(tmp_path / "out" / "MR_small.dcm")
    assert after.PixelData == before.PixelData
    assert after.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID
    assert after.preamble == before.preamble
    changed = [elem.keyword for elem in before if elem.tag.group != 0 and after.get(elem.tag) != elem]
    assert changed == ["PatientID"]
