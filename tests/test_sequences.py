"""sequences.py: a sequence's items however pydicom read it, and the data set a change's steps lead to."""

from __future__ import annotations

from io import BytesIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ImplicitVRLittleEndian

from pfdicom_tagSub.models import Change
from pfdicom_tagSub.sequences import dataset_at, element_isSequence, sequence_items


def implicit_withPrivateSequence() -> Dataset:
    """An implicit-VR data set, read back, holding a private sequence of an unknown creator."""
    ds = Dataset()
    ds.PatientID = "MRN000123"
    item = Dataset()
    item.PatientName = "DOE^JANE"
    block = ds.private_block(0x0029, "UNKNOWN CREATOR 1", create=True)
    block.add_new(0x01, "SQ", Sequence([item]))
    stream = BytesIO()
    ds.save_as(stream, implicit_vr=True, little_endian=True)
    stream.seek(0)
    read = pydicom.dcmread(stream, force=True)
    read.file_meta = pydicom.dataset.FileMetaDataset()
    read.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return read


def test_a_private_sequence_read_as_bytes_gives_its_items_and_keeps_its_bytes() -> None:
    ds = implicit_withPrivateSequence()
    tag = Tag(0x00291001)
    items = sequence_items(ds, tag)
    assert items is not None and str(items[0].PatientName) == "DOE^JANE"
    assert element_isSequence(ds, tag)
    assert sequence_items(ds, Tag(0x00100020)) is None and not element_isSequence(ds, Tag(0x00100020))


def test_the_steps_of_a_change_lead_into_the_private_sequence_s_item() -> None:
    ds = implicit_withPrivateSequence()
    change = Change("(0029,1001)[0].PatientName", 0x00100010, "PatientName", "PN", "replace", "DOE^JANE", "",
                    "rule", ((0x00291001, 0),))  # fmt: skip
    assert str(dataset_at(ds, change).PatientName) == "DOE^JANE"
