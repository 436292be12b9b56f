"""The header-only way through a file: pydicom reads, plans and writes the header; the pixel data
and what follows it are copied from the input, in the kernel.

A file whose pixel data no rule can reach is read by pydicom up to its top-level pixel data
(``PixelStop``); where the pixel data ends is found from its length, or for encapsulated data
by walking its item headers (``pixels``), and the elements after it, if any, are read too, so
that the rules see every element but the pixel data. When the plan leaves the pixel data and
everything after it untouched, the header is written as pydicom writes it (``splice``) and the
rest of the input is appended to it by the kernel: memory stays flat whatever the file's size,
and the output is byte for byte what the whole read would write. Whatever the header-only way
does not cover (no file meta, a deflated or private transfer syntax, odd-length or unusual
pixel data, a change at or after the pixel data, elements after it that pydicom would write
otherwise, a file cut short) is left to the whole read, which judges the file as it always has.

Key components:
    - rules_reachPixels: whether a run's rules or output names can read or change pixel data
    - PixelStop: pydicom's ``stop_when`` that stops before the top-level pixel data
    - HeaderFile, headerFile_read: a file read up to its pixel data, or None for the whole read
    - HeaderFile.fits, HeaderFile.encode, HeaderFile.write: the checks and the write
    - WholeReadNeeded: raised where the header-only way gives a file to the whole read

Typical usage:
    header = headerFile_read(path)
    if header is not None and header.fits(changes) and (data := header.encode(dataset)) is not None:
        tempPath = header.write(data, tempDir, finalPath)

Dependencies:
    - pydicom, to read and to write
    - pfdicom_tagSub.pixels, splice, output, rules, models
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.filereader import read_dataset, read_partial
from pydicom.tag import BaseTag
from pydicom.uid import UID

from pfdicom_tagSub.bounds import DEFLATED_UID, FileReader, depth_check
from pfdicom_tagSub.models import Change, Template
from pfdicom_tagSub.output import temp_write
from pfdicom_tagSub.pixels import PIXEL_TAGS, PixelSpan, pixelSpan_read
from pfdicom_tagSub.profiles import Profile
from pfdicom_tagSub.rules import RuleSet
from pfdicom_tagSub.splice import element_range, header_splice, range_copy
from pfdicom_tagSub.whole import (
    DELIMITER_BYTES,
    dataset_checkComplete,
    dataset_checkWhole,
    dataset_hasContent,
)

PREAMBLE_BYTES: int = 128
DICOM_PREFIX: bytes = b"DICM"
HEAD_BYTES: int = 1024  # the preamble, and enough of the file meta to see its transfer syntax
PIXEL_GROUP: int = 0x7FE0
PIXEL_WORD: str = "pixeldata"  # PixelData, FloatPixelData, DoubleFloatPixelData, in any case
NOT_IN_DATA_SET: frozenset[int] = frozenset({0x0000, 0x0002})  # dcmwrite refuses these groups there


class WholeReadNeeded(Exception):
    """The header-only way does not cover this file: the whole read takes it."""


def rules_reachPixels(ruleset: RuleSet, stem: Template | None) -> bool:
    """Whether a rule, or the output name, may read or change pixel data: then every file is read
    whole. Decided once per run, from the rules' keys and values.

    Example:
        >>> from pfdicom_tagSub.rules import rules_compile
        >>> rules_reachPixels(rules_compile({"PatientID": "%_md5|7_PatientID"}), None)
        False
        >>> rules_reachPixels(rules_compile({"re:.*Data$": "%_remove"}), None)
        True
    """
    for rule in ruleset.rules:
        if rule.tag in PIXEL_TAGS or PIXEL_WORD in rule.template.source.lower():
            return True
        if rule.pattern is not None and any(
            rule.pattern.match(word) for word in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
        ):
            return True
    profile: Profile | None = ruleset.profile
    if profile is not None and any(profile.rule_for(tag) is not None for tag in PIXEL_TAGS):
        return True
    return stem is not None and PIXEL_WORD in stem.source.lower()


class PixelStop:
    """pydicom's ``stop_when``: stop before the top-level pixel data; ``tag`` says which one."""

    def __init__(self) -> None:
        self.tag: int | None = None

    def __call__(self, tag: BaseTag, vr: str | None, length: int) -> bool:
        if tag >> 16 != PIXEL_GROUP or int(tag) not in PIXEL_TAGS:  # int: a BaseTag compares in Python
            return False
        self.tag = int(tag)
        return True


