"""Outputs: their names, their temporary files, and the atomic step from one to the other.

This module alone owns "temporary name -> final name". Each run writes its temporary files in a
directory of its own at the output root (``TempDir``: ``.pfdicom_tagSub-tmp-<host>-<pid>-<nonce>``,
holding an owner file that says so), never beside an output, so a temporary file can never be
taken for an input or an output, and an input can never be taken for one. A worker writes a whole
file there (``dataset_write``); the parent claims the final name in input order and places the
file atomically (``OutputCommitter``), so that an output appears whole or not at all and two
inputs never share one output. The run removes its directory when it ends; one a killed run
left is removed by the next run on the same host (``tempDirs_sweep``), once its owner is gone.

Key components:
    - name_safe, suffix_of, outputName_make: the output file's name
    - TempDir, tempDir_owner, tempDirs_sweep: the run's temporary directory, and stale ones
    - dataset_write: a data set written whole under a temporary name (``encode`` encodes it)
    - temp_write: a file written under a temporary name by a given function (the header-only write)
    - output_place: the atomic, no-clobber rename of a finished output
    - OutputCommitter: the parent's claims and placements, in input order
    - runOutput_prepare, tempDir_create: the output root created and proved writable; the run's
      temporary directory

Typical usage:
    result.tempPath = dataset_write(dataset, "/out/a")
    OutputCommitter(overwrite=False).commit(result)

Dependencies:
    - pydicom, to write the data set
    - pfdicom_tagSub.directories, the output directories
    - pfdicom_tagSub.template, plan, for ``--outputFileStem``
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import re
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from pfdicom_tagSub.directories import OutputDirs
from pfdicom_tagSub.encode import dataset_encode
from pfdicom_tagSub.errors import OutputError, RunError, oserror_reason
from pfdicom_tagSub.functions import Context
from pfdicom_tagSub.models import FileResult, Template
from pfdicom_tagSub.plan import lookup_make, scope_make
from pfdicom_tagSub.template import Absent, template_evaluate

TEMP_PREFIX: str = ".pfdicom_tagSub-tmp-"
TEMP_NAME = re.compile(r"\.pfdicom_tagSub-tmp-(?P<host>[A-Za-z0-9_.-]*)-(?P<pid>[0-9]+)-[0-9a-f]{16}")
TEMP_OWNER: str = ".pfdicom_tagSub-owner"
TEMP_OWNER_HEADER: str = "pfdicom_tagSub: temporary files of one run; removed when the run ends"
NAME_BYTES_MAX: int = 255
UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")
LINK_UNSUPPORTED: frozenset[int] = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}
)
_tempCounter: itertools.count[int] = itertools.count()


def name_safe(stem: str, suffix: str) -> str:
    """A template's result made one file name: no separators, NUL or control characters, not ``.``
    or ``..``, at most 255 bytes with the suffix.

    Example:
        >>> name_safe("../../etc", ".dcm")
        '.._.._etc.dcm'
    """
    cleaned: str = UNSAFE_NAME.sub("_", stem)
    if cleaned in ("", ".", ".."):
        cleaned = "_" * max(1, len(cleaned))
    budget: int = NAME_BYTES_MAX - len(suffix.encode("utf-8"))
    cleaned = cleaned.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return cleaned + suffix


def suffix_of(name: str) -> str:
    """A file name's extension as ``PurePath.suffix`` gives it, without pathlib interning the name.

    Example:
        >>> suffix_of("IM1.dcm"), suffix_of(".hidden"), suffix_of("a."), suffix_of("x.tar.gz")
        ('.dcm', '', '', '.gz')
    """
    dot: int = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def outputName_make(dataset: Dataset, stem: Template | None, inputName: str, context: Context) -> str:
    """The output file's name: the input's, or the stem template's result plus the input's extension.

    Raises:
        OutputError: the stem references an element the file lacks, or a function cannot take it.
    """
    if stem is None:
        return inputName
    try:
        text: str | Absent = template_evaluate(
            stem, "", lookup_make([dataset]), scope_make([dataset], context)
        )
    except ValueError as err:
        raise OutputError(f"--outputFileStem {stem.source!r}: {err}") from None
    if isinstance(text, Absent):
        raise OutputError(f"--outputFileStem {stem.source!r} needs {text}, which the file lacks")
    return name_safe(text, suffix_of(inputName))


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


@functools.cache
def host_name() -> str:
    """This host's name as a temporary name holds it (letters, digits, ``_.-``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())


