"""One DICOM file: read it, plan the substitutions, check every result, write it whole.

A file goes through ``FileJob.file_process``: read with pydicom (a file that is not DICOM is
recognised and skipped); walk its elements, nested sequences included, and evaluate every rule
against the values as read; check each result for its VR, VM and character set; apply; write
under a temporary name in the output directory. The temporary file is renamed to its final name
by the caller (``pfdicom.result_commit``), so an output appears whole or not at all.

Key components:
    - dicom_read: a path to a Dataset, or NotDicomError / DicomReadError
    - element_text: an element's value in DICOM's own text form
    - value_prepare: a rule's text to a value valid for the element, or ValueInvalidError
    - Planner: the walk that finds what to replace and evaluates the templates
    - name_safe: a template's result made one safe file name
    - FileJob: the per-file work, picklable so that worker processes can run it

Typical usage:
    job = FileJob(options, rules_compile(tagStruct), stem=None)
    result = job.file_process(FileTask("/in/a/1.dcm", "/out/a"))

Dependencies:
    - pydicom for every read, write, dictionary lookup and VR check
    - pfdicom_tagSub.template, pfdicom_tagSub.rules
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import stat
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from pydicom import config as pydicomConfig
from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VM, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import dcmread
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.valuerep import validate_value

from pfdicom_tagSub.errors import (
    DicomReadError,
    FileError,
    NotDicomError,
    OutputError,
    ValueInvalidError,
)
from pfdicom_tagSub.functions import faker_get
from pfdicom_tagSub.models import (
    FileResult,
    FileTask,
    ReferencePiece,
    Rule,
    RuleSkip,
    TagSubOptions,
    Template,
)
from pfdicom_tagSub.rules import RuleSet, keyword_vr
from pfdicom_tagSub.template import Absent, template_evaluate

PREAMBLE_BYTES: int = 128
DICOM_PREFIX: bytes = b"DICM"
HEADER_GROUPS: frozenset[int] = frozenset({0x0000, 0x0002, 0x0008})
UNDEFINED_LENGTH: int = 0xFFFFFFFF
UNKNOWN_END: int = -1
DELIMITER_BYTES: int = 8
ITEM_TAG: bytes = b"\xfe\xff\x00\xe0"
SEQUENCE_DELIMITERS: frozenset[bytes] = frozenset(
    {b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"}
)
COMMAND_GROUP: int = 0x0000
SPECIFIC_CHARACTER_SET: BaseTag = Tag(0x0008, 0x0005)
SOP_INSTANCE_UID: str = "SOPInstanceUID"
DEFAULT_CHARSETS: frozenset[str] = frozenset({"", "ISO_IR 6", "ISO 2022 IR 6"})
TEMP_SUFFIX: str = ".pfdicom_tagSub-tmp"
NAME_BYTES_MAX: int = 255
UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")

SINGLE_VALUE_VRS: frozenset[str] = frozenset({"LT", "ST", "UT", "UR"})
TEXT_VRS: frozenset[str] = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
INT_VRS: frozenset[str] = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})
FLOAT_VRS: frozenset[str] = frozenset({"FL", "FD"})
PARAGRAPH_CONTROLS: frozenset[str] = frozenset("\r\n\f\t")
ESCAPE: str = "\x1b"

Lookup = Callable[[str], str | None]
PARSE_ERRORS: tuple[type[Exception], ...] = (
    InvalidDicomError,
    EOFError,
    ValueError,
    KeyError,
    TypeError,
    NotImplementedError,
    BytesLengthException,
    struct.error,
    zlib.error,
)
_tempCounter: itertools.count[int] = itertools.count()


@cache
def keyword_of(tag: int) -> str:
    """The keyword of a tag, '' for private and unknown tags."""
    return str(keyword_for_tag(tag))


@cache
def tag_of(keyword: str) -> int | None:
    """The tag of a keyword, None for keywords with no single tag."""
    return tag_for_keyword(keyword)


def head_isDicomLike(head: bytes) -> bool:
    """Whether a file without the DICM prefix starts like a bare DICOM data set.

    Such files (ACR-NEMA style, or a data set written without its preamble) start with an element
    of the command, file meta or identifying group, little or big endian.
    """
    if len(head) < 8:
        return False
    return (
        int.from_bytes(head[:2], "little") in HEADER_GROUPS
        or int.from_bytes(head[:2], "big") in HEADER_GROUPS
    )


def dicom_read(path: str) -> Dataset:
    """Read a DICOM file, pixels included, into a Dataset.

    Raises:
        NotDicomError: not a regular file, empty, or neither a DICM prefix nor a DICOM start.
        DicomReadError: it looks like DICOM but pydicom cannot parse it.
        OSError: the file cannot be opened or read.
    """
    status: os.stat_result = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        raise NotDicomError("not a regular file")
    if status.st_size == 0:
        raise NotDicomError("empty file (0 bytes)")
    with open(path, "rb") as stream:
        head: bytes = stream.read(PREAMBLE_BYTES + len(DICOM_PREFIX))
        hasPrefix: bool = head[PREAMBLE_BYTES:] == DICOM_PREFIX
        if not hasPrefix and not head_isDicomLike(head):
            raise NotDicomError("no DICM prefix at byte 128 and no DICOM data set at the start")
        stream.seek(0)
        failure: str = ""
        try:
            dataset: Dataset = dcmread(stream, force=not hasPrefix)
            stream.seek(max(0, status.st_size - DELIMITER_BYTES))
            dataset_checkWhole(dataset, status.st_size, stream.read(DELIMITER_BYTES))
        except DicomReadError as err:
            failure = str(err)
        except PARSE_ERRORS as err:
            failure = f"cannot be parsed: {line_first(err)}"
        except OSError as err:
            if err.errno is not None:  # a real read error; pydicom's own parse errors carry no errno
                raise
            failure = f"cannot be parsed: {line_first(err)}"
    if failure:
        if not hasPrefix:
            raise NotDicomError(f"no DICM prefix and not a readable data set ({failure})")
        raise DicomReadError(failure)
    if not dataset_hasContent(dataset):
        if hasPrefix:
            raise DicomReadError("truncated: no whole data set after the file meta")
        raise NotDicomError("no DICOM elements found")
    return dataset


def dataset_hasContent(dataset: Dataset) -> bool:
    """Whether a data set holds more than a character set and command elements.

    pydicom decodes the Specific Character Set while reading, so a file cut inside or just after
    it leaves that one element, which no completeness check can judge; a zero-filled file reads
    as command elements (0000,0000).
    """
    return any(
        tag.group != COMMAND_GROUP and tag != SPECIFIC_CHARACTER_SET
        for tag in dataset.keys()  # noqa: SIM118  # iterating a Dataset would decode every element
    )


def line_first(err: BaseException) -> str:
    """The first line of an exception's message (pydicom appends tracebacks to some)."""
    text: str = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def dataset_checkComplete(dataset: Dataset, where: str = "") -> None:
    """Refuse a data set whose top-level elements are shorter than their headers say.

    Raises:
        DicomReadError: naming the first truncated element.
    """
    for tag in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
        if not element_isComplete(dataset.get_item(tag)):
            name: str = keyword_of(tag) or str(tag)
            raise DicomReadError(f"truncated: {where}{name} is shorter than its header says")


