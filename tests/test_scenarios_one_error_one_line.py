"""One error, one line, nothing forged: what a run says is one line per error, in clear words.

File names may hold newlines, control characters and bytes that are not UTF-8: each error is
still one line that no name can forge, and ``--json`` stays valid for strict parsers. What could
not be walked is an error line at every verbosity; what stands where an output directory should
be is named; counts take their plurals; a run that writes nothing leaves no directory of its own.
Each scenario runs the installed command under a memory cap and a time limit, and checks that
nothing but the output tree changed and that no temporary file is left.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliRun
from tests.safety_support import (
    dataset_bytes,
    error_lines,
    files_under,
    image_dataset,
    script_runRestricted,
    unprivileged_preexec,
    unprivileged_refusal,
)
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


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path / "sandbox").make()


def truncated_at(path: Path) -> Path:
    """A DICOM file cut short inside its pixel data: it fails, and its name is in an error line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dataset_bytes(image_dataset(7, patientID="MRN-7"))[:-40])
    return path


def test_names_with_newlines_and_control_characters_are_escaped_one_line_per_error(sandbox: Sandbox) -> None:
    forger: Path = truncated_at(sandbox.input / "m" / "IM\npfdicom_tagSub: error: forged.dcm")
    painter: Path = truncated_at(sandbox.input / "m" / "IM\r\x1b[2Kpfdicom_tagSub: error: erased.dcm")
    before = sandbox.state()

    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES)

    assert run.code == 1 and "Traceback" not in run.err
    errors: list[str] = error_lines(run.err)
    assert errors == [
        f"pfdicom_tagSub: error: {sandbox.input}/m/IM\\npfdicom_tagSub: error: forged.dcm: cannot be read: "
        "truncated: PixelData is shorter than its header says",
        f"pfdicom_tagSub: error: {sandbox.input}/m/IM\\r\\x1b[2Kpfdicom_tagSub: error: erased.dcm: cannot be "
        "read: truncated: PixelData is shorter than its header says",
    ]
    assert not any("\r" in line or "\x1b" in line for line in (run.out + run.err).splitlines())
    assert forger.exists() and painter.exists() and sandbox.state() == before
    written_assert(sandbox.output)
    assert temporaries(sandbox.root) == []
    observation_record("a file name holding a newline and an error line", errors[0], run)


