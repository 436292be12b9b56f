"""Bad inputs, one scenario each: what the user sees, the exit code, the input untouched, the rest written.

Every scenario builds the same small tree (two good DICOM files, ``a/good1.dcm`` and
``z/good2.dcm``) plus one bad thing between them in walk order (``m/...``), runs the command,
and asserts four things:

- the user sees one clear line naming the file (or argument), what happened and why;
- the exit code (0 done, 1 a file failed or the run could not start, 2 bad arguments or rules);
- the input tree is unchanged, entry for entry and byte for byte (permissions and links too);
- every good file beside the bad one was written (and parses, with the rule applied), and
  nothing else was written: no partial output, no temporary file.

Most scenarios run the command in process. Three need the operating system's help and run the
installed console script: an unreadable file and an unwritable output directory (the process
gives up root's permission override, since CI runs as root), and a disk that fills up (a
file-size limit on the process). "A file deleted while the run is going" is made deterministic
by deleting the file between the walk that listed it and the read: the engine's task stream
(``TreeWalk.tasks_iterate``) is wrapped so that the file is unlinked just before its task is
handed out; everything else is the real run.

Set ``PFDICOM_SCENARIO_TABLE=<file>`` to have the observed results written as a Markdown table.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from pfdicom_tagSub.__main__ import main
from pfdicom_tagSub.models import FileTask
from pfdicom_tagSub.walk import TreeWalk
from tests.conftest import CliRun, pydicomFile
from tests.safety_support import (
    dataset_bytes,
    dataset_save,
    element_offset,
    error_lines,
    files_under,
    fileSizeLimit,
    image_dataset,
    script_runRestricted,
    sequence_add,
    tree_state,
    unprivileged_preexec,
    unprivileged_refusal,
)

RULES: dict[str, str] = {"PatientName": "ANON^PATIENT", "PatientID": "%_md5|7_PatientID"}
GOOD: tuple[str, ...] = ("a/good1.dcm", "z/good2.dcm")
BAD: str = "m/bad.dcm"
FILE_SIZE_LIMIT: int = 24 * 1024
OBSERVED: dict[str, tuple[str, int, str]] = {}

Builder = Callable[[Path], Path]
Check = Callable[[Path, Path], None]


@dataclass(frozen=True)
class Scenario:
    """One bad input and what the user must get.

    Attributes:
        name: the case id.
        build: makes the bad thing in the input tree; returns the path the user must see named.
        code: the exit code.
        seen: a regex of the one line the user sees; ``{bad}`` stands for the named path.
        written: the outputs, relative to the output directory, and nothing else.
        rules: the rules, as ``--tagStruct``.
        extra: more arguments; ``{in}``, ``{out}`` and ``{bad}`` are replaced.
        replaceRules: the arguments in ``extra`` give the rules instead of ``--tagStruct``.
        runner: ``cli`` in process; ``script`` as a process with a time limit; ``unprivileged``
            or ``fileSizeLimit`` as a restricted process; ``deleteBeforeRead`` in process, the bad
            file deleted just before its read.
        outputInside: the output directory is ``<input>/anon`` instead of a sibling.
        check: more assertions on (input directory, output directory).
    """

    name: str
    build: Builder
    code: int
    seen: str
    written: tuple[str, ...] = GOOD
    rules: dict[str, str] = field(default_factory=lambda: dict(RULES))
    extra: tuple[str, ...] = ()
    replaceRules: bool = False
    runner: str = "cli"
    outputInside: bool = False
    check: Check | None = None


# ---- builders of bad things -------------------------------------------------------------------


def bad_bytes(content: bytes, name: str = BAD) -> Builder:
    """A file of these bytes."""

    def build(root: Path) -> Path:
        path: Path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    return build


def bad_cut(data: Callable[[], bytes], keyword: str, delta: int) -> Builder:
    """A DICOM file cut ``delta`` bytes from where ``keyword``'s value starts."""

    def build(root: Path) -> Path:
        whole: bytes = data()
        return bad_bytes(whole[: element_offset(whole, keyword) + delta])(root)

    return build