def dataset_checkWhole(dataset: Dataset, fileSize: int, tail: bytes) -> None:
    """Refuse a data set that is shorter than its file: writing it would drop the rest of the file.

    pydicom ends a data set quietly when the file stops inside an element's header, and drops an
    undefined-length element (encapsulated pixel data) whose delimiter the file lacks; either way
    the elements it read end before the file does. A file cut exactly between two elements is a
    shorter data set that no reader can tell from a whole one.

    Args:
        dataset: as read.
        fileSize: the file's size in bytes.
        tail: the file's last bytes (at most 8).

    Raises:
        DicomReadError: a truncated element, or bytes after the last whole element.
    """
    meta: Dataset | None = getattr(dataset, "file_meta", None)
    if meta is not None:
        dataset_checkComplete(meta, "file meta ")
    syntax: object = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if getattr(syntax, "is_deflated", False):  # positions count in the inflated stream, not the file
        dataset_checkComplete(dataset)
        return
    last: tuple[int | None, BaseTag] | None = dataset_end(dataset)
    if last is None:
        return
    end, tag = last
    if end is None:
        whole: bool = tail in SEQUENCE_DELIMITERS  # an undefined-length sequence ends the file
    else:
        whole = end >= fileSize
    if not whole:
        gap: str = "bytes" if end is None else f"{fileSize - end} bytes"
        raise DicomReadError(f"truncated: the {gap} after {keyword_of(tag) or tag} are not a whole element")