def syntax_isCovered(syntax: object) -> bool:
    """Whether a transfer syntax is one the header-only write covers: public, known, not deflated."""
    return (
        isinstance(syntax, UID)
        and not syntax.is_private
        and syntax.is_transfer_syntax
        and not syntax.is_deflated
        and not (syntax.is_implicit_VR and not syntax.is_little_endian)
    )


@dataclass
class HeaderFile:
    """A file read up to its pixel data.

    Attributes:
        path: the file.
        dataset: every element but the pixel data, those after it included, as pydicom read them.
        source: the file's bytes before the pixel data (all of them when it has none).
        pixel: where the pixel data lies; None when the file has none.
        pixelTag: the tag of the pixel data (0 when none).
        size: the file's size.
        syntax: its transfer syntax.
        trailing: the tags of the elements after the pixel data.
    """

    path: str
    dataset: Dataset
    source: bytes
    pixel: PixelSpan | None
    pixelTag: int
    size: int
    syntax: UID
    trailing: tuple[int, ...] = ()

    @property
    def encoding(self) -> tuple[bool, bool]:
        """(implicit VR, little endian) of the data set."""
        return bool(self.syntax.is_implicit_VR), bool(self.syntax.is_little_endian)

    def fits(self, changes: list[Change] | tuple[Change, ...]) -> bool:
        """Whether the changes leave the pixel data and everything after it as they are."""
        if self.pixel is None:
            return True
        return all(
            change.meta or (change.steps[0][0] if change.steps else change.tag) < self.pixelTag
            for change in changes
        )

    def encode(self, dataset: Dataset) -> bytes | None:
        """The output's bytes up to its pixel data, as pydicom writes them; None when pydicom
        would write the file otherwise than as the header and the copied rest (the whole read
        then writes it, and says why it cannot).

        Args:
            dataset: ``self.dataset`` with the changes applied.
        """
        preamble: bytes | None = getattr(dataset, "preamble", None)
        if preamble and len(preamble) != PREAMBLE_BYTES:
            return None
        if not self.trailing_isVerbatim(dataset):
            return None
        try:
            return header_splice(dataset, self.source, self.encoding, self.pixelTag if self.pixel else None)
        except Exception:  # pydicom cannot encode it this way: the whole write says whether it can
            return None

    def trailing_isVerbatim(self, dataset: Dataset) -> bool:
        """Whether pydicom would write the elements after the pixel data exactly as the file holds
        them: each as read, one after the other to the end of the file."""
        if self.pixel is None or not self.trailing:
            return True
        with open(self.path, "rb") as stream:
            tail: bytes = os.pread(stream.fileno(), self.size - self.pixel.end, self.pixel.end)
        position: int = 0
        for tag in sorted(self.trailing):
            if tag not in dataset or (tag & 0xFFFF == 0 and tag >> 16 > 6):  # pydicom drops group lengths
                return False
            where: tuple[int, int] | None = element_range(
                dataset.get_item(BaseTag(tag)), tail, *self.encoding, shift=-self.pixel.end
            )
            if where is None or where[0] != position:
                return False
            position = where[1]
        return position == len(tail)

    def write(self, header: bytes, directory: str, finalPath: str) -> str:
        """Write the output under a temporary name: the header, then the rest of the input copied
        in the kernel; return that name.

        Raises:
            OutputError: it cannot be written (the partial file is removed).
        """

        def fill(descriptor: int) -> None:
            view: memoryview = memoryview(header)
            while view:
                view = view[os.write(descriptor, view) :]
            if self.pixel is not None:
                source: int = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    range_copy(source, descriptor, self.pixel.start, self.size - self.pixel.start)
                finally:
                    os.close(source)

        return temp_write(directory, finalPath, fill)

    def bytes_make(self, header: bytes) -> bytes:
        """The whole output in memory (a dry run's ``--verify``)."""
        if self.pixel is None:
            return header
        with open(self.path, "rb") as stream:
            return header + os.pread(stream.fileno(), self.size - self.pixel.start, self.pixel.start)