def bad_dataset(make: Callable[[], pydicom.Dataset], *, filePreamble: bool = True) -> Builder:
    """A DICOM file from a data set."""

    def build(root: Path) -> Path:
        return dataset_save(make(), root / BAD, filePreamble=filePreamble)

    return build


def bad_copy(name: str) -> Builder:
    """One of pydicom's own test files."""

    def build(root: Path) -> Path:
        path: Path = root / BAD
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pydicomFile(name), path)
        return path

    return build


def bad_mode000(root: Path) -> Path:
    path: Path = bad_dataset(lambda: image_dataset(3))(root)
    path.chmod(0)
    return path


def bad_fifo(root: Path) -> Path:
    path: Path = root / BAD
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def bad_danglingLink(root: Path) -> Path:
    path: Path = root / BAD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(root / "m" / "gone.dcm")
    return path


def bad_dirNamedDcm(root: Path) -> Path:
    path: Path = root / "m" / "x.dcm"
    dataset_save(image_dataset(3, patientID="MRN-X"), path / "inner.dcm")
    return path


def bad_symlinkLoop(root: Path) -> Path:
    (root / "m").mkdir(parents=True, exist_ok=True)
    (root / "m" / "loop").symlink_to("..")
    return root / "m" / "loop"


def bad_big(root: Path) -> Path:
    return dataset_save(image_dataset(3, size=128), root / BAD)


def bad_nothing(name: str) -> Builder:
    """No bad file; ``name`` (under the scenario's directory) is what the user must see named."""

    def build(root: Path) -> Path:
        return root.parent / name

    return build


def bad_tagFile(text: str) -> Builder:
    """A rules file beside the input tree."""

    def build(root: Path) -> Path:
        path: Path = root.parent / "rules.json"
        path.write_text(text)
        return path

    return build


def bad_collision(root: Path) -> Path:
    dataset_save(image_dataset(3, patientID="SAME"), root / "m" / "first.dcm")
    second = image_dataset(4, patientID="SAME")
    second.StudyDescription = "the second"
    return dataset_save(second, root / "m" / "second.dcm")


def bad_unwritableOutput(root: Path) -> Path:
    output: Path = root.parent / "out"
    output.mkdir()
    output.chmod(0o555)
    return output


def bad_outputUnderFile(root: Path) -> Path:
    blocker: Path = root.parent / "blocker"
    blocker.write_text("a file where a directory should be")
    return blocker / "out"


def bad_existingOutput(root: Path) -> Path:
    path: Path = dataset_save(image_dataset(3, patientID="MRN-M"), root / BAD)
    kept: Path = root.parent / "out" / BAD
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"an older output")
    return path


def with_charset(charset: str | None) -> Callable[[], pydicom.Dataset]:
    return lambda: image_dataset(3, patientID="MRN-M", charset=charset)


def with_admission(value: str) -> Callable[[], pydicom.Dataset]:
    """A data set whose AdmissionID (absent from the good files) holds ``value``."""

    def make() -> pydicom.Dataset:
        dataset = image_dataset(3, patientID="MRN-M")
        dataset.AdmissionID = value
        return dataset

    return make


def image_bytes() -> bytes:
    return dataset_bytes(image_dataset(3, patientID="MRN-M"))


def sequence_bytes(undefinedLength: bool) -> Callable[[], bytes]:
    return lambda: dataset_bytes(sequence_add(image_dataset(3), undefinedLength=undefinedLength))


def random_bytes() -> bytes:
    content: bytes = random.Random(20240115).randbytes(4096)
    assert content[128:132] != b"DICM"
    return content


# ---- checks of what was written ---------------------------------------------------------------


def check_roundTrip(syntax: str | None) -> Check:
    """The bad file was written in its own encoding, the rule applied, the pixels byte for byte."""

    def check(inputDir: Path, outputDir: Path) -> None:
        original = pydicom.dcmread(inputDir / BAD, force=True)
        written = pydicom.dcmread(outputDir / BAD, force=True)
        assert str(written.PatientName) == "ANON^PATIENT"
        assert written.PixelData == original.PixelData
        if syntax is None:
            assert written.preamble is None and "TransferSyntaxUID" not in getattr(written, "file_meta", {})
            assert (outputDir / BAD).read_bytes()[:8] == (inputDir / BAD).read_bytes()[:8]
        else:
            assert written.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID == syntax

    return check


