"""Planning: rules become a list of changes, as values, and the data set is not touched until applied."""

from __future__ import annotations

from io import BytesIO

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from pfdicom_tagSub.errors import ValueInvalidError
from pfdicom_tagSub.models import Change
from pfdicom_tagSub.plan import changes_apply, plan
from pfdicom_tagSub.rules import rules_compile
from pfdicom_tagSub.sequences import dataset_at
from pfdicom_tagSub.values import element_text
from tests.conftest import README_RULES, pydicomFile


def dataset_bytes(dataset: Dataset) -> bytes:
    stream = BytesIO()
    dataset.save_as(stream, enforce_file_format=False)
    return stream.getvalue()


def nested_dataset() -> Dataset:
    """A patient with an OtherPatientIDsSequence item and a private element."""
    dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 100"
    dataset.PatientName = "DOE^JANE"
    dataset.PatientID = "MRN000123"
    dataset.SOPInstanceUID = "1.2.3.4"
    item = Dataset()
    item.PatientID = "A-778899"
    item.PatientName = "DOE^JANE"
    dataset.OtherPatientIDsSequence = Sequence([item])
    block = dataset.private_block(0x0009, "ACME 1.1", create=True)
    block.add_new(0x01, "LO", "MRN000123")
    return dataset


def test_planning_changes_nothing_and_applying_writes_exactly_the_plan() -> None:
    dataset = pydicom.dcmread(pydicomFile("CT_small.dcm"))
    before: bytes = dataset_bytes(dataset)
    planned = plan(dataset, rules_compile(README_RULES), topLevelOnly=False, removePrivate=False).changes
    assert dataset_bytes(dataset) == before
    changes_apply(dataset, planned)
    for change in planned:
        if change.action == "replace" and not change.meta:
            assert element_text(dataset_at(dataset, change)[change.tag].value) == change.new


def test_the_readme_rules_plan_the_reference_values_on_ct_small() -> None:
    dataset = pydicom.dcmread(pydicomFile("CT_small.dcm"))
    changes = plan(dataset, rules_compile(README_RULES), False, False).changes
    byPath: dict[str, Change] = {change.path: change for change in changes}
    assert (byPath["PatientName"].old, byPath["PatientName"].new) == (
        "CompressedSamples^CT1",
        "BROWN^STACY^ANON",
    )
    assert (byPath["PatientID"].old, byPath["PatientID"].new) == ("1CT1", "6609f5d")
    assert (byPath["AccessionNumber"].old, byPath["AccessionNumber"].new) == ("", "d41d8cd9")
    assert byPath["InstitutionName"].rule == "re:.*stitution"
    assert byPath["PatientName"].vr == "PN" and byPath["PatientName"].tag == 0x00100010


def test_nested_changes_name_their_path_and_steps() -> None:
    dataset = nested_dataset()
    changes = plan(dataset, rules_compile({"PatientID": "X-%PatientID"}), False, False).changes
    assert [(change.path, change.old, change.new, change.steps) for change in changes] == [
        ("PatientID", "MRN000123", "X-MRN000123", ()),
        ("OtherPatientIDsSequence[0].PatientID", "A-778899", "X-A-778899", ((0x00101002, 0),)),
    ]


def test_remove_private_tags_plans_a_removal_per_private_element_with_its_old_text() -> None:
    changes = plan(nested_dataset(), rules_compile({}), False, removePrivate=True).changes
    assert [(change.path, change.action, change.old, change.new, change.rule) for change in changes] == [
        ("(0009,0010)", "remove", "ACME 1.1", None, "--removePrivateTags"),
        ("(0009,1001)", "remove", "MRN000123", None, "--removePrivateTags"),
    ]


def test_an_absent_target_is_planned_as_created_and_the_meta_follows_a_new_sop_instance_uid() -> None:
    dataset = nested_dataset()
    dataset.file_meta = pydicom.dataset.FileMetaDataset()
    dataset.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    changes = plan(
        dataset, rules_compile({"PatientIdentityRemoved": "YES", "SOPInstanceUID": "1.2.3.5"}), False, False
    )
    described = [
        (change.path, change.action, change.old, change.new, change.meta) for change in changes.changes
    ]
    assert described == [
        ("SOPInstanceUID", "replace", "1.2.3.4", "1.2.3.5", False),
        ("PatientIdentityRemoved", "create", None, "YES", False),
        ("FileMetaInformation.MediaStorageSOPInstanceUID", "replace", "1.2.3.4", "1.2.3.5", True),
    ]
    changes_apply(dataset, changes.changes)
    assert dataset.PatientIdentityRemoved == "YES"
    assert dataset.file_meta.MediaStorageSOPInstanceUID == "1.2.3.5"


def test_a_result_invalid_for_its_vr_fails_the_plan_naming_path_vr_and_rule() -> None:
    with pytest.raises(ValueInvalidError) as caught:
        plan(nested_dataset(), rules_compile({"StudyID": "%PatientName-%PatientName"}), False, False)
    assert (
        caught.value.safe
        == 'StudyID (SH): result is 17 characters, more than 16; rule "StudyID": "%PatientName-%PatientName"'
    )
    assert "DOE^JANE" not in caught.value.safe and "DOE^JANE-DOE^JANE" in caught.value.message


def test_a_profile_plans_its_rows_then_its_four_elements_and_remaps_a_lone_media_storage_uid() -> None:
    from pfdicom_tagSub.functions import Context
    from pfdicom_tagSub.keys import Key
    from pfdicom_tagSub.profiles import profile_build

    dataset = nested_dataset()
    del dataset.SOPInstanceUID
    dataset.file_meta = pydicom.dataset.FileMetaDataset()
    dataset.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ruleset = rules_compile({}, profile_build("basic", "9.9.9"))
    planned = plan(dataset, ruleset, False, False, Context(Key(b"0123456789abcdef"))).changes
    described = [(change.path, change.action, change.rule) for change in planned]
    assert described == [
        ("PatientName", "replace", "E.1-1 Z"),
        ("PatientID", "replace", "E.1-1 Z/D"),
        ("OtherPatientIDsSequence", "remove", "E.1-1 X"),
        ("(0009,0010)", "remove", "E.1-1 X"),
        ("(0009,1001)", "remove", "E.1-1 X"),
        ("PatientIdentityRemoved", "create", "--profile"),
        ("DeidentificationMethod", "create", "--profile"),
        ("DeidentificationMethodCodeSequence", "create", "--profile"),
        ("LongitudinalTemporalInformationModified", "create", "--profile"),
        ("FileMetaInformation.MediaStorageSOPInstanceUID", "replace", "E.1-1 U"),
    ]
    changes_apply(dataset, planned)
    assert dataset.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert dataset.file_meta.MediaStorageSOPInstanceUID.startswith("2.25.")
