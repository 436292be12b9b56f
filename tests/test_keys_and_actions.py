"""Tag keys, private-creator keys and the actions ``%_remove``, ``%_keep`` and ``%_dummy``, on files."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pydicom
import pytest
from pydicom import config as pydicomConfig
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, SecondaryCaptureImageStorage
from pydicom.valuerep import validate_value

from tests.conftest import CliRun, tree_make
from tests.safety_support import error_lines

SECRET: bytes = b"actions test key, 32 bytes long!"
CREATOR: str = "ACME 1.1"


def dataset_make(**elements: object) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "2.25.1"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = "2.25.1"
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MRN000123"
    ds.PatientSex = "F"
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def nested_make() -> Dataset:
    """Identifiers at three depths: top level, an OtherPatientIDsSequence item, an item within it."""
    inner = Dataset()
    inner.PatientID = "INNER-ID"
    inner.ReferringPhysicianName = "INNER^DOCTOR"
    middle = Dataset()
    middle.PatientID = "MIDDLE-ID"
    middle.ReferringPhysicianName = "MIDDLE^DOCTOR"
    middle.OtherPatientIDsSequence = Sequence([inner])
    return dataset_make(ReferringPhysicianName="TOP^DOCTOR", OtherPatientIDsSequence=Sequence([middle]))


@pytest.fixture
def keyFile(tmp_path: Path) -> Path:
    path: Path = tmp_path / "actions.key"
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def substitute(tmp_path: Path, cli, keyFile: Path):
    """Run rules over datasets; return (CliRun, {name: output Dataset or None})."""

    def run(datasets: dict[str, Dataset], rules: dict[str, str], *extra: object):
        tree_make(tmp_path / "in", datasets)  # type: ignore[arg-type]
        result: CliRun = cli(
            tmp_path / "in",
            tmp_path / "out",
            "-T",
            json.dumps(rules),
            "--keyFile",
            keyFile,
            "--overwrite",
            *extra,
        )
        outputs: dict[str, Dataset | None] = {}
        for name in datasets:
            path: Path = tmp_path / "out" / name
            outputs[name] = pydicom.dcmread(path) if path.exists() else None
        return result, outputs

    return run


def test_tag_keys_name_elements_by_number_in_either_case(substitute) -> None:
    rules: dict[str, str] = {"(0010,0020)": "%_hash|8_PatientID", "(0008,0080)": "#tag", "(0012,0062)": "YES"}
    run, out = substitute({"a.dcm": dataset_make(InstitutionName="JFK")}, {**rules, "(0010,0010)": "X^Y"})
    assert run.code == 0, run.err
    assert out["a.dcm"].PatientID == hmac.new(SECRET, b"MRN000123", hashlib.sha256).hexdigest()[:8]
    assert out["a.dcm"].InstitutionName == "InstitutionName"
    assert out["a.dcm"].PatientIdentityRemoved == "YES"  # created, as a keyword rule would
    assert out["a.dcm"].PatientName == "X^Y"
    lower, _ = substitute({"a.dcm": dataset_make()}, {"(0010,0010)": "%_dummy", "(0009,10aa)": "%_remove"})
    assert lower.code == 0, lower.err


def private_file(blocks: dict[int, str], values: dict[int, str]) -> Dataset:
    """A file whose private creators sit at the given blocks of group 0009, with values by element."""
    ds = dataset_make()
    for block, creator in blocks.items():
        ds.add_new(0x00090000 | block, "LO", creator)
    for tag, value in values.items():
        ds.add_new(tag, "LO", value)
    return ds


def test_a_private_creator_key_finds_its_element_in_whatever_block_each_file_gives_the_creator(
    substitute,
) -> None:
    first: Dataset = private_file({0x10: CREATOR}, {0x00091001: "MRN000123", 0x00091002: "kept"})
    second: Dataset = private_file(
        {0x10: "OTHER VENDOR", 0x11: CREATOR}, {0x00091001: "not ours", 0x00091101: "MRN000123"}
    )
    item = Dataset()  # in a nested item, the creator at a third block
    item.add_new(0x00090012, "LO", CREATOR)
    item.add_new(0x00091201, "LO", "MRN000123")
    second.OtherPatientIDsSequence = Sequence([item])
    key: str = f'(0009,"{CREATOR}",01)'
    run, out = substitute({"first.dcm": first, "second.dcm": second}, {key: "%_remove"})
    assert run.code == 0, run.err
    assert 0x00091001 not in out["first.dcm"] and out["first.dcm"][0x00091002].value == "kept"
    assert 0x00091101 not in out["second.dcm"] and out["second.dcm"][0x00091001].value == "not ours"
    assert 0x00091201 not in out["second.dcm"].OtherPatientIDsSequence[0]
    assert out["second.dcm"][0x00090011].value == CREATOR  # the creator itself stays
    replaced, out = substitute({"first.dcm": first, "second.dcm": second}, {key: "%_hash|8_#tag"})
    assert replaced.code == 0, replaced.err
    pseudonym: str = hmac.new(SECRET, b"MRN000123", hashlib.sha256).hexdigest()[:8]
    assert out["first.dcm"][0x00091001].value == pseudonym
    assert out["second.dcm"][0x00091101].value == pseudonym
    assert out["second.dcm"][0x00091001].value == "not ours"


def test_a_private_creator_key_works_in_tag_info_too(tmp_path: Path, cli, keyFile: Path) -> None:
    tree_make(tmp_path / "in", {"a.dcm": private_file({0x10: CREATOR}, {0x00091001: "MRN000123"})})
    run: CliRun = cli(
        tmp_path / "in", tmp_path / "out", "-n", f'(0009,"{CREATOR}",01),%_remove ++ PatientSex,O'
    )
    assert run.code == 0, run.err
    assert 0x00091001 not in pydicom.dcmread(tmp_path / "out" / "a.dcm")


def test_remove_deletes_the_element_at_every_depth(substitute) -> None:
    run, out = substitute({"a.dcm": nested_make()}, {"PatientID": "%_remove", "re:.*hysician": "%_remove"})
    assert run.code == 0, run.err
    ds: Dataset = out["a.dcm"]
    middle: Dataset = ds.OtherPatientIDsSequence[0]
    for level in (ds, middle, middle.OtherPatientIDsSequence[0]):
        assert "PatientID" not in level and "ReferringPhysicianName" not in level
    assert ds.PatientName == "DOE^JANE"


def test_a_removed_sequence_goes_whole_and_is_not_visited(substitute, tmp_path: Path, cli, keyFile) -> None:
    rules: dict[str, str] = {"OtherPatientIDsSequence": "%_remove", "PatientID": "X"}
    run, out = substitute({"a.dcm": nested_make()}, rules)
    assert run.code == 0, run.err
    assert "OtherPatientIDsSequence" not in out["a.dcm"] and out["a.dcm"].PatientID == "X"
    dry: CliRun = cli(
        tmp_path / "in", tmp_path / "dry", "-T", json.dumps(rules), "--dryRun", "--json", "-v", "0"
    )
    changes = dry.json()["d_tagSub"]["plan"][0]["changes"]
    assert [(change["path"], change["action"]) for change in changes] == [
        ("PatientID", "replace"),
        ("OtherPatientIDsSequence", "remove"),
    ]


def test_keep_beats_every_regex_whatever_the_order(substitute) -> None:
    rules: dict[str, str] = {"re:PatientSex": "%_keep", "re:Patient": "%_dummy", "re:.*Name$": "ANON"}
    run, out = substitute({"a.dcm": dataset_make(PatientBirthDate="19800315")}, rules)
    assert run.code == 0, run.err
    ds: Dataset = out["a.dcm"]
    assert (ds.PatientSex, ds.PatientID, ds.PatientBirthDate, ds.PatientName) == (
        "F",
        "ANONYMIZED",
        "19000101",
        "ANON",
    )
    explicit, out = substitute({"a.dcm": dataset_make()}, {"re:Patient": "%_dummy", "PatientName": "%_keep"})
    assert (
        explicit.code == 0
        and out["a.dcm"].PatientName == "DOE^JANE"
        and out["a.dcm"].PatientID == "ANONYMIZED"
    )


# one element of each VR of the README's dummy table, with its dummy as the README gives it
DUMMY_TABLE: dict[str, tuple[str, object, str]] = {
    "StationAETitle": ("AE", "STATION1", "ANONYMIZED"),
    "PatientAge": ("AS", "045Y", "000D"),
    "Modality": ("CS", "CT", "ANONYMIZED"),
    "StudyDate": ("DA", "20240110", "19000101"),
    "PatientSize": ("DS", "1.75", "0"),
    "AcquisitionDateTime": ("DT", "20240110101500", "19000101000000"),
    "EventTimeOffset": ("FD", 1.5, "0"),
    "ExaminedBodyThickness": ("FL", 1.5, "0"),
    "InstanceNumber": ("IS", "7", "0"),
    "InstitutionName": ("LO", "General Hospital", "ANONYMIZED"),
    "AdditionalPatientHistory": ("LT", "history", "ANONYMIZED"),
    "ReferringPhysicianName": ("PN", "HOUSE^GREGORY", "ANONYMIZED"),
    "AccessionNumber": ("SH", "ACC0001", "ANONYMIZED"),
    "ReferencePixelX0": ("SL", -5, "0"),
    "TagAngleSecondAxis": ("SS", -5, "0"),
    "InstitutionAddress": ("ST", "1 Hospital Road", "ANONYMIZED"),
    "SelectorSVValue": ("SV", -5, "0"),
    "StudyTime": ("TM", "101500", "000000"),
    "LongCodeValue": ("UC", "code", "ANONYMIZED"),
    "NumberOfWaveformSamples": ("UL", 5, "0"),
    "RetrieveURL": ("UR", "http://pacs.example.org/wado", "ANONYMIZED"),
    "Rows": ("US", 5, "0"),
    "StrainAdditionalInformation": ("UT", "text", "ANONYMIZED"),
    "SelectorUVValue": ("UV", 5, "0"),
    "StudyInstanceUID": ("UI", "1.2.826.0.1.3680043.10.999.1", ""),
}


def test_dummy_gives_each_vr_of_the_readme_table_its_value_and_the_file_stays_valid(substitute) -> None:
    assert {dictionary_VR(tag_for_keyword(keyword)) for keyword in DUMMY_TABLE} == {
        vr for vr, _value, _dummy in DUMMY_TABLE.values()
    }
    assert len(DUMMY_TABLE) == 25
    ds: Dataset = dataset_make(**{keyword: value for keyword, (_vr, value, _dummy) in DUMMY_TABLE.items()})
    run, out = substitute({"a.dcm": ds}, dict.fromkeys(DUMMY_TABLE, "%_dummy"))
    assert run.code == 0, run.err
    written: Dataset = out["a.dcm"]
    for keyword, (vr, value, dummy) in DUMMY_TABLE.items():
        element = written[keyword]
        assert vr == element.VR
        text: str = str(element.value)
        binary: bool = vr in ("FD", "FL", "SL", "SS", "SV", "UL", "US", "UV")
        validate_value(vr, element.value if binary else text, pydicomConfig.RAISE)
        if vr == "UI":
            digest: bytes = hmac.new(SECRET, str(value).encode(), hashlib.sha256).digest()
            dummy = "2.25." + str(10**58 + int.from_bytes(digest, "big") % (9 * 10**58))
        elif binary:
            text = str(int(element.value))
        assert text == dummy, keyword


def test_dummy_on_an_element_without_one_is_exit_2_for_a_key_and_a_file_error_for_a_regex(
    substitute, tmp_path: Path, cli
) -> None:
    tree_make(tmp_path / "in", {"a.dcm": nested_make()})
    explicit: CliRun = cli(tmp_path / "in", tmp_path / "x", "-T", '{"OtherPatientIDsSequence": "%_dummy"}')
    assert explicit.code == 2
    assert "there is no dummy value for OtherPatientIDsSequence, a SQ element" in explicit.err
    ds: Dataset = dataset_make(SelectorATValue=[0x00100010])
    run, out = substitute({"a.dcm": ds}, {"re:Selector": "%_dummy"})
    assert run.code == 1 and out["a.dcm"] is None
    assert error_lines(run.err)[0].endswith(
        "a.dcm: not written: SelectorATValue (AT): there is no dummy value for AT; "
        'rule "re:Selector": "%_dummy"'
    )


def test_a_regex_dummy_on_a_sequence_visits_its_items(substitute) -> None:
    run, out = substitute(
        {"a.dcm": nested_make()}, {"re:OtherPatientIDs": "%_dummy", "re:.*hysician": "%_dummy"}
    )
    assert run.code == 0, run.err
    middle: Dataset = out["a.dcm"].OtherPatientIDsSequence[0]
    assert middle.ReferringPhysicianName == "ANONYMIZED"
    assert middle.OtherPatientIDsSequence[0].ReferringPhysicianName == "ANONYMIZED"


def test_an_unknown_creator_s_element_in_an_implicit_vr_file_can_be_removed_but_not_given_a_value(
    tmp_path: Path, cli, keyFile: Path
) -> None:
    ds: Dataset = private_file({0x10: "UNKNOWN VENDOR"}, {0x00091001: "MRN000123"})
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "a.dcm", enforce_file_format=True)
    key: str = '(0009,"UNKNOWN VENDOR",01)'
    removed: CliRun = cli(tmp_path / "in", tmp_path / "out", "-T", json.dumps({key: "%_remove"}))
    assert removed.code == 0, removed.err
    assert 0x00091001 not in pydicom.dcmread(tmp_path / "out" / "a.dcm")
    valued: CliRun = cli(
        tmp_path / "in", tmp_path / "x", "-T", json.dumps({key: "%_hash|8_#tag"}), "--keyFile", keyFile
    )
    assert valued.code == 1
    assert "not written: (0009,1001) (UN): (0009,1001) is binary and has no text form; rule" in valued.err
    assert "MRN000123" not in valued.err