def dataset_end(dataset: Dataset) -> tuple[int | None, BaseTag] | None:
    """The file offset just past the last top-level element read, with its tag; None when empty.

    The offset is None when that element is a sequence of undefined length: pydicom does not
    record where it ends (one cut short raises while it is read). None for the whole data set
    when the last element is one pydicom converted while reading and whose end it cannot give.

    Raises:
        DicomReadError: an element is shorter than its header says.
    """
    last: tuple[int | None, BaseTag] | None = None
    lastStart: int = -1
    for tag in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
        element: object = dataset.get_item(tag)
        if not isinstance(element, RawDataElement):
            start: int | None = getattr(element, "file_tell", None)
            if getattr(element, "VR", "") == "SQ":
                if (start or 0) > lastStart:
                    last, lastStart = (None, tag), start or 0
            elif start is not None and start > lastStart and element_isEmpty(element):
                # converted while read (pydicom does so with some empty values): it ends where its
                # value would start
                last, lastStart = (start, tag), start
            elif start is None or start > lastStart:
                last, lastStart = (UNKNOWN_END, tag), start or lastStart
            continue
        if element.length != UNDEFINED_LENGTH:
            if element.value is not None and len(element.value) < element.length:
                raise DicomReadError(f"truncated: {keyword_of(tag) or tag} is shorter than its header says")
            end: int = element.value_tell + element.length
        elif element.value is not None:
            end = element.value_tell + len(element.value) + DELIMITER_BYTES
        else:
            return None
        if element.value_tell > lastStart:
            last, lastStart = (end, tag), element.value_tell
    if last is not None and last[0] == UNKNOWN_END:
        return None
    return last


def element_isEmpty(element: object) -> bool:
    """Whether a converted element's value is empty (None, '', b'' or no values)."""
    value: object = getattr(element, "value", None)
    return value is None or (isinstance(value, str | bytes | list | MultiValue) and len(value) == 0)


def element_isComplete(raw: object) -> bool:
    """Whether a raw element holds as many bytes as its header announced (not truncated)."""
    if not isinstance(raw, RawDataElement) or raw.length == UNDEFINED_LENGTH or raw.value is None:
        return True
    return len(raw.value) >= raw.length


@cache
def tag_isSequence(tag: int) -> bool:
    """Whether the data dictionary gives a tag the SQ VR."""
    return bool(keyword_of(tag)) and keyword_vr(keyword_of(tag)) == "SQ"


def element_isSequence(dataset: Dataset, tag: BaseTag) -> bool:
    """Whether an element is a sequence, converting it only when its header leaves a doubt.

    An implicit-VR or UN element of a standard tag takes the dictionary's word; a private one, or
    one of undefined length, is converted so that pydicom decides, as it does when reading.
    """
    raw: object = dataset.get_item(tag)
    vr: str | None = getattr(raw, "VR", None)
    if vr == "SQ":
        return True
    if vr not in (None, "UN"):
        return False
    if tag.is_private or getattr(raw, "length", 0) == UNDEFINED_LENGTH:
        return dataset[tag].VR == "SQ" or (tag.is_private and private_readAsSequence(dataset, tag, raw))
    return tag_isSequence(tag)


def element_isOpaquePrivate(raw: object) -> bool:
    """Whether a raw element is a private one of unknown VR (implicit or UN) and defined length."""
    return (
        isinstance(raw, RawDataElement)
        and raw.tag.is_private
        and raw.VR in (None, "UN")
        and raw.length != UNDEFINED_LENGTH
    )