def check_latin1(inputDir: Path, outputDir: Path) -> None:
    data: bytes = (outputDir / BAD).read_bytes()
    assert "Hôpital Müller".encode("latin-1") in data
    assert pydicom.dcmread(outputDir / BAD).InstitutionName == "Hôpital Müller"
    assert "Hôpital Müller".encode() in (outputDir / GOOD[0]).read_bytes()


def check_innerWritten(inputDir: Path, outputDir: Path) -> None:
    assert str(pydicom.dcmread(outputDir / "m/x.dcm/inner.dcm").PatientName) == "ANON^PATIENT"


def check_firstKept(inputDir: Path, outputDir: Path) -> None:
    assert pydicom.dcmread(outputDir / "m/SAME.dcm").StudyDescription == "study 3"


def check_notWalked(inputDir: Path, outputDir: Path) -> None:
    """A second run does not take the outputs inside the input tree for inputs."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code: int = main(["-I", str(inputDir), "-O", str(outputDir), "--tagStruct", json.dumps(RULES)])
    assert code == 0, err.getvalue()
    assert "2 files found: 0 read, 0 written, 2 kept (output exists), 0 not DICOM, 0 failed" in out.getvalue()


def check_olderKept(inputDir: Path, outputDir: Path) -> None:
    assert (outputDir / BAD).read_bytes() == b"an older output"


NOT_DICOM: str = r"  {bad}: "

SCENARIOS: list[Scenario] = [
    # files that are not DICOM: skipped, named, exit 0
    Scenario("empty_file", bad_bytes(b""), 0, NOT_DICOM + r"empty file \(0 bytes\)"),
    Scenario(
        "text_file_named_dcm",
        bad_bytes(b"Patient notes, not an image.\n" * 20),
        0,
        NOT_DICOM + "no DICM prefix at byte 128 and no DICOM data set at the start",
    ),
    Scenario(
        "random_bytes",
        bad_bytes(random_bytes()),
        0,
        NOT_DICOM + "no DICM prefix at byte 128 and no DICOM data set at the start",
    ),
    Scenario(
        "acr_nema_style_junk",
        bad_bytes(b"\x08\x00\x05\x00CS\x0a\x00" + random.Random(7).randbytes(600)),
        0,
        NOT_DICOM + r"no DICM prefix and not a readable data set \(.+\)",
    ),
    Scenario(
        "zero_filled_file",
        bad_bytes(bytes(4096)),
        0,
        NOT_DICOM + "no DICM prefix at byte 128 and no DICOM data set at the start",
    ),
    Scenario("fifo_named_dcm", bad_fifo, 0, NOT_DICOM + "not a regular file"),
    Scenario(
        "directory_named_x_dcm",
        bad_dirNamedDcm,
        0,
        r"3 files found: 3 read, 3 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        written=(*GOOD, "m/x.dcm/inner.dcm"),
        check=check_innerWritten,
    ),
    # DICOM files that cannot be read: fail alone, exit 1
    Scenario(
        "truncated_in_header_inside_a_value",
        bad_cut(image_bytes, "PatientName", 3),
        1,
        "{bad}: cannot be read: truncated: PatientName is shorter than its header says",
    ),
    Scenario(
        "truncated_in_header_between_elements",
        bad_cut(image_bytes, "PatientID", -5),
        1,
        "{bad}: cannot be read: truncated: the 3 bytes after PatientName are not a whole element",
    ),
    Scenario(
        "truncated_in_file_meta",
        bad_bytes(image_bytes()[:150]),
        1,
        "{bad}: cannot be read: .+",
    ),
    Scenario(
        "truncated_in_a_sequence",
        bad_cut(sequence_bytes(False), "OtherPatientIDsSequence", 30),
        1,
        "{bad}: cannot be read: truncated: OtherPatientIDsSequence is shorter than its header says",
    ),
    Scenario(
        "truncated_in_an_undefined_length_sequence",
        bad_cut(sequence_bytes(True), "OtherPatientIDsSequence", 30),
        1,
        "{bad}: cannot be read: .+",
    ),
    Scenario(
        "truncated_in_the_pixel_data",
        bad_cut(image_bytes, "PixelData", 40),
        1,
        "{bad}: cannot be read: truncated: PixelData is shorter than its header says",
    ),
    Scenario(
        "truncated_in_compressed_pixel_data",
        bad_cut(lambda: pydicomFile("JPEG2000.dcm").read_bytes(), "PixelData", 120),
        1,
        "{bad}: cannot be read: truncated: no whole data set after the file meta",
    ),
    Scenario(
        "dicm_prefix_then_garbage",
        bad_bytes(bytes(128) + b"DICM" + random.Random(11).randbytes(2000)),
        1,
        "{bad}: cannot be read: .+",
    ),
    Scenario(
        "unreadable_file_mode_000",
        bad_mode000,
        1,
        "{bad}: cannot read: Permission denied",
        runner="unprivileged",
    ),
    Scenario(
        "file_deleted_while_the_run_is_going",
        bad_dataset(lambda: image_dataset(3)),
        1,
        "{bad}: cannot read: No such file or directory",
        runner="deleteBeforeRead",
    ),
    Scenario(
        "dangling_symbolic_link",
        bad_danglingLink,
        1,
        "{bad}: cannot read: No such file or directory",
    ),
    # unusual but valid DICOM: written in its own encoding
    Scenario(
        "no_preamble_acr_nema_style",
        bad_dataset(with_charset("ISO_IR 100"), filePreamble=False),
        0,
        r"3 files found: 3 read, 3 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        written=(*GOOD, BAD),
        check=check_roundTrip(None),
    ),
    Scenario(
        "big_endian",
        bad_dataset(lambda: image_dataset(3, syntax=ExplicitVRBigEndian)),
        0,
        r"3 files found: 3 read, 3 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        written=(*GOOD, BAD),
        check=check_roundTrip(ExplicitVRBigEndian),
    ),
    Scenario(
        "deflated_transfer_syntax",
        bad_copy("image_dfl.dcm"),
        0,
        r"3 files found: 3 read, 3 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        written=(*GOOD, BAD),
        check=check_roundTrip(DeflatedExplicitVRLittleEndian),
    ),
    Scenario(
        "non_ascii_value_the_character_set_can_encode",
        bad_dataset(with_charset("ISO_IR 100")),
        0,
        r"3 files found: 3 read, 3 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        written=(*GOOD, BAD),
        rules={**RULES, "InstitutionName": "Hôpital Müller"},
        check=check_latin1,
    ),
    # a rule's result that is invalid for this file: the file fails, nothing invalid is written
    Scenario(
        "value_invalid_for_DA",
        bad_dataset(with_admission("2024-13-45")),
        1,
        "{bad}: not written: StudyDate \\(DA\\): result is not a date, YYYYMMDD; "
        'rule "StudyDate": "%AdmissionID"',
        rules={**RULES, "StudyDate": "%AdmissionID"},
    ),
    Scenario(
        "value_invalid_for_US",
        bad_dataset(with_admission("70000")),
        1,
        "{bad}: not written: Rows \\(US\\): result is out of the US range, 0 to 65535; .+",
        rules={**RULES, "Rows": "%AdmissionID"},
    ),
    Scenario(
        "value_invalid_for_UI",
        bad_dataset(with_admission("1.2.abc")),
        1,
        "{bad}: not written: StudyInstanceUID \\(UI\\): result is not a UID .+",
        rules={**RULES, "StudyInstanceUID": "%AdmissionID"},
    ),
    Scenario(
        "value_invalid_for_CS",
        bad_dataset(with_admission("ct scan")),
        1,
        "{bad}: not written: Modality \\(CS\\): result is not a code string .+",
        rules={**RULES, "Modality": "%AdmissionID"},
    ),
    Scenario(
        "value_too_long_for_its_VR",
        bad_dataset(with_admission("A-VERY-LONG-ADMISSION-NUMBER")),
        1,
        "{bad}: not written: StationName \\(SH\\): result is 28 characters, more than 16; "
        'rule "StationName": "%AdmissionID"',
        rules={**RULES, "StationName": "%AdmissionID"},
    ),
    Scenario(
        "text_the_ascii_character_set_cannot_encode",
        bad_dataset(with_charset(None)),
        1,
        "{bad}: not written: InstitutionName \\(LO\\): "
        "characters not in the file's character set \\(ascii\\).+",
        rules={**RULES, "InstitutionName": "Hôpital Müller"},
    ),
    Scenario(
        "text_the_latin1_character_set_cannot_encode",
        bad_dataset(with_charset("ISO_IR 100")),
        1,
        "{bad}: not written: InstitutionName \\(LO\\): "
        "characters not in the file's character set \\(latin_1\\).+",
        rules={**RULES, "InstitutionName": "山田病院"},
    ),
    # bad rules and arguments: exit 2, nothing written
    Scenario(
        "invalid_json_in_tagStruct",
        bad_nothing("in"),
        2,
        "--tagStruct: invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        written=(),
        extra=("--tagStruct", "{PatientName: 'x'}"),
        replaceRules=True,
    ),
    Scenario(
        "invalid_json_in_tagFile",
        bad_tagFile('{"PatientName": "x",}'),
        2,
        "--tagFile {bad}: invalid JSON: .+ at line 1 column 21",
        written=(),
        extra=("--tagFile", "{bad}"),
        replaceRules=True,
    ),
    Scenario(
        "missing_tagFile",
        bad_nothing("no-such-rules.json"),
        2,
        "--tagFile {bad}: cannot read: No such file or directory",
        written=(),
        extra=("--tagFile", "{bad}"),
        replaceRules=True,
    ),
    Scenario(
        "malformed_tagInfo",
        bad_nothing("in"),
        2,
        "--tagInfo item 'PatientName ANON' is not <key>,<value>",
        written=(),
        extra=("--tagInfo", "PatientID,X ++ PatientName ANON"),
        replaceRules=True,
    ),
    Scenario(
        "bad_regex",
        bad_nothing("in"),
        2,
        "'re:Patient\\[': invalid regular expression: .+",
        written=(),
        rules={"re:Patient[": "x"},
    ),
    Scenario(
        "keyword_typo",
        bad_nothing("in"),
        2,
        "PatientsName: not a DICOM keyword; did you mean PatientName.*\\?",
        written=(),
        rules={"PatientsName": "x"},
    ),
    Scenario(
        "unknown_function",
        bad_nothing("in"),
        2,
        "'%_sha1_PatientID': unknown function 'sha1'; known functions: .+",
        written=(),
        rules={"PatientID": "%_sha1_PatientID"},
    ),
    Scenario(
        "two_rule_sources",
        bad_nothing("in"),
        2,
        "give the rules once: --tagStruct and --tagInfo both given",
        written=(),
        extra=("--tagInfo", "PatientName,X"),
    ),
    # runs that cannot start or could harm the input
    Scenario(
        "missing_input_directory",
        bad_nothing("no-such-input"),
        1,
        "input directory {bad}: not found",
        written=(),
        extra=("-I", "{bad}"),
    ),
    Scenario(
        "output_directory_unwritable",
        bad_unwritableOutput,
        1,
        "output directory {bad}: cannot write: Permission denied",
        written=(),
        runner="unprivileged",
    ),
    Scenario(
        "output_directory_under_a_file",
        bad_outputUnderFile,
        1,
        "output directory {bad}: \\S+/blocker is a file",
        written=(),
        extra=("-O", "{bad}"),
    ),
    Scenario(
        "output_equals_input_without_overwrite",
        bad_nothing("in"),
        2,
        "output directory {bad} is the input directory: the input files would be rewritten; "
        "add --overwrite to do that \\(or choose another --outputDir\\)",
        written=(),
        extra=("-O", "{in}"),
    ),
    Scenario(
        "output_directory_inside_the_input_directory",
        bad_nothing("in"),
        0,
        r"2 files found: 2 read, 2 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        outputInside=True,
        check=check_notWalked,
    ),
    Scenario(
        "symlink_loop_with_followLinks",
        bad_symlinkLoop,
        0,
        r"2 files found: 2 read, 2 written, 0 kept \(output exists\), 0 not DICOM, 0 failed",
        extra=("--followLinks",),
        runner="script",
    ),
    Scenario(
        "disk_fills_up_mid_run",
        bad_big,
        1,
        "{bad}: not written: cannot write {out}/m/bad.dcm: File too large",
        runner="fileSizeLimit",
    ),
    Scenario(
        "two_inputs_whose_outputFileStem_names_collide",
        bad_collision,
        1,
        "{bad}: not written: its output name {out}/m/SAME.dcm is already the output of {in}/m/first.dcm",
        written=("a/MRN-A.dcm", "m/SAME.dcm", "z/MRN-B.dcm"),
        rules={"PatientName": "ANON^PATIENT"},
        extra=("--outputFileStem", "%PatientID"),
        check=check_firstKept,
    ),
    Scenario(
        "an_output_that_exists_without_overwrite",
        bad_existingOutput,
        0,
        r"3 files found: 2 read, 2 written, 1 kept \(output exists\), 0 not DICOM, 0 failed",
        written=(*GOOD, BAD),
        check=check_olderKept,
    ),
]


# ---- running a scenario -----------------------------------------------------------------------


def tree_build(root: Path) -> None:
    """The good files every scenario has: one before and one after the bad thing."""
    dataset_save(image_dataset(1, patientID="MRN-A"), root / GOOD[0])
    dataset_save(image_dataset(2, patientID="MRN-B"), root / GOOD[1])


def arguments_make(scenario: Scenario, inputDir: Path, outputDir: Path, bad: Path) -> list[str]:
    """The command line: input, output, the rules, the scenario's extras (which may override)."""
    names: dict[str, str] = {"{in}": str(inputDir), "{out}": str(outputDir), "{bad}": str(bad)}
    extra: list[str] = [names.get(arg, arg) for arg in scenario.extra]
    arguments: list[str] = ["-I", str(inputDir), "-O", str(outputDir)]
    for flag in ("-I", "-O"):
        if flag in extra:
            position: int = extra.index(flag)
            arguments[arguments.index(flag) + 1] = extra[position + 1]
            del extra[position : position + 2]
    if not scenario.replaceRules:
        arguments += ["--tagStruct", json.dumps(scenario.rules)]
    return arguments + extra