def tempDir_owner(path: str) -> tuple[str, int] | None:
    """The (host, pid) of the run that owns a temporary directory; None for anything else.

    A directory is a run's only when its name has the form a run gives and it holds the owner
    file a run writes, naming that same host and process: an input never has both by chance.
    """
    match: re.Match[str] | None = TEMP_NAME.fullmatch(os.path.basename(path))
    if match is None:
        return None
    try:
        with open(os.path.join(path, TEMP_OWNER), encoding="utf-8") as owner:
            lines: list[str] = owner.read(4096).splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    expected: list[str] = [TEMP_OWNER_HEADER, f"host {match['host']}", f"pid {match['pid']}"]
    return (match["host"], int(match["pid"])) if lines == expected else None


def tempDirs_sweep(root: str) -> None:
    """Remove the temporary directories that killed runs on this host left at an output root."""
    host: str = host_name()
    try:
        entries: list[os.DirEntry[str]] = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        owner: tuple[str, int] | None = tempDir_owner(entry.path)
        if owner is not None and owner[0] == host and not process_isRunning(owner[1]):
            shutil.rmtree(entry.path, ignore_errors=True)


@dataclass(frozen=True)
class TempDir:
    """A run's temporary directory at its output root, where every output is written before it is placed.

    Attributes:
        path: the directory.
    """

    path: str

    @classmethod
    def create(cls, root: str) -> TempDir:
        """Create the run's directory (mode 0700: it holds identifiers for a moment) and its owner file.

        Raises:
            OSError: it cannot be created.
        """
        host: str = host_name()
        path: str = os.path.join(root, f"{TEMP_PREFIX}{host}-{os.getpid()}-{secrets.token_hex(8)}")
        os.mkdir(path, 0o700)
        try:
            with open(os.path.join(path, TEMP_OWNER), "w", encoding="utf-8") as owner:
                owner.write(f"{TEMP_OWNER_HEADER}\nhost {host}\npid {os.getpid()}\n")
        except BaseException:  # without its owner file no later run would ever remove it
            shutil.rmtree(path, ignore_errors=True)
            raise
        return cls(path)

    def remove(self) -> None:
        """Remove the directory and whatever is left in it (a dead worker's half-written file, say)."""
        for _attempt in range(3):  # a --dask worker may add a file while it is removed, none once it is gone
            shutil.rmtree(self.path, ignore_errors=True)


def dataset_write(dataset: Dataset, directory: str, finalPath: str) -> str:
    """Write a data set under a new name in the run's temporary directory; return that name.

    The encoding, preamble (or its absence) and file meta are the file's own.

    Raises:
        OutputError: the file cannot be written (the partial temporary file is removed); it names
            the output the user will look for, ``finalPath``.
    """

    def fill(descriptor: int) -> None:
        with os.fdopen(descriptor, "wb", closefd=False) as stream:
            dataset_encode(dataset, stream)

    return temp_write(directory, finalPath, fill)


def temp_write(directory: str, finalPath: str, fill: Callable[[int], None]) -> str:
    """Create a file under a new name in the run's temporary directory, have ``fill`` write it
    (given its descriptor); return that name.

    Raises:
        OutputError: the file cannot be written (the partial temporary file is removed); it names
            the output the user will look for, ``finalPath``.
    """
    # host and pid: workers of one run on several machines (--dask) share the directory
    tempPath: str = os.path.join(directory, f"{host_name()}-{os.getpid()}-{next(_tempCounter)}.dcm")
    try:
        descriptor: int = os.open(tempPath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        try:
            fill(descriptor)
        finally:
            os.close(descriptor)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tempPath)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {finalPath}: {oserror_reason(err)}") from None
        raise
    return tempPath