def private_readAsSequence(dataset: Dataset, tag: BaseTag, raw: object) -> bool:
    """Read an opaque private element as the sequence its bytes hold, when they start with an item.

    A private sequence of a creator pydicom does not know, in an implicit-VR file (or written as
    UN), reads as bytes: the identifiers in its items would escape the rules. Its bytes are
    implicit VR little endian either way (PS3.5 6.2.2); if pydicom cannot read them as a
    sequence the element stays as it was.
    """
    if not isinstance(raw, RawDataElement) or raw.length == UNDEFINED_LENGTH:
        return False
    if not raw.value or raw.value[: len(ITEM_TAG)] != ITEM_TAG:
        return False
    opaque = dataset[tag]
    try:
        dataset[tag] = raw._replace(VR="SQ", is_implicit_VR=True, is_little_endian=True)
        if dataset[tag].VR == "SQ":
            return True
    except Exception:  # not a sequence after all: keep the bytes
        pass
    dataset[tag] = opaque
    return False


def text_single(value: object) -> str:
    """One value in DICOM's text form: numbers as written, person names as ``Family^Given``."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        raise TypeError("binary value")
    return str(value)


def element_text(value: object) -> str:
    """An element value in DICOM's text form; multiple values joined with a backslash.

    Example:
        >>> element_text(MultiValue(str, ["ORIGINAL", "PRIMARY"]))
        'ORIGINAL\\\\PRIMARY'
    """
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(text_single(item) for item in value)
    return text_single(value)


def vm_allows(vm: str, count: int) -> bool:
    """Whether ``count`` values satisfy a dictionary VM such as ``1``, ``1-3``, ``1-n``, ``2-2n``.

    Example:
        >>> vm_allows("2-2n", 4), vm_allows("1", 2)
        (True, False)
    """
    if count == 0 or not vm:
        return True
    low, _, high = vm.partition("-")
    try:
        minimum: int = int(low)
        if not high:
            return count == minimum
        if high == "n":
            return count >= minimum
        if high.endswith("n"):
            return count >= minimum and count % int(high[:-1]) == 0
        return minimum <= count <= int(high)
    except ValueError:
        return True


def dataset_encodings(chain: list[Dataset]) -> list[str]:
    """The Python codecs of the nearest Specific Character Set; plain ASCII when none is given.

    pydicom decodes the default repertoire as Latin-1; DICOM's default is ASCII, so a non-ASCII
    value in a file without a character set is refused rather than written unreadable.
    """
    for dataset in chain:
        element = dataset.get(SPECIFIC_CHARACTER_SET)
        if element is not None and element.value:
            names: list[str] = (
                list(element.value) if isinstance(element.value, MultiValue) else [element.value]
            )
            encodings: list[str] = convert_encodings(names)
            if names[0].strip() in DEFAULT_CHARSETS:
                encodings[0] = "ascii"
            return encodings
    return ["ascii"]


def text_encodable(text: str, encodings: list[str]) -> bool:
    """Whether the text can be written in the given encodings (ISO 2022 switching allowed)."""

    def encodes(part: str, encoding: str) -> bool:
        try:
            part.encode(encoding)
        except (UnicodeError, LookupError):
            return False
        return True

    if any(encodes(text, encoding) for encoding in encodings):
        return True
    return len(encodings) > 1 and all(any(encodes(char, encoding) for encoding in encodings) for char in text)


def text_checkCharacters(vr: str, text: str) -> None:
    """Refuse control characters a VR does not allow (LT/ST/UT allow CR, LF, FF, TAB)."""
    allowed: frozenset[str] = PARAGRAPH_CONTROLS if vr in SINGLE_VALUE_VRS else frozenset()
    for char in text:
        if (ord(char) < 0x20 or char == "\x7f") and char not in allowed and char != ESCAPE:
            raise ValueError(f"control character {char!r} is not allowed in {vr}")


def number_parse(vr: str, text: str) -> int | float:
    """One binary number from its text."""
    try:
        return int(text.strip()) if vr in INT_VRS else float(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def value_prepare(vr: str, tag: int, text: str, encodings: list[str]) -> object:
    """A rule's text turned into a value that is valid for the element.

    Checks the VM against the dictionary, each value against pydicom's VR validator, the
    characters the VR allows and the character set of the data set.

    Raises:
        ValueError: with pydicom's or our reason.
    """
    if text == "":
        return "" if vr in TEXT_VRS else None
    parts: list[str] = [text] if vr in SINGLE_VALUE_VRS else text.split("\\")
    vm: str = str(dictionary_VM(tag)) if keyword_of(tag) else ""
    if not vm_allows(vm, len(parts)):
        raise ValueError(f"{len(parts)} values where the dictionary allows {vm}")
    if vr in TEXT_VRS:
        for part in parts:
            validate_value(vr, part, pydicomConfig.RAISE)
            text_checkCharacters(vr, part)
            if not text_encodable(part, encodings):
                raise ValueError(f"characters not in the file's character set ({', '.join(encodings)})")
        return text
    if vr in INT_VRS or vr in FLOAT_VRS:
        numbers: list[int | float] = [number_parse(vr, part) for part in parts]
        for number in numbers:
            validate_value(vr, number, pydicomConfig.RAISE)
        return numbers[0] if len(numbers) == 1 else numbers
    raise ValueError(f"a {vr} element cannot be given a text value")


@dataclass
class Assignment:
    """One element to set, checked and ready: where it lives, and its new value."""

    dataset: Dataset
    tag: BaseTag
    vr: str
    value: object
    create: bool
    keyword: str


@dataclass
class Planner:
    """The walk over one data set that finds what to replace and evaluates every template.

    Nothing is changed while planning (only private elements are dropped when asked), so
    every template sees the values as read.

    Attributes:
        ruleset: the checked rules.
        topLevelOnly: leave nested sequences alone.
        removePrivate: drop every private element, at every depth.
        assignments: the checked new values, in walk order.
        skips: rules not applied for an absent reference.
        regexHits: indices of the regex rules that matched a keyword.
        removed: how many private elements were dropped.
    """

    ruleset: RuleSet
    topLevelOnly: bool
    removePrivate: bool
    assignments: list[Assignment] = field(default_factory=list)
    skips: list[RuleSkip] = field(default_factory=list)
    regexHits: set[int] = field(default_factory=set)
    removed: int = 0

    def dataset_visit(self, dataset: Dataset, chain: list[Dataset], where: str) -> None:
        """Plan every element of one data set, then its sequences' items."""
        applyRules: bool = not (self.topLevelOnly and where)
        for tag in list(dataset.keys()):
            if self.removePrivate and tag.is_private:
                del dataset[tag]
                self.removed += 1
                continue
            if where and not element_isComplete(dataset.get_item(tag)):
                raise DicomReadError(
                    f"truncated: {where}{keyword_of(tag) or tag} is shorter than its header says"
                )
            keyword: str = keyword_of(tag)
            rule: Rule | None = None
            if keyword and applyRules:
                rule, hits = self.ruleset.rule_for(keyword)
                self.regexHits.update(hits)
            raw: DataElement | RawDataElement = dataset.get_item(tag)
            if element_isSequence(dataset, tag):
                planned: int = len(self.assignments)
                if not self.topLevelOnly or self.removePrivate:
                    self.sequence_visit(dataset, tag, chain, where + (keyword or str(tag)))
                if len(self.assignments) == planned and element_isOpaquePrivate(raw):
                    dataset[tag] = raw  # nothing to change inside: its bytes stay as they came
            elif rule is not None:
                self.element_plan(dataset, tag, keyword, rule, chain, where)

    def sequence_visit(self, dataset: Dataset, tag: BaseTag, chain: list[Dataset], where: str) -> None:
        """Visit each item of a sequence, its holder first in the lookup chain."""
        for index, item in enumerate(dataset[tag].value):
            self.dataset_visit(item, [item, *chain], f"{where}[{index}].")

    def element_plan(
        self, dataset: Dataset, tag: BaseTag, keyword: str, rule: Rule, chain: list[Dataset], where: str
    ) -> None:
        """Evaluate one rule for one element and keep the checked result."""
        text: str | Absent = template_evaluate(rule.template, keyword, lookup_make(chain, (keyword, tag)))
        if isinstance(text, Absent):
            self.skips.append(RuleSkip(rule.key, str(text)))
            return
        vr: str = dataset[tag].VR.split(" or ")[0]
        self.assignment_add(dataset, tag, vr, keyword, text, rule, where, create=False, chain=chain)

    def assignment_add(
        self,
        dataset: Dataset,
        tag: BaseTag,
        vr: str,
        keyword: str,
        text: str,
        rule: Rule,
        where: str,
        *,
        create: bool,
        chain: list[Dataset],
    ) -> None:
        """Check a result and keep it.

        Raises:
            ValueInvalidError: naming keyword, VR, value and rule; the file is not written.
        """
        try:
            value: object = value_prepare(vr, tag, text, dataset_encodings(chain))
        except ValueError as err:
            raise ValueInvalidError(
                f"{where}{keyword} ({vr}) = {text!r} is invalid: {err}; rule {rule.describe()}",
                f"{where}{keyword} ({vr}): the result is invalid: {rule.describe()}",
            ) from None
        self.assignments.append(Assignment(dataset, tag, vr, value, create, keyword))

    def absent_create(self, root: Dataset) -> None:
        """Create the top-level elements that explicit rules name and the file lacks."""
        for keyword, rule in self.ruleset.explicit.items():
            tag: int | None = tag_of(keyword)
            if tag is None or tag in root:
                continue
            text: str | Absent = template_evaluate(rule.template, keyword, lookup_make([root]))
            if isinstance(text, Absent):
                self.skips.append(RuleSkip(rule.key, str(text)))
                continue
            vr: str = keyword_vr(keyword).split(" or ")[0]
            self.assignment_add(root, Tag(tag), vr, keyword, text, rule, "", create=True, chain=[root])

    def plan(self, root: Dataset) -> None:
        """Plan the whole file."""
        self.dataset_visit(root, [root], "")
        self.absent_create(root)


