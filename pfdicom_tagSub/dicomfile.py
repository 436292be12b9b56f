"""One DICOM file: read it, plan its changes, apply them, write it; the per-file error boundary.

A file goes through ``FileJob.file_process``: read with pydicom (a file that is not DICOM is
recognised and skipped, one cut short is refused), planned (``plan``: a list of changes, every
result checked for its element), the changes applied, and the output written under a temporary
name for the parent to place (``output``); with ``--verify``, that file is searched for the
original values (``verify``) and removed if one is found. A file takes the header-only way
where it can (``headeronly``: its header read, planned and written by pydicom, its pixel data
and what follows copied from the input), else the whole read, which is the way of every file it
does not cover and says what is wrong with one. Whatever goes wrong with one file is caught here
and recorded in its result, so that its neighbours carry on.

Key components:
    - dicom_read: a path to a Dataset, or NotDicomError / DicomReadError, in bounded work
    - FileJob: the per-file work, picklable so that worker processes can run it
    - changes_take, output_check, failure_record: applying, ``--verify``, recording a failure

Typical usage:
    job = FileJob(options, rules_compile(tagStruct), stem=None)
    result = job.file_process(FileTask("/in/a/1.dcm", "/out/a"))

Dependencies:
    - pydicom, to read
    - pfdicom_tagSub.bounds (the bounds on a hostile file's work), whole (a file read whole)
    - pfdicom_tagSub.headeronly, plan, output, functions, rules, verify
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import stat
import struct
import zlib
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import dcmread

from pfdicom_tagSub.bounds import (
    DEPTH_MAX,
    FileReader,
    depth_check,
    head_isPlausible,
    inflated_check,
)
from pfdicom_tagSub.encode import NullStream, dataset_encode
from pfdicom_tagSub.errors import DicomReadError, FileError, NotDicomError, VerifyError, line_first
from pfdicom_tagSub.functions import FUNCTIONS, Context
from pfdicom_tagSub.headeronly import HeaderFile, WholeReadNeeded, headerFile_read, rules_reachPixels
from pfdicom_tagSub.models import FileResult, FileTask, ReferencePiece, TagSubOptions, Template
from pfdicom_tagSub.output import (
    dataset_write,
    outputName_make,
    temp_discard,
)
from pfdicom_tagSub.plan import Planner, changes_apply, plan
from pfdicom_tagSub.rules import RuleSet
from pfdicom_tagSub.whole import DELIMITER_BYTES, dataset_checkWhole, dataset_hasContent

PREAMBLE_BYTES: int = 128
TIFF_HEADERS: frozenset[bytes] = frozenset({b"II*\x00", b"MM\x00*"})
DICOM_PREFIX: bytes = b"DICM"
HEAD_BYTES: int = 1024  # the preamble, and enough of the file meta to see its transfer syntax
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


def failure_record(result: FileResult, err: Exception) -> None:
    """Record why a file was not written: not DICOM, a file error, a read error, or anything else
    (the library's words may quote a value: they are shown only at verbosity 5)."""
    if isinstance(err, NotDicomError):
        result.outcome, result.reason = "notDicom", str(err)
    elif isinstance(err, FileError):
        result.outcome, result.reason, result.message = (
            "failed",
            f"{err.what}: {err.safe}",
            f"{err.what}: {err}",
        )
    elif isinstance(err, OSError):
        result.outcome, result.reason = "failed", f"cannot read: {err.strerror or err}"
    else:
        result.outcome, result.reason, result.message = (
            "failed",
            f"cannot be processed: {type(err).__name__}",
            f"cannot be processed: {type(err).__name__}: {line_first(err)}",
        )


def functions_preload(templates: list[Template]) -> None:
    """Load what the functions the templates use load on their first call (Faker)."""
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


def changes_take(dataset: Dataset, planner: Planner, result: FileResult) -> None:
    """Apply the planned changes and record them; a changed file's preamble is cleared."""
    changes_apply(dataset, planner.changes)
    result.analyzed = True
    result.changes = tuple(planner.changes)
    if result.changes:
        result.tiffPreamble = preamble_clear(dataset)


def output_check(result: FileResult, output: bytes | str) -> None:
    """``--verify``: search the output (bytes, or the temporary file) for the original values.

    Raises:
        VerifyError: an original value was found, or the output cannot be read back; the
            temporary file is removed.
    """
    from pfdicom_tagSub.verify import Hit, hits_describe, output_verify

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
        headerOnly: files may take the header-only way (``headeronly``); False when the rules or
            the output name may reach pixel data, and to have every file read whole.
    """

    options: TagSubOptions
    ruleset: RuleSet
    stem: Template | None = None
    tempDir: str = ""
    context: Context = field(default_factory=Context)
    headerOnly: bool = True

    def __post_init__(self) -> None:
        self.headerOnly = self.headerOnly and not rules_reachPixels(self.ruleset, self.stem)

    def libraries_load(self) -> None:
        """Load what the first file would load, before worker processes are forked.

        Forked workers then share it instead of each loading it (Faker: a tenth of a second of
        CPU per worker) while the others need the cores.
        """
        functions_preload([rule.template for rule in self.ruleset.rules] + ([self.stem] if self.stem else []))

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
        except Exception as err:  # a file that breaks the parser must not stop its neighbours
            failure_record(result, err)
        return result

    def file_transform(self, task: FileTask, result: FileResult, inputName: str) -> None:
        """The steps of ``file_process``, raising on the first problem: the header-only way where
        it covers the file, else the whole read."""
        header: HeaderFile | None = headerFile_read(task.inputPath) if self.headerOnly else None
        if header is not None:
            attempt: FileResult = dataclasses.replace(result)
            try:
                output: bytes | str | None = self.header_transform(task, attempt, inputName, header)
            except Exception:  # not covered, or wrong: the whole read meets it and says what is wrong
                pass
            else:
                vars(result).update(vars(attempt))
                self.output_finish(result, output)
                return
        self.whole_transform(task, result, inputName)

    def header_transform(
        self, task: FileTask, result: FileResult, inputName: str, header: HeaderFile
    ) -> bytes | str | None:
        """The header-only way: the header planned and written by pydicom, the pixel data and
        what follows it copied; the output (``output_finish``).

        Raises:
            WholeReadNeeded: the changes or the file are not what this way covers.
        """
        dataset: Dataset = header.dataset
        planner: Planner | None = self.dataset_plan(dataset, task, result, inputName)
        if planner is None:
            return None
        if not header.fits(planner.changes):
            raise WholeReadNeeded("a change at or after the pixel data")
        changes_take(dataset, planner, result)
        data: bytes | None = header.encode(dataset)
        if data is None:
            raise WholeReadNeeded("pydicom would write it otherwise")
        result.spliced = True
        if self.options.dryRun:
            return header.bytes_make(data) if self.options.verify else None
        result.tempPath = header.write(data, self.tempDir, result.outputPath)
        return result.tempPath

    def whole_transform(self, task: FileTask, result: FileResult, inputName: str) -> None:
        """The whole read: the file read, planned and written whole by pydicom."""
        dataset: Dataset = dicom_read(task.inputPath)
        planner: Planner | None = self.dataset_plan(dataset, task, result, inputName)
        if planner is None:
            return
        changes_take(dataset, planner, result)
        if self.options.dryRun:
            encoded: io.BytesIO | NullStream = io.BytesIO() if self.options.verify else NullStream()
            dataset_encode(dataset, encoded)  # what pydicom cannot encode fails here too
            del dataset  # --verify parses the output again: the data set need not be held as well
            self.output_finish(result, encoded.getvalue() if isinstance(encoded, io.BytesIO) else None)
            return
        result.tempPath = dataset_write(dataset, self.tempDir, result.outputPath)
        del dataset
        self.output_finish(result, result.tempPath)

    def dataset_plan(
        self, dataset: Dataset, task: FileTask, result: FileResult, inputName: str
    ) -> Planner | None:
        """Name the output and plan the changes of a file read; None when its output exists and is kept."""
        result.read = True
        if self.stem is not None:
            name: str = outputName_make(dataset, self.stem, inputName, self.context)
            result.outputPath = os.path.join(task.outputDir, name)
            if self.outputExists(result):
                return None
        planner: Planner = plan(
            dataset, self.ruleset, self.options.topLevelOnly, self.options.removePrivateTags, self.context
        )
        result.skips = tuple(planner.skips)
        result.regexHits = frozenset(planner.regexHits)
        return planner

    def output_finish(self, result: FileResult, output: bytes | str | None) -> None:
        """The written (or, in a dry run, encoded) output: its mode, ``--verify``, its outcome."""
        if result.outcome == "exists":
            return
        if not self.options.dryRun and self.options.inPlace:
            shutil.copymode(result.inputPath, result.tempPath)
        if self.options.verify and output is not None:
            output_check(result, output)
        result.outcome = "planned" if self.options.dryRun else "written"