def output_place(tempPath: str, finalPath: str, overwrite: bool) -> bool:
    """Give a finished temporary output its final name, atomically.

    Without ``overwrite`` an existing final file is never replaced, even one created a moment
    ago by another process: the name is taken with a hard link, which fails if it exists.

    Returns:
        True when placed, False when the final name exists and was kept.
    """
    try:
        return output_link(tempPath, finalPath, overwrite)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
    # the final directory is another file system (a mount inside the output tree): copy the file
    # there under a name of its own first, so that the final name still appears whole or not at all
    near: str = os.path.join(os.path.dirname(finalPath), f".{os.path.basename(finalPath)}.{os.getpid()}.part")
    try:
        shutil.copyfile(tempPath, near)
        os.unlink(tempPath)
        return output_link(near, finalPath, overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(near)


def output_link(tempPath: str, finalPath: str, overwrite: bool) -> bool:
    """``output_place`` within one file system."""
    if overwrite:
        os.replace(tempPath, finalPath)
        return True
    try:
        os.link(tempPath, finalPath)
    except FileExistsError:
        os.unlink(tempPath)
        return False
    except OSError as err:
        if err.errno not in LINK_UNSUPPORTED or err.errno == errno.EXDEV:
            raise
        if os.path.lexists(finalPath):
            os.unlink(tempPath)
            return False
        os.replace(tempPath, finalPath)
        return True
    os.unlink(tempPath)
    return True


def temp_discard(result: FileResult) -> None:
    """Remove a result's temporary output, if any."""
    if result.tempPath:
        with contextlib.suppress(OSError):
            os.unlink(result.tempPath)
        result.tempPath = ""


@dataclass
class OutputCommitter:
    """The parent's side of the output protocol: claim each output name, then place the file.

    Results are committed in input order, so when two inputs map to one output name the later
    one fails, with both named, and nothing is overwritten.

    Attributes:
        overwrite: replace final files that exist.
        outputDirs: the output directories, created as outputs are placed.
        claims: output path to the input that claimed it, for the current directory.
        claimsDir: the directory whose claims are held.
    """

    overwrite: bool
    outputDirs: OutputDirs = field(default_factory=OutputDirs)
    claims: dict[str, str] = field(default_factory=dict)
    claimsDir: str = ""

    def commit(self, result: FileResult) -> None:
        """Claim the output name for this input and give the output its final name."""
        if result.outcome not in ("written", "planned", "exists"):
            return
        directory: str = os.path.dirname(result.outputPath)
        if directory != self.claimsDir:
            self.claims.clear()
            self.claimsDir = directory
        claimant: str | None = self.claims.get(result.outputPath)
        if claimant is not None:
            temp_discard(result)
            result.outcome = "failed"
            result.reason = (
                f"not written: its output name {result.outputPath} is already the output of {claimant}"
            )
            return
        self.claims[result.outputPath] = result.inputPath
        if result.outcome == "written":
            self.place(result)

    def place(self, result: FileResult) -> None:
        """Move a claimed output from its temporary name to its final one."""
        try:
            self.outputDirs.prepare(os.path.dirname(result.outputPath))
            placed: bool = output_place(result.tempPath, result.outputPath, self.overwrite)
        except OutputError as err:
            temp_discard(result)
            result.outcome, result.reason = "failed", f"not written: {err}"
            return
        except OSError as err:
            temp_discard(result)
            result.outcome, result.reason = (
                "failed",
                f"not written: {result.outputPath}: {err.strerror or err}",
            )
            return
        result.tempPath = ""
        if not placed:
            result.outcome, result.reason = "exists", "output appeared meanwhile, kept"


def runOutput_prepare(root: Path, dryRun: bool, outputDirs: OutputDirs) -> None:
    """Prepare a run's output root: created (and noted in ``outputDirs``) and writable, the stale
    temporary directories of killed runs swept; a dry run only checks that it could be written.

    Raises:
        RunError: it cannot be created or written.
    """
    if dryRun:
        existing: Path = root
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RunError(f"output directory {root}: cannot write: Permission denied")
        return
    try:
        outputDirs.prepare(str(root))
    except OutputError as err:
        raise RunError(str(err)) from None
    try:
        # a nameless file where the system allows (O_TMPFILE): a kill leaves nothing behind
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as err:
        raise RunError(f"output directory {root}: cannot write: {err.strerror or err}") from None
    tempDirs_sweep(str(root))


def tempDir_create(root: Path) -> TempDir:
    """The run's temporary directory at the output root.

    Raises:
        RunError: it cannot be created.
    """
    try:
        return TempDir.create(str(root))
    except OSError as err:
        raise RunError(f"output directory {root}: cannot write: {err.strerror or err}") from None