def lookup_make(chain: list[Dataset], current: tuple[str, BaseTag] | None = None) -> Lookup:
    """Keyword to text, read from the innermost data set that holds it; None when absent.

    ``current`` is the keyword and tag of the element being replaced, found in ``chain[0]`` by its
    tag: a repeating-group keyword (``OverlayDescription``, groups 6000-601E) names no single tag.
    """

    def lookup(keyword: str) -> str | None:
        tag: int | None = current[1] if current is not None and keyword == current[0] else tag_of(keyword)
        if tag is None:
            return None
        for dataset in chain:
            if tag in dataset:
                try:
                    return element_text(dataset[tag].value)
                except TypeError:
                    raise ValueInvalidError(f"{keyword} is binary and has no text form") from None
        return None

    return lookup


def assignments_apply(dataset: Dataset, assignments: list[Assignment]) -> None:
    """Set every planned value; the file meta's MediaStorageSOPInstanceUID follows SOPInstanceUID."""
    for assignment in assignments:
        if assignment.create:
            assignment.dataset.add_new(assignment.tag, assignment.vr, assignment.value)
        else:
            assignment.dataset[assignment.tag].value = assignment.value
        if assignment.keyword == SOP_INSTANCE_UID and assignment.dataset is dataset:
            meta: Dataset | None = getattr(dataset, "file_meta", None)
            if meta is not None and "MediaStorageSOPInstanceUID" in meta:
                meta.MediaStorageSOPInstanceUID = assignment.value


