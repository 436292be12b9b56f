"""One DICOM file: read it whole, plan its changes, apply them, write it; the per-file error boundary.

A file goes through ``FileJob.file_process``: read with pydicom (a file that is not DICOM is
recognised and skipped, one cut short is refused), planned (``plan``: a list of changes, every
result checked for its element), the changes applied, and the file written whole under a
temporary name for the parent to place (``output``); with ``--verify``, that file is searched
for the original values (``verify``) and removed if one is found. Whatever goes wrong with one
file is caught here and recorded in its result, so that its neighbours carry on.

Key components:
    - dicom_read: a path to a Dataset, or NotDicomError / DicomReadError, in bounded work
    - dataset_checkWhole: refuse a data set shorter than its file
    - FileJob: the per-file work, picklable so that worker processes can run it

Typical usage:
    job = FileJob(options, rules_compile(tagStruct), stem=None)
    result = job.file_process(FileTask("/in/a/1.dcm", "/out/a"))

Dependencies:
    - pydicom, to read
    - pfdicom_tagSub.bounds, the bounds on a hostile file's work
    - pfdicom_tagSub.plan, sequences, output, functions, rules, verify
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import zlib
from dataclasses import dataclass, field

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import dcmread
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag

from pfdicom_tagSub.bounds import (
    DEPTH_MAX,
    FileReader,
    depth_check,
    head_isPlausible,
    inflated_check,
)
from pfdicom_tagSub.dictionary import keyword_of
from pfdicom_tagSub.encode import NullStream, dataset_encode
from pfdicom_tagSub.errors import DicomReadError, FileError, NotDicomError, VerifyError, line_first
from pfdicom_tagSub.functions import FUNCTIONS, Context
from pfdicom_tagSub.models import FileResult, FileTask, ReferencePiece, TagSubOptions, Template
from pfdicom_tagSub.output import (
    dataset_write,
    outputName_make,
    temp_discard,
)
from pfdicom_tagSub.plan import Planner, changes_apply, plan
from pfdicom_tagSub.rules import RuleSet
from pfdicom_tagSub.sequences import element_isComplete
from pfdicom_tagSub.verify import Hit, hits_describe, output_verify

PREAMBLE_BYTES: int = 128
TIFF_HEADERS: frozenset[bytes] = frozenset({b"II*\x00", b"MM\x00*"})
DICOM_PREFIX: bytes = b"DICM"
HEAD_BYTES: int = 1024  # the preamble, and enough of the file meta to see its transfer syntax
UNDEFINED_LENGTH: int = 0xFFFFFFFF
UNKNOWN_END: int = -1
DELIMITER_BYTES: int = 8
SEQUENCE_DELIMITERS: frozenset[bytes] = frozenset(
    {b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"}
)
COMMAND_GROUP: int = 0x0000
SPECIFIC_CHARACTER_SET: BaseTag = Tag(0x0008, 0x0005)
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


def dicom_read(path: str) -> Dataset:
    """Read a DICOM file, pixels included, into a Dataset, in work bounded by the file's size (``bounds``).

    Raises:
        NotDicomError: not a regular file, empty, or neither a DICM prefix nor a plausible start.
        DicomReadError: it looks like DICOM but pydicom cannot parse it, or it is hostile (a length
            beyond the file, zero bytes for elements, a deflate bomb, sequences nested too deep).
        OSError: the file cannot be opened or read.
    """
    status: os.stat_result = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        raise NotDicomError("not a regular file")
    if status.st_size == 0:
        raise NotDicomError("empty file (0 bytes)")
    with FileReader(path) as stream:
        head: bytes = stream.read(HEAD_BYTES)
        hasPrefix: bool = head[PREAMBLE_BYTES : PREAMBLE_BYTES + len(DICOM_PREFIX)] == DICOM_PREFIX
        if not hasPrefix and not head_isPlausible(head):
            raise NotDicomError("no DICM prefix at byte 128 and no DICOM data set at the start")
        stream.seek(0)
        failure: str = ""
        try:
            if hasPrefix:
                inflated_check(path, head, stream)
            dataset: Dataset = dcmread(stream, force=not hasPrefix)
            stream.seek(max(0, status.st_size - DELIMITER_BYTES))
            dataset_checkWhole(dataset, status.st_size, stream.read(DELIMITER_BYTES))
            depth_check(dataset)
        except DicomReadError as err:
            failure = str(err)
        except RecursionError:  # pydicom reads a sequence of undefined length by recursing
            failure = f"sequences nested deeper than {DEPTH_MAX} levels (the limit)"
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


def preamble_clear(dataset: Dataset) -> bool:
    """Zero a preamble that holds anything (text there is a place identifiers hide), unless it is a
    TIFF header: a dual-personality file, whose TIFF part would break. Returns True for TIFF.

    Example:
        >>> dataset = Dataset(); dataset.preamble = b"MRN 123".ljust(128, b"\\0")
        >>> preamble_clear(dataset), dataset.preamble == bytes(128)
        (False, True)
    """
    preamble: bytes | None = getattr(dataset, "preamble", None)
    if not preamble or not any(preamble):
        return False
    if preamble[:4] in TIFF_HEADERS:
        return True
    dataset.preamble = bytes(PREAMBLE_BYTES)
    return False


@dataclass
class FileJob:
    """The work on one file, the same in the main process and in every worker.

    Attributes:
        options: the run's options.
        ruleset: the checked rules.
        stem: the parsed ``--outputFileStem``, None to keep input names.
        tempDir: the run's temporary directory, given by the engine before the run.
        context: the run's secret key (when a rule needs one) and date-shift range; it reaches
            worker processes inside this job, never through their command line or environment.
    """

    options: TagSubOptions
    ruleset: RuleSet
    stem: Template | None = None
    tempDir: str = ""
    context: Context = field(default_factory=Context)

    def libraries_load(self) -> None:
        """Load what the first file would load, before worker processes are forked.

        Forked workers then share it instead of each loading it (Faker: a tenth of a second of
        CPU per worker) while the others need the cores.
        """
        templates: list[Template] = [rule.template for rule in self.ruleset.rules]
        if self.stem is not None:
            templates.append(self.stem)
        used: set[str] = {
            piece.function
            for template in templates
            for piece in template.pieces
            if isinstance(piece, ReferencePiece) and piece.function
        }
        for name in sorted(used):
            preload = FUNCTIONS[name].preload
            if preload is not None:
                preload()

    def outputExists(self, result: FileResult) -> bool:
        """Mark the result as kept when its output exists and may not be replaced."""
        if self.options.overwrite or not os.path.lexists(result.outputPath):
            return False
        result.outcome = "exists"
        result.reason = "output exists, kept (use --overwrite to replace it)"
        return True

    def file_process(self, task: FileTask) -> FileResult:
        """Read, plan, apply and write one file; every failure is caught here and recorded.

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
            # the library's words may quote a value: they are shown only at verbosity 5
            result.outcome, result.reason, result.message = (
                "failed",
                f"cannot be processed: {type(err).__name__}",
                f"cannot be processed: {type(err).__name__}: {line_first(err)}",
            )
        return result

    def file_transform(self, task: FileTask, result: FileResult, inputName: str) -> None:
        """The steps of ``file_process``, raising on the first problem."""
        dataset: Dataset = dicom_read(task.inputPath)
        result.read = True
        if self.stem is not None:
            name: str = outputName_make(dataset, self.stem, inputName, self.context)
            result.outputPath = os.path.join(task.outputDir, name)
            if self.outputExists(result):
                return
        planner: Planner = plan(
            dataset, self.ruleset, self.options.topLevelOnly, self.options.removePrivateTags, self.context
        )
        result.skips = tuple(planner.skips)
        result.regexHits = frozenset(planner.regexHits)
        changes_apply(dataset, planner.changes)
        result.analyzed = True
        result.changes = tuple(planner.changes)
        if result.changes:
            result.tiffPreamble = preamble_clear(dataset)
        if self.options.dryRun:
            encoded: io.BytesIO | NullStream = io.BytesIO() if self.options.verify else NullStream()
            dataset_encode(dataset, encoded)  # what pydicom cannot encode fails here too
            del dataset  # --verify parses the output again: the data set need not be held as well
            if isinstance(encoded, io.BytesIO):
                self.output_verify(result, encoded.getvalue())
            result.outcome = "planned"
            return
        result.tempPath = dataset_write(dataset, self.tempDir, result.outputPath)
        if self.options.inPlace:
            shutil.copymode(task.inputPath, result.tempPath)
        del dataset
        if self.options.verify:
            self.output_verify(result, result.tempPath)
        result.outcome = "written"

    def output_verify(self, result: FileResult, output: bytes | str) -> None:
        """``--verify``: search the output (bytes, or the temporary file) for the original values.

        Raises:
            VerifyError: an original value was found, or the output cannot be read back; the
                temporary file is removed.
        """
        try:
            hits: list[Hit] = output_verify(output, result.changes)
        except Exception as err:  # an output pydicom cannot read back is not known to be clean
            temp_discard(result)
            result.verified = "failed"
            raise VerifyError(  # the library's words may quote a value: the record keeps only its kind
                f"--verify: the output cannot be read back: {line_first(err)}",
                f"--verify: the output cannot be read back: {type(err).__name__}",
            ) from None
        result.verified = "failed" if hits else "clean"
        if hits:
            temp_discard(result)
            raise VerifyError(hits_describe(hits))
