"""Bounded work for hostile files: each fails alone, in seconds, under 512 MB, with a clear reason.

Each scenario puts one hostile thing beside two good files (``in/a/good1.dcm``, ``in/z/good2.dcm``)
and runs the installed command under a 512 MB address-space cap and a 30 s limit (4.0 took 96 s
on the zero-filled file, and 21 GB on the nested one). It asserts the one line the user sees and
the exit code, that nothing but the output tree changed, that no temporary file is left, and
that the good files were written.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from tests.safety_support import dataset_bytes, dataset_save, files_under, image_dataset
from tests.scenario_support import (
    GOOD,
    RULES,
    Sandbox,
    command_measure,
    line_assert,
    observation_record,
    temporaries,
    written_assert,
)

TIME_LIMIT: float = 30.0
MB: int = 1 << 20
BAD: str = "m/bad.dcm"


def nested_dataset(levels: int, undefinedLength: bool) -> Dataset:
    """An image whose OtherPatientIDsSequence nests ``levels`` deep, each item with identifiers."""
    inner: Dataset = Dataset()
    inner.PatientID = "DEEPEST"
    for level in range(levels - 1):
        outer: Dataset = Dataset()
        outer.PatientID = f"DEEP-{level:04d}"
        outer.IssuerOfPatientID = "a registry whose name is long enough to make each level count" * 2
        outer.OtherPatientIDsSequence = Sequence([inner])
        outer["OtherPatientIDsSequence"].is_undefined_length = undefinedLength
        inner = outer
    dataset: Dataset = image_dataset(3, patientID="MRN-3")
    dataset.OtherPatientIDsSequence = Sequence([inner])
    dataset["OtherPatientIDsSequence"].is_undefined_length = undefinedLength
    return dataset


def nested_write(levels: int, undefinedLength: bool) -> Callable[[Path], None]:
    """The nested file, written by pydicom (whose writer recurses once per level)."""

    def write(path: Path) -> None:
        limit: int = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20 * levels))
        try:
            dataset_save(nested_dataset(levels, undefinedLength), path)
        finally:
            sys.setrecursionlimit(limit)

    return write


def meta_bytes(syntax: str) -> bytes:
    """Preamble, DICM and file meta of a file in this transfer syntax, without its data set."""
    data: bytes = dataset_bytes(image_dataset(5, syntax=syntax))
    groupLength: int = struct.unpack("<I", data[140:144])[0]  # (0002,0000) UL, explicit little endian
    return data[: 144 + groupLength]


def deflate_bomb() -> bytes:
    """A deflated data set of 1 GB of zero bytes: about a megabyte on disk.

    Each block of 16 MB is deflated after a full flush, which makes its bytes independent of the
    ones before: the same bytes, 64 times, then the final block.
    """
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block: bytes = deflater.compress(bytes(16 * MB)) + deflater.flush(zlib.Z_FULL_FLUSH)
    return meta_bytes(DeflatedExplicitVRLittleEndian) + block * 64 + deflater.flush()


def lying_length() -> bytes:
    """A whole image, then a private OB element whose length claims 4 GB in a file of a kilobyte."""
    claim: bytes = b"\x09\x00\x10\x10OB\x00\x00" + struct.pack("<I", 0xF0000000) + b"short"
    return dataset_bytes(image_dataset(3, patientID="MRN-3")) + claim


def bytes_write(make: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(make())


@dataclass(frozen=True)
class Hostile:
    """One hostile file and what the user must see of it (``{bad}`` stands for its path)."""

    name: str
    write: Callable[[Path], None]
    code: int
    seen: str
    written: tuple[str, ...] = GOOD


HOSTILE: list[Hostile] = [
    Hostile(
        "260_nested_defined_length_sequences",
        nested_write(260, undefinedLength=False),
        1,
        "{bad}: cannot be read: sequences nested deeper than 64 levels \\(the limit\\), in "
        "OtherPatientIDsSequence",
    ),
    Hostile(
        "260_nested_undefined_length_sequences",
        nested_write(260, undefinedLength=True),
        1,
        "{bad}: cannot be read: sequences nested deeper than 64 levels \\(the limit\\).*",
    ),
    Hostile(
        "64_nested_sequences_the_limit_is_written",
        nested_write(64, undefinedLength=False),
        0,
        r"3 files found: 3 read, 3 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        (*GOOD, BAD),
    ),
    Hostile(
        "64_MB_of_zeros_named_dcm",
        bytes_write(lambda: bytes(64 * MB)),
        0,
        "  {bad}: no DICM prefix at byte 128 and no DICOM data set at the start",
    ),
    Hostile(
        "DICM_prefix_then_64_MB_of_zeros",
        bytes_write(lambda: bytes(128) + b"DICM" + bytes(64 * MB)),
        1,
        "{bad}: cannot be read: zero bytes where DICOM elements should be \\(from byte 132\\)",
    ),
    Hostile(
        "file_meta_then_64_MB_of_zeros",
        bytes_write(lambda: meta_bytes(ExplicitVRLittleEndian) + bytes(64 * MB)),
        1,
        "{bad}: cannot be read: zero bytes where DICOM elements should be \\(from byte \\d+\\)",
    ),
    Hostile(
        "a_bare_data_set_then_64_MB_of_zeros",
        bytes_write(lambda: b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + bytes(64 * MB)),
        0,
        "  {bad}: no DICM prefix and not a readable data set \\(zero bytes where DICOM elements "
        "should be \\(from byte 18\\)\\)",
    ),
    Hostile(
        "a_length_claiming_4_GB",
        bytes_write(lying_length),
        1,
        "{bad}: cannot be read: truncated: \\(0009,1010\\) is shorter than its header says",
    ),
    Hostile(
        "a_1_MB_deflate_bomb_of_1_GB",
        bytes_write(deflate_bomb),
        1,
        "{bad}: cannot be read: its deflated data set inflates to more than 128 MB \\(the limit\\): "
        "refused as a possible deflate bomb",
    ),
]


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path / "sandbox").make()


@pytest.mark.parametrize("threads", ["0", "2"], ids=["in the main process", "in a worker"])
@pytest.mark.parametrize("hostile", HOSTILE, ids=[hostile.name for hostile in HOSTILE])
def test_a_hostile_file_fails_alone_quickly_in_bounded_memory(
    sandbox: Sandbox, hostile: Hostile, threads: str
) -> None:
    bad: Path = sandbox.input / BAD
    bad.parent.mkdir(parents=True)
    hostile.write(bad)
    before = sandbox.state()

    run = command_measure(
        "-I", sandbox.input, "-O", sandbox.output, "-T", RULES, "--threads", threads, timeLimit=TIME_LIMIT
    )

    line: str = line_assert(run, hostile.code, hostile.seen.replace("{bad}", re.escape(str(bad))))
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    assert files_under(sandbox.output) == sorted(hostile.written)
    written_assert(sandbox.output)
    if BAD in hostile.written:
        assert pydicom.dcmread(sandbox.output / BAD).PatientID != "MRN-3"
    observation_record(f"{hostile.name} (--threads {threads})", line, run)


@pytest.mark.parametrize("source", ["/dev/zero", "huge"])
def test_an_endless_or_huge_rules_file_is_refused_past_a_size_limit(sandbox: Sandbox, source: str) -> None:
    rules: Path = Path(source)
    if source == "huge":
        rules = sandbox.root / "outside" / "rules.json"
        rules.write_text('{"PatientName": "' + "x" * (17 * MB) + '"}')
    before = sandbox.state()

    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-F", rules, timeLimit=TIME_LIMIT)

    line: str = line_assert(
        run, 2, re.escape(f"--tagFile {rules}: more than 16 MB (the limit): not a rules file")
    )
    assert sandbox.state() == before and not sandbox.output.exists()
    observation_record(f"-F {source}", line, run)


def test_a_tree_500_directories_deep_is_walked_to_a_limit_that_is_named_and_the_rest_is_written(
    sandbox: Sandbox,
) -> None:
    def below(depth: int) -> Path:  # the directory that many levels below the input directory
        return sandbox.input.joinpath(*["d"] * depth)

    for depth in (5, 128, 129, 500):
        dataset_save(image_dataset(depth, patientID=f"MRN-{depth}"), below(depth) / "IM.dcm")
    before = sandbox.state()

    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES, timeLimit=TIME_LIMIT)

    line: str = line_assert(
        run, 1, re.escape(f"not walked: {below(129)}: more than 128 directories below the input directory")
    )
    inside: tuple[str, ...] = tuple(
        str(below(depth).relative_to(sandbox.input) / "IM.dcm") for depth in (5, 128)
    )
    assert files_under(sandbox.output) == sorted((*GOOD, *inside))
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    written_assert(sandbox.output, (*GOOD, *inside))
    observation_record("a tree 500 directories deep", line, run)


def test_a_negative_thread_count_is_refused(sandbox: Sandbox) -> None:
    before = sandbox.state()
    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES, "--threads", "-1")
    line: str = line_assert(run, 2, re.escape("--threads -1: the number of workers must be 0 or more"))
    assert sandbox.state() == before and not sandbox.output.exists()
    observation_record("--threads -1", line, run)


def cores_usable() -> int:
    """The cores this process may use, as the system says: affinity, then a cgroup v2 quota."""
    cores: int = len(os.sched_getaffinity(0))
    limit: Path = Path("/sys/fs/cgroup/cpu.max")
    if limit.exists():
        quota, period = limit.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, -(-int(quota) // int(period)))
    return cores


def test_more_workers_than_files_or_cores_are_capped_with_a_note(sandbox: Sandbox) -> None:
    cores: int = cores_usable()
    expected: str = (
        f"--threads 64: {len(GOOD)} workers, one per file"
        if len(GOOD) <= cores
        else f"--threads 64: {cores} worker{'s' if cores > 1 else ''}, as many as the {cores} usable core"
        + ("s" if cores > 1 else "")
    )
    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES, "--threads", "64")
    line: str = line_assert(run, 0, re.escape(f"pfdicom_tagSub: warning: {expected}"))
    assert f", {len(GOOD) if len(GOOD) <= cores else cores} worker" in run.out  # the start line says it too
    written_assert(sandbox.output)
    observation_record("--threads 64, 2 files", line, run)


def tiny_elements(count: int) -> bytes:
    """A bare data set of ``count`` distinct empty private elements, 8 bytes each, after a character set."""
    elements: list[bytes] = [b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100"]
    for number in range(count):
        group, element = 0x0009 + 2 * (number // 0xFFF0), 0x0010 + number % 0xFFF0
        elements.append(struct.pack("<HHI", group, element, 0))
    return b"".join(elements)


def test_a_file_of_a_million_tiny_elements_is_refused_past_the_limit(sandbox: Sandbox) -> None:
    bad: Path = sandbox.input / BAD
    bad.parent.mkdir(parents=True)
    bad.write_bytes(tiny_elements(1_100_000))
    before = sandbox.state()

    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES, timeLimit=TIME_LIMIT)

    line: str = line_assert(
        run,
        0,
        f"  {re.escape(str(bad))}: no DICM prefix and not a readable data set "
        r"\(more than 500000 elements \(the limit\)\)",
    )
    assert files_under(sandbox.output) == sorted(GOOD)
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    observation_record("a million tiny elements (8.8 MB)", line, run)