def name_safe(stem: str, suffix: str) -> str:
    """A template's result made one file name: no separators, NUL or control characters, not ``.``
    or ``..``, at most 255 bytes with the suffix, never the name of a temporary output.

    Example:
        >>> name_safe("../../etc", ".dcm")
        '.._.._etc.dcm'
    """
    cleaned: str = UNSAFE_NAME.sub("_", stem)
    if cleaned in ("", ".", ".."):
        cleaned = "_" * max(1, len(cleaned))
    budget: int = NAME_BYTES_MAX - len(suffix.encode("utf-8"))
    cleaned = cleaned.encode("utf-8")[:budget].decode("utf-8", "ignore")
    name: str = cleaned + suffix
    if name.endswith(TEMP_SUFFIX):  # a rerun would remove it as a killed run's leftover
        name = name[:-1] + "_"
    return name


def suffix_of(name: str) -> str:
    """A file name's extension as ``PurePath.suffix`` gives it, without pathlib interning the name.

    Example:
        >>> suffix_of("IM1.dcm"), suffix_of(".hidden"), suffix_of("a."), suffix_of("x.tar.gz")
        ('.dcm', '', '', '.gz')
    """
    dot: int = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def outputName_make(dataset: Dataset, stem: Template | None, inputName: str) -> str:
    """The output file's name: the input's, or the stem template's result plus the input's extension.

    Raises:
        OutputError: the stem references an element the file lacks.
    """
    if stem is None:
        return inputName
    text: str | Absent = template_evaluate(stem, "", lookup_make([dataset]))
    if isinstance(text, Absent):
        raise OutputError(f"--outputFileStem {stem.source!r} needs {text}, which the file lacks")
    return name_safe(text, suffix_of(inputName))


