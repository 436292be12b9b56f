"""What the safety tests share: synthetic DICOM with identifiers, strict tree snapshots, and the
installed console script run as a process that the operating system restricts (no permission
override, a file-size limit).

Every DICOM file here is built with pydicom from made-up values; no real patient is in any of them.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pydicom
from pydicom import config as pydicomConfig
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from tests.conftest import CliRun, console_script

UID_ROOT: str = "2.25.4242"
PR_CAPBSET_DROP: int = 24
CAP_DAC_OVERRIDE: int = 1
CAP_DAC_READ_SEARCH: int = 2
ERROR_PREFIX: str = "pfdicom_tagSub: error: "

Entry = tuple[str, int, bytes]


def pixels_make(size: int) -> bytes:
    """A size x size 16-bit image whose bytes are not all alike."""
    return bytes((index * 7 + 3) % 251 for index in range(size * size * 2))


def image_dataset(
    number: int,
    *,
    patientName: str = "DOE^JANE",
    patientID: str = "MRN000123",
    charset: str | None = "ISO_IR 192",
    size: int = 8,
    syntax: str = ExplicitVRLittleEndian,
) -> Dataset:
    """A small secondary-capture image with identifiers at the top level, file meta included.

    Hostile values (too long, control characters) are taken as given, as a stranger's file holds them.
    """
    with pydicomConfig.disable_value_validation():
        return image_build(number, patientName, patientID, charset, size, syntax)


def image_build(
    number: int, patientName: str, patientID: str, charset: str | None, size: int, syntax: str
) -> Dataset:
    """The data set of ``image_dataset``."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.{number}")
    dataset.file_meta.TransferSyntaxUID = UID(syntax)
    if charset is not None:
        dataset.SpecificCharacterSet = charset
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = f"{UID_ROOT}.{number}"
    dataset.StudyDate = "20240115"
    dataset.AccessionNumber = f"ACC{number:06d}"
    dataset.Modality = "OT"
    dataset.InstitutionName = "General Hospital"
    dataset.ReferringPhysicianName = "HOUSE^GREGORY"
    dataset.StudyDescription = f"study {number}"
    dataset.PatientName = patientName
    dataset.PatientID = patientID
    dataset.PatientBirthDate = "19800315"
    dataset.StudyInstanceUID = f"{UID_ROOT}.1.{number}"
    dataset.SeriesInstanceUID = f"{UID_ROOT}.2.{number}"
    dataset.InstanceNumber = number
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.Rows = size
    dataset.Columns = size
    dataset.BitsAllocated = 16
    dataset.BitsStored = 12
    dataset.HighBit = 11
    dataset.PixelRepresentation = 0
    dataset.PixelData = pixels_make(size)
    return dataset


def sequence_add(dataset: Dataset, *, undefinedLength: bool) -> Dataset:
    """Give a data set an OtherPatientIDsSequence of two items, each with identifiers."""
    items: list[Dataset] = []
    for index in range(2):
        item = Dataset()
        item.PatientID = f"OTHER-{index:04d}"
        item.IssuerOfPatientID = "Regional Registry"
        items.append(item)
    dataset.OtherPatientIDsSequence = Sequence(items)
    dataset["OtherPatientIDsSequence"].is_undefined_length = undefinedLength
    return dataset


def dataset_bytes(dataset: Dataset) -> bytes:
    """A data set as the bytes of a DICOM file (preamble, file meta, its own transfer syntax)."""
    buffer = BytesIO()
    with pydicomConfig.disable_value_validation():
        dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def dataset_save(dataset: Dataset, path: Path, *, filePreamble: bool = True) -> Path:
    """Save a data set; without ``filePreamble``, as a bare data set (no preamble, no file meta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with pydicomConfig.disable_value_validation():
        if filePreamble:
            dataset.save_as(path, enforce_file_format=True)
        else:
            bare: Dataset = Dataset(dataset)
            bare.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=False)
    return path


def element_offset(data: bytes, keyword: str) -> int:
    """Where an element's value starts in a file's bytes, found by reading it with pydicom."""
    dataset: Dataset = pydicom.dcmread(BytesIO(data))
    element: object = dataset.get_item(keyword)
    return int(getattr(element, "value_tell", None) or getattr(element, "file_tell"))  # noqa: B009


def tree_state(root: Path) -> dict[str, Entry]:
    """Every entry under a tree, without following links: kind, permission bits and content.

    Files give their bytes, links their target, directories nothing; so two states are equal
    only if nothing was created, removed, renamed, rewritten, re-linked or re-permissioned.
    """
    state: dict[str, Entry] = {}
    for directory, dirNames, fileNames in os.walk(root, followlinks=False):
        for name in [*dirNames, *fileNames]:
            path: Path = Path(directory) / name
            status: os.stat_result = path.lstat()
            relative: str = str(path.relative_to(root))
            mode: int = status.st_mode & 0o7777
            if path.is_symlink():
                state[relative] = ("link", mode, os.readlink(path).encode())
            elif path.is_dir():
                state[relative] = ("dir", mode, b"")
            elif path.is_file() and os.access(path, os.R_OK):
                state[relative] = ("file", mode, path.read_bytes())
            elif path.is_file():  # unreadable to this user: its size and times stand for its bytes
                state[relative] = ("file", mode, f"{status.st_size} {status.st_mtime_ns}".encode())
            else:
                state[relative] = ("other", mode, b"")
    return state


def files_under(root: Path) -> list[str]:
    """Every non-directory entry under a tree (hidden ones included), relative, sorted."""
    if not root.exists():
        return []
    return sorted(
        str((Path(directory) / name).relative_to(root))
        for directory, _dirs, names in os.walk(root, followlinks=False)
        for name in names
    )


def error_lines(text: str) -> list[str]:
    """The ``pfdicom_tagSub: error:`` lines of a stream."""
    return [line for line in text.splitlines() if line.startswith(ERROR_PREFIX)]


def capabilities_drop() -> None:
    """In the child before exec: give up the root powers that bypass file permissions.

    Run as root (as this project's CI is), mode 000 would not stop a read. Dropping
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set leaves the new program
    uid 0 but bound by permission bits like any other user.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            error: int = ctypes.get_errno()
            raise OSError(error, os.strerror(error))


def unprivileged_preexec() -> Callable[[], None] | None:
    """What to run in the child so that permission bits bind it: nothing for a normal user."""
    return capabilities_drop if os.geteuid() == 0 else None


def unprivileged_refusal(directory: Path) -> str:
    """Why a restricted child could still read a mode 000 file; '' when it is refused as it should be."""
    probe: Path = directory / ".permission-probe"
    probe.write_bytes(b"probe")
    probe.chmod(0)
    try:
        done = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}, 'rb')"],
            preexec_fn=unprivileged_preexec(),
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return f"cannot start a process without root's permission override: {err}"
    finally:
        probe.unlink()
    if "PermissionError" in done.stderr:
        return ""
    return f"a process without root's permission override still opens a mode 000 file {done.stderr[-200:]}"


def fileSizeLimit(limit: int) -> Callable[[], None]:
    """In the child: no file may grow beyond ``limit`` bytes (writes then fail with EFBIG)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def script_runRestricted(*args: object, preexec: Callable[[], None] | None) -> CliRun:
    """Run the installed console script in a subprocess restricted by ``preexec``."""
    done = subprocess.run(
        [str(console_script()), *[str(arg) for arg in args]],
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=120,
    )
    return CliRun(done.returncode, done.stdout, done.stderr)