@pytest.fixture
def deletingBeforeRead(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Delete one file after the walk listed it and just before its read."""

    def arm(victim: Path) -> None:
        original = TreeWalk.tasks_iterate

        def tasks_deleting(nodes: list[object]) -> Iterator[FileTask]:
            for task in original(nodes):  # type: ignore[arg-type]
                if task.inputPath == str(victim):
                    victim.unlink()
                yield task

        monkeypatch.setattr(TreeWalk, "tasks_iterate", staticmethod(tasks_deleting))

    return arm


def scenario_run(
    scenario: Scenario,
    arguments: list[str],
    bad: Path,
    cli: Callable[..., CliRun],
    deleting: Callable[[Path], None],
) -> CliRun:
    """Run the command as the scenario says."""
    if scenario.runner == "unprivileged":
        reason: str = unprivileged_refusal(bad.parent)
        if reason:
            pytest.skip(f"CANNOT TEST PERMISSIONS HERE: {reason}")
        return script_runRestricted(*arguments, preexec=unprivileged_preexec())
    if scenario.runner == "fileSizeLimit":
        return script_runRestricted(*arguments, preexec=fileSizeLimit(FILE_SIZE_LIMIT))
    if scenario.runner == "script":  # a process with a time limit, for what could hang
        return script_runRestricted(*arguments, preexec=None)
    if scenario.runner == "deleteBeforeRead":
        deleting(bad)
    return cli(*arguments)


def seen_assert(scenario: Scenario, run: CliRun, names: dict[str, str]) -> str:
    """The one line the user sees: on stderr for errors, in the summary for a skipped file."""
    pattern: str = scenario.seen
    for key, value in names.items():
        pattern = pattern.replace(key, re.escape(value))
    errors: list[str] = error_lines(run.err)
    if scenario.code == 0:
        assert errors == [], run.err
        lines: list[str] = [line for line in run.out.splitlines() if re.fullmatch(pattern, line)]
    else:
        assert len(errors) == 1, run.err
        lines = [line[len("pfdicom_tagSub: error: ") :] for line in errors]
        lines = [line for line in lines if re.fullmatch(pattern, line)]
    assert len(lines) == 1, f"expected one line matching {pattern!r}\nstdout:\n{run.out}\nstderr:\n{run.err}"
    assert "Traceback" not in run.err
    return lines[0] if scenario.code == 0 else "pfdicom_tagSub: error: " + lines[0]


def written_assert(scenario: Scenario, outputDir: Path, inputDir: Path) -> None:
    """Exactly the expected outputs, each a whole DICOM file; the good ones carry the rule."""
    if outputDir != inputDir:  # else the unchanged input tree shows that nothing was written
        assert files_under(outputDir) == sorted(scenario.written)
    for name in scenario.written:
        if scenario.check is not None and name == BAD:
            continue
        dataset = pydicom.dcmread(outputDir / name, force=True)
        if "PatientName" in scenario.rules and name != BAD:
            assert str(dataset.PatientName) == "ANON^PATIENT"
    if scenario.check is not None:
        scenario.check(inputDir, outputDir)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_a_bad_input_is_named_the_input_is_untouched_and_the_rest_is_written(
    scenario: Scenario,
    tmp_path: Path,
    cli: Callable[..., CliRun],
    deletingBeforeRead: Callable[[Path], None],
) -> None:
    inputDir: Path = tmp_path / "in"
    tree_build(inputDir)
    bad: Path = scenario.build(inputDir)
    outputDir: Path = inputDir / "anon" if scenario.outputInside else tmp_path / "out"
    arguments: list[str] = arguments_make(scenario, inputDir, outputDir, bad)
    if "-O" in scenario.extra:
        outputDir = Path(arguments[arguments.index("-O") + 1])
    before: dict[str, tuple[str, int, bytes]] = tree_state(inputDir)
    if scenario.runner == "deleteBeforeRead":
        del before[str(bad.relative_to(inputDir))]

    run: CliRun = scenario_run(scenario, arguments, bad, cli, deletingBeforeRead)

    names: dict[str, str] = {"{bad}": str(bad), "{in}": str(inputDir), "{out}": str(outputDir)}
    line: str = seen_assert(scenario, run, names)
    assert run.code == scenario.code, f"stdout:\n{run.out}\nstderr:\n{run.err}"
    if run.code == 2:  # refused before the run: the error line is all there is
        assert run.out == "" and run.err.count("\n") == 1, run.out + run.err
    after: dict[str, tuple[str, int, bytes]] = tree_state(inputDir)
    if scenario.outputInside:
        after = {name: entry for name, entry in after.items() if not name.startswith("anon")}
    assert after == before
    written_assert(scenario, outputDir, inputDir)
    OBSERVED[scenario.name] = (line, run.code, ", ".join(sorted(scenario.written)) or "nothing")


@pytest.fixture(scope="module", autouse=True)
def observations_table() -> Iterator[None]:
    """Write what the scenarios observed as a Markdown table, when asked to."""
    yield
    target: str | None = os.environ.get("PFDICOM_SCENARIO_TABLE")
    if not target or not OBSERVED:
        return
    rows: list[str] = [
        "| scenario | what the user sees | exit | what was written |",
        "|---|---|---|---|",
    ]
    for name, (line, code, written) in OBSERVED.items():
        cell: str = line.replace("|", "\\|")
        rows.append(f"| {name} | `{cell}` | {code} | {written} |")
    Path(target).write_text("\n".join(rows) + "\n")