def temp_isStale(name: str) -> bool:
    """Whether a temporary output name belongs to a process that no longer runs."""
    pidText: str = name[1:].split("-", 1)[0]
    if not pidText.isdigit():
        return False
    return not process_isRunning(int(pidText))


def process_isRunning(pid: int) -> bool:
    """Whether a process runs: it exists and is not a zombie.

    A killed run's workers stay zombies until an init process reaps them, which in some
    containers takes long or never happens; their temporary files are nonetheless stale.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as status:
            state: bytes = status.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc (not Linux): existing is running
        return True
    return state not in (b"Z", b"X")


def outputDir_prepare(directory: str) -> None:
    """Create an output directory and remove what killed runs left there (their temporary files)."""
    os.makedirs(directory, exist_ok=True)
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(TEMP_SUFFIX) and temp_isStale(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def dataset_write(dataset: Dataset, directory: str) -> str:
    """Write a data set under a new temporary name in ``directory``; return that name.

    The encoding, preamble (or its absence) and file meta are the file's own.

    Raises:
        OutputError: the file cannot be written (the partial temporary file is removed).
    """
    tempPath: str = os.path.join(directory, f".{os.getpid()}-{next(_tempCounter)}{TEMP_SUFFIX}")
    try:
        try:
            stream_write(dataset, tempPath)
        except (TypeError, ValueError, KeyError):
            # a data set encoded otherwise than its transfer syntax says (implicit VR under an
            # explicit syntax): give every element its dictionary VR and encode it as the syntax says
            for _element in dataset.iterall():
                pass
            stream_write(dataset, tempPath)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tempPath)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write in {directory}: {oserror_reason(err)}") from None
        if isinstance(err, Exception):
            raise OutputError(f"pydicom cannot encode the data set: {line_first(err)}") from None
        raise
    return tempPath


def oserror_reason(err: OSError) -> str:
    """The system's reason for an I/O error, also when pydicom re-raised it with a traceback inside.

    Example:
        >>> oserror_reason(OSError(27, "File too large"))
        'File too large'
    """
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__
    return line_first(err)


def stream_write(dataset: Dataset, path: str) -> None:
    """Write a data set to a new file (which must not exist), the file's own encoding kept."""
    descriptor: int = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    with os.fdopen(descriptor, "wb") as stream:
        dataset.save_as(stream, enforce_file_format=False)