def strings_of(value: object) -> list[str]:
    """Every text in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*strings_of(key), *strings_of(item))]
    if isinstance(value, list):
        return [text for item in value for text in strings_of(item)]
    return []


def test_names_that_are_not_utf8_are_escaped_alike_in_messages_and_in_valid_json(sandbox: Sandbox) -> None:
    good: Path = sandbox.input / "m" / os.fsdecode(b"caf\xe9.dcm")
    good.parent.mkdir(parents=True)
    good.write_bytes(dataset_bytes(image_dataset(8, patientID="MRN-8")))
    truncated_at(sandbox.input / "m" / os.fsdecode(b"\xff\xfe-cut.dcm"))
    before = sandbox.state()

    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES, "--json")

    assert run.code == 1
    record: dict[str, object] = json.loads(run.raw.decode("utf-8"))  # strictly UTF-8 bytes
    for text in strings_of(record):
        text.encode("utf-8")  # no lone surrogate, which strict parsers refuse
    tagSub: dict[str, list[dict[str, str]]] = record["d_tagSub"]  # type: ignore[assignment]
    assert [entry["file"] for entry in tagSub["failed"]] == [f"{sandbox.input}/m/\\xff\\xfe-cut.dcm"]
    line: str = line_assert(
        run, 1, re.escape(f"{sandbox.input}/m/\\xff\\xfe-cut.dcm: cannot be read: truncated: ") + ".*"
    )
    assert files_under(sandbox.output) == sorted([*GOOD, "m/" + good.name])
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    observation_record("a file name that is not UTF-8, --json", line, run)


@pytest.mark.parametrize("verbosity", ["0", "1"])
def test_an_unreadable_subdirectory_is_an_error_line_at_every_verbosity(
    sandbox: Sandbox, verbosity: str
) -> None:
    reason: str = unprivileged_refusal(sandbox.root)
    if reason:
        pytest.skip(f"CANNOT TEST PERMISSIONS HERE: {reason}")
    locked: Path = sandbox.input / "m"
    truncated_at(locked / "inside.dcm")
    locked.chmod(0)
    try:
        before = sandbox.state()
        run = script_runRestricted(
            "-I",
            sandbox.input,
            "-O",
            sandbox.output,
            "-T",
            RULES,
            "-v",
            verbosity,
            preexec=unprivileged_preexec(),
        )
        after = sandbox.state()
    finally:
        locked.chmod(0o755)
    line_assert(run, 1, re.escape(f"not walked: cannot read {locked}: Permission denied"))
    assert after == before and temporaries(sandbox.root) == []
    written_assert(sandbox.output)


def test_an_output_directory_that_is_a_file_says_so(sandbox: Sandbox) -> None:
    blocker: Path = sandbox.root / "outside" / "file"
    blocker.write_text("a file where the output directory should be")
    before = sandbox.state()
    run = command_measure("-I", sandbox.input, "-O", blocker, "-T", RULES)
    line: str = line_assert(run, 1, re.escape(f"output directory {blocker} is a file"))
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    observation_record("-O names a file", line, run)


def test_an_output_directory_that_is_a_dangling_link_says_so(sandbox: Sandbox) -> None:
    link: Path = sandbox.root / "outside" / "link"
    link.symlink_to(sandbox.root / "outside" / "gone")
    before = sandbox.state()
    run = command_measure("-I", sandbox.input, "-O", link, "-T", RULES)
    line: str = line_assert(
        run,
        1,
        re.escape(f"output directory {link} is a dangling link (to {sandbox.root / 'outside' / 'gone'})"),
    )
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    observation_record("-O names a dangling link", line, run)


def test_an_output_subdirectory_that_is_a_dangling_link_fails_its_files_and_only_them(
    sandbox: Sandbox,
) -> None:
    sandbox.output.mkdir()
    (sandbox.output / "a").symlink_to("gone")  # inside the output tree, where nothing is
    before = sandbox.state()
    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES)
    line: str = line_assert(
        run,
        1,
        re.escape(f"{sandbox.input / GOOD[0]}: not written: ")
        + re.escape(f"output directory {sandbox.output / 'a'} is a dangling link (to gone)"),
    )
    written_assert(sandbox.output, GOOD[1:])
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    observation_record("an output subdirectory that is a dangling link", line, run)


def test_counts_of_one_are_singular(sandbox: Sandbox) -> None:
    first = command_measure(  # one worker: without --threads, one per core (issue 12)
        "-I", sandbox.input, "-O", sandbox.output, "-T", '{"PatientName": "ANON^PATIENT"}', "--threads", "1"
    )
    line_assert(
        first, 0, re.escape(f"pfdicom_tagSub 5.0.0: {sandbox.input} -> {sandbox.output}, 1 rule, 1 worker")
    )
    (sandbox.output / GOOD[0]).unlink()
    again = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES)
    line: str = line_assert(
        again,
        0,
        re.escape(
            "pfdicom_tagSub: warning: 1 output existed and was kept as it was, without these rules: use "
            "--overwrite to replace it"
        ),
    )
    assert "1 written, 1 kept (output exists)" in again.out
    observation_record("one output kept", line, again)


@pytest.mark.parametrize("existing", ["none", "root", "root and more"])
def test_a_run_where_every_file_fails_removes_the_output_directories_it_created_and_only_those(
    sandbox: Sandbox, existing: str
) -> None:
    output: Path = sandbox.output / "new" / "deeper" if existing == "root and more" else sandbox.output
    if existing != "none":
        (sandbox.output / "kept" / "empty").mkdir(parents=True)
        (sandbox.output / "kept" / "notes.txt").write_text("the user's")
    outputBefore: list[str] = sorted(
        str(path.relative_to(sandbox.root)) for path in sandbox.root.rglob("out*")
    )
    before = sandbox.state()

    run = command_measure("-I", sandbox.input, "-O", output, "-T", '{"StudyDate": "%PatientID"}')

    assert run.code == 1 and len(error_lines(run.err)) == len(GOOD), run.err
    assert all(": not written: StudyDate (DA): " in line for line in error_lines(run.err))
    after: list[str] = sorted(str(path.relative_to(sandbox.root)) for path in sandbox.root.rglob("out*"))
    assert after == outputBefore
    if existing != "none":
        assert sorted(files_under(sandbox.output)) == ["kept/notes.txt"]
        assert (sandbox.output / "kept" / "empty").is_dir() and not (sandbox.output / "new").exists()
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    observation_record(f"every file fails (output existed: {existing})", error_lines(run.err)[0], run)


def test_names_that_are_not_utf8_are_escaped_alike_in_the_audit(sandbox: Sandbox) -> None:
    good: Path = sandbox.input / "m" / os.fsdecode(b"caf\xe9.dcm")
    good.parent.mkdir(parents=True)
    good.write_bytes(dataset_bytes(image_dataset(8, patientID="MRN-8")))
    audit: Path = sandbox.output / "audit.sqlite"
    before = sandbox.state()

    run = command_measure("-I", sandbox.input, "-O", sandbox.output, "-T", RULES, "--audit", audit)

    line: str = line_assert(run, 0, r"3 files found: 3 read, 3 written, .*")
    with sqlite3.connect(audit) as connection:
        inputs: list[str] = [row[0] for row in connection.execute("SELECT input_path FROM files ORDER BY 1")]
    assert f"{sandbox.input}/m/caf\\xe9.dcm" in inputs
    assert sandbox.state() == before and temporaries(sandbox.root) == []
    observation_record("a file name that is not UTF-8, --audit", line, run)


def test_an_argument_holding_a_newline_is_escaped_in_argparse_s_error_too(cli: Callable[..., CliRun]) -> None:
    run = cli("in", "out", "--bogus\npfdicom_tagSub: error: forged")
    assert run.code == 2
    assert error_lines(run.err) == [
        "pfdicom_tagSub: error: unrecognized arguments: --bogus\\npfdicom_tagSub: error: forged"
    ]