def headerFile_read(path: str) -> HeaderFile | None:
    """Read a file up to its pixel data; None for a file the header-only way does not cover, or
    one with anything wrong (the whole read judges it, and says what is wrong)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the open
            return None
        return headerFile_tryRead(path)
    except Exception:  # whatever it is, the whole read meets it again and reports it as it always has
        return None


def headerFile_tryRead(path: str) -> HeaderFile | None:
    """``headerFile_read``, raising what pydicom raises, and what the bounds on a hostile file's
    work raise (``bounds``: lengths beyond the file, zero bytes for elements, too many elements,
    sequences nested too deep); a deflated file is left to the whole read, which bounds its
    inflating."""
    with FileReader(path) as stream:
        size: int = stream.size
        head: bytes = stream.read(HEAD_BYTES)
        if head[PREAMBLE_BYTES : PREAMBLE_BYTES + len(DICOM_PREFIX)] != DICOM_PREFIX or DEFLATED_UID in head:
            return None
        stream.seek(0)
        stop: PixelStop = PixelStop()
        dataset: Dataset = read_partial(stream, stop_when=stop)
        syntax: object = dataset.file_meta.get("TransferSyntaxUID")
        if not isinstance(syntax, UID) or not syntax_isCovered(syntax):
            return None
        encoding: tuple[bool, bool] = (bool(syntax.is_implicit_VR), bool(syntax.is_little_endian))
        tags: list[int] = [int(tag) for tag in dataset.keys()]  # noqa: SIM118  # iterating would decode
        if dataset.original_encoding != encoding or any(tag >> 16 in NOT_IN_DATA_SET for tag in tags):
            return None
        if stop.tag is None:  # no pixel data: pydicom has read it all
            stream.seek(max(0, size - DELIMITER_BYTES))
            dataset_checkWhole(dataset, size, stream.read(DELIMITER_BYTES))
            header: HeaderFile = HeaderFile(
                path, dataset, os.pread(stream.fileno(), size, 0), None, 0, size, syntax
            )
        else:
            start: int = stream.tell()
            pixel: PixelSpan | None = pixelSpan_read(stream.fileno(), start, size, syntax, stop.tag)
            if pixel is None or any(tag >= stop.tag for tag in tags):
                return None
            dataset_checkComplete(dataset.file_meta, "file meta ")
            source: bytes = os.pread(stream.fileno(), start, 0)
            header = HeaderFile(path, dataset, source, pixel, stop.tag, size, syntax)
            if pixel.end < size and not trailing_read(stream, header):
                return None
    depth_check(header.dataset)
    return header if dataset_hasContent(header.dataset) else None


def trailing_read(stream: BinaryIO, header: HeaderFile) -> bool:
    """Read the elements after the pixel data, as the whole read would have read them, and make
    the header's data set hold them too; False when they are not what the header-only write covers.

    Raises:
        DicomReadError: they do not reach the end of the file.
    """
    assert header.pixel is not None
    stream.seek(header.pixel.end)
    dataset: Dataset = header.dataset
    trailing: Dataset = read_dataset(stream, *header.encoding, parent_encoding=dataset.original_character_set)
    tags: list[int] = [int(tag) for tag in trailing.keys()]  # noqa: SIM118  # iterating would decode
    if trailing.original_encoding != header.encoding or not tags or min(tags) <= header.pixelTag:
        return False
    if any(tag in PIXEL_TAGS for tag in tags):
        return False
    stream.seek(max(0, header.size - DELIMITER_BYTES))
    dataset_checkWhole(trailing, header.size, stream.read(DELIMITER_BYTES))
    header.dataset = datasets_join(dataset, trailing, stream)
    header.trailing = tuple(tags)
    return True


def datasets_join(header: Dataset, trailing: Dataset, stream: BinaryIO) -> FileDataset:
    """One data set of the header's elements and those after the pixel data, each as read, as the
    whole read makes it (``read_partial``'s FileDataset); adding them one by one would have pydicom
    convert the private ones."""
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    for part in (header, trailing):
        for tag in part.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
            elements[tag] = part.get_item(tag, keep_deferred=True)
    implicit, little = header.original_encoding
    joined: FileDataset = FileDataset(
        stream, Dataset(elements), header.preamble, header.file_meta, bool(implicit), bool(little)
    )
    joined.set_original_encoding(bool(implicit), bool(little), header.original_character_set)
    return joined