@dataclass
class FileJob:
    """The work on one file, the same in the main process and in every worker.

    Attributes:
        options: the run's options.
        ruleset: the checked rules.
        stem: the parsed ``--outputFileStem``, None to keep input names.
        preparedDirs: output directories this process has already prepared.
    """

    options: TagSubOptions
    ruleset: RuleSet
    stem: Template | None = None
    preparedDirs: set[str] = field(default_factory=set)

    def __getstate__(self) -> dict[str, object]:
        """Ship the job to a worker without this process's directory cache."""
        return {"options": self.options, "ruleset": self.ruleset, "stem": self.stem, "preparedDirs": set()}

    def libraries_load(self) -> None:
        """Load what the first file would load, before worker processes are forked.

        Forked workers then share it instead of each importing Faker (a tenth of a second of CPU
        per worker) while the others need the cores.
        """
        templates: list[Template] = [rule.template for rule in self.ruleset.rules]
        if self.stem is not None:
            templates.append(self.stem)
        if any(
            isinstance(piece, ReferencePiece) and piece.function == "name"
            for template in templates
            for piece in template.pieces
        ):
            faker_get()

    def overwriteAllowed(self) -> bool:
        """Whether outputs that exist are replaced."""
        return self.options.overwrite

    def outputExists(self, result: FileResult) -> bool:
        """Mark the result as kept when its output exists and may not be replaced."""
        if self.overwriteAllowed() or not os.path.lexists(result.outputPath):
            return False
        result.outcome = "exists"
        result.reason = "output exists, kept (use --overwrite to replace it)"
        self.leftovers_remove(os.path.dirname(result.outputPath))
        return True

    def leftovers_remove(self, directory: str) -> None:
        """Once per directory: remove the temporary files killed runs left beside kept outputs.

        A directory whose outputs all exist is never written to again, so without this a
        temporary file left there (by a killed worker, or between link and unlink) would stay.
        """
        if directory in self.preparedDirs:
            return
        with contextlib.suppress(OSError):
            outputDir_prepare(directory)
        self.preparedDirs.add(directory)

    def file_process(self, task: FileTask) -> FileResult:
        """Read, substitute and write one file; every failure is caught here and recorded.

        Returns:
            The result; ``written`` means the whole output waits under ``tempPath``.
        """
        result: FileResult = FileResult(task.inputPath)
        inputName: str = os.path.basename(task.inputPath)
        if self.stem is None:
            result.outputPath = os.path.join(task.outputDir, inputName)
            if self.outputExists(result):
                return result
        try:
            self.file_transform(task, result, inputName)
        except NotDicomError as err:
            result.outcome, result.reason = "notDicom", str(err)
        except FileError as err:
            result.outcome, result.reason, result.message = (
                "failed",
                f"{err.what}: {err.safe}",
                f"{err.what}: {err}",
            )
        except OSError as err:
            result.outcome, result.reason = "failed", f"cannot read: {err.strerror or err}"
        except Exception as err:  # a file that breaks the parser must not stop its neighbours
            result.outcome, result.reason = "failed", f"cannot be processed: {type(err).__name__}: {err}"
        return result

    def file_transform(self, task: FileTask, result: FileResult, inputName: str) -> None:
        """The steps of ``file_process``, raising on the first problem."""
        dataset: Dataset = dicom_read(task.inputPath)
        result.read = True
        planner: Planner = Planner(self.ruleset, self.options.topLevelOnly, self.options.removePrivateTags)
        if self.stem is not None:
            result.outputPath = os.path.join(task.outputDir, outputName_make(dataset, self.stem, inputName))
            if self.outputExists(result):
                return
        planner.plan(dataset)
        result.skips = tuple(planner.skips)
        result.regexHits = frozenset(planner.regexHits)
        assignments_apply(dataset, planner.assignments)
        result.analyzed = True
        result.changes = len(planner.assignments) + planner.removed
        if task.outputDir not in self.preparedDirs:
            try:
                outputDir_prepare(task.outputDir)
            except OSError as err:
                raise OutputError(
                    f"cannot create output directory {task.outputDir}: {err.strerror or err}"
                ) from None
            self.preparedDirs.add(task.outputDir)
        result.tempPath = dataset_write(dataset, task.outputDir)
        if self.options.inPlace:
            shutil.copymode(task.inputPath, result.tempPath)
        result.outcome = "written"
