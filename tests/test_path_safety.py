"""Output names made from hostile header values never leave the output tree nor replace another output.

``--outputFileStem`` builds each output's name from the file's own elements, which strangers
wrote. Whatever they hold (``../../x``, ``/etc/passwd``, ``a/b``, ``..``, control characters,
400 characters, non-ASCII), every output must land directly in its mirrored output directory
under one safe name, nothing may appear anywhere else, and no output may replace another.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest

from tests.conftest import CliRun
from tests.safety_support import dataset_save, error_lines, files_under, image_dataset, tree_state

NAME_BYTES_MAX: int = 255
UNSAFE_CHARACTERS = re.compile(r"[/\\\x00-\x1f\x7f]")
RULES: str = json.dumps({"PatientName": "ANON^PATIENT"})
PASSWD: Path = Path("/etc/passwd")


def hostile_values(escapeTag: str) -> dict[str, str]:
    """File name (without extension) to the PatientID it carries."""
    return {
        "01-dotdot-slash": "../../x",
        "02-deep-escape": "../" * 12 + f"tmp/pfdicom-escape-{escapeTag}",
        "03-absolute": "/etc/passwd",
        "04-separator": "a/b",
        "05-separator-twin": "a_b",
        "06-dotdot": "..",
        "07-dotdot-twin": "__",
        "08-dot": ".",
        "09-backslash": "back\\slash",
        "10-controls": "x\x01y\x1fz\x7f\ttab",
        "11-newline": "line1\nline2",
        "12-nul": "nul\x00byte",
        "13-long-ascii": "L" * 400,
        "14-long-non-ascii": "é" * 300,
        "15-non-ascii": "Müller-ø-山田",
        "16-empty": "",
        "17-dot-dcm": ".dcm",
    }


@pytest.fixture
def hostileTree(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    """A sandbox holding ``in/d`` (one file per hostile PatientID) and ``in/e`` (a plain one)."""
    escapeTag: str = uuid.uuid4().hex
    values: dict[str, str] = hostile_values(escapeTag)
    inputDir: Path = tmp_path / "sandbox" / "in"
    for number, (name, value) in enumerate(values.items(), start=1):
        dataset_save(image_dataset(number, patientID=value), inputDir / "d" / f"{name}.dcm")
    dataset_save(image_dataset(99, patientID="PLAIN"), inputDir / "e" / "plain.dcm")
    return inputDir, values, escapeTag


def sandbox_state(sandbox: Path) -> dict[str, tuple[str, int, bytes]]:
    """Everything in the sandbox but the output tree."""
    return {name: entry for name, entry in tree_state(sandbox).items() if not name.startswith("out")}


def uid_of(path: Path) -> str:
    return str(pydicom.dcmread(path).SOPInstanceUID)


def outputs_check(inputDir: Path, outputDir: Path, run: CliRun) -> None:
    """Each output is whole, safely named, in its mirrored directory, and the output of one input;
    each input is written or its error line names the input that already holds the name."""
    inputs: dict[str, Path] = {uid_of(path): path for path in sorted(inputDir.rglob("*.dcm"))}
    seen: dict[str, Path] = {}
    for relative in files_under(outputDir):
        path: Path = outputDir / relative
        assert path.parent.parent == outputDir and path.parent.name in ("d", "e"), relative
        assert not UNSAFE_CHARACTERS.search(path.name), repr(path.name)
        assert path.name not in (".", "..") and len(path.name.encode()) <= NAME_BYTES_MAX
        uid: str = uid_of(path)
        assert uid in inputs and uid not in seen, f"{relative} is not the output of exactly one input"
        assert path.parent.name == inputs[uid].parent.name
        seen[uid] = path
    errors: list[str] = error_lines(run.err)
    for uid, source in inputs.items():
        if uid in seen:
            continue
        line: list[str] = [
            error for error in errors if error.startswith(f"pfdicom_tagSub: error: {source}: ")
        ]
        assert len(line) == 1, f"{source} was neither written nor named:\n{run.err}"
        match = re.search(r"its output name (.+) is already the output of (.+)$", line[0])
        assert match is not None, line[0]
        holder: Path = Path(match.group(2))
        assert uid_of(Path(match.group(1))) == uid_of(holder) != uid, "an output was replaced"
        assert holder.name < source.name, "the earlier input keeps the name"
    assert len(errors) == len(inputs) - len(seen), run.err


@pytest.mark.parametrize("stem", ["%PatientID", "../%PatientID/..", "/%PatientID"])
def test_hostile_values_never_write_outside_the_output_tree_nor_replace_an_output(
    hostileTree: tuple[Path, dict[str, str], str], cli: Callable[..., CliRun], stem: str
) -> None:
    inputDir, values, escapeTag = hostileTree
    sandbox: Path = inputDir.parent
    outputDir: Path = sandbox / "out"
    before = sandbox_state(sandbox)
    passwd: tuple[bytes, int] = (PASSWD.read_bytes(), PASSWD.stat().st_mtime_ns)

    run: CliRun = cli(inputDir, outputDir, "--tagStruct", RULES, "--outputFileStem", stem)

    assert "Traceback" not in run.err
    assert run.code == 1, run.err  # the twins collide: 'a/b' with 'a_b', '..' with '__'
    assert sandbox_state(sandbox) == before
    assert (PASSWD.read_bytes(), PASSWD.stat().st_mtime_ns) == passwd
    assert not list(Path("/tmp").glob(f"pfdicom-escape-{escapeTag}*"))
    assert not list(sandbox.parent.glob("x*")) and not (sandbox.parent / "a").exists()
    outputs_check(inputDir, outputDir, run)
    written: list[str] = files_under(outputDir)
    assert len(written) >= len(values) - 2


def test_a_second_run_keeps_every_output_even_one_changed_since(
    hostileTree: tuple[Path, dict[str, str], str], cli: Callable[..., CliRun]
) -> None:
    inputDir, _values, _tag = hostileTree
    outputDir: Path = inputDir.parent / "out"
    first: CliRun = cli(inputDir, outputDir, "--tagStruct", RULES, "--outputFileStem", "%PatientID")
    assert first.code == 1
    precious: Path = outputDir / files_under(outputDir)[0]
    precious.write_bytes(b"a file someone edited after the first run")
    outputs: dict[str, tuple[str, int, bytes]] = tree_state(outputDir)

    second: CliRun = cli(inputDir, outputDir, "--tagStruct", RULES, "--outputFileStem", "%PatientID")

    assert tree_state(outputDir) == outputs
    assert second.code == 1  # the colliding twins fail again, and again replace nothing
    assert f"0 written, {len(files_under(outputDir))} kept (output exists)" in second.out


def test_a_value_that_looks_like_a_temporary_name_does_not_lose_its_output_on_a_rerun(
    tmp_path: Path, cli: Callable[..., CliRun]
) -> None:
    # the name of a temporary file left by a killed process (pid 999999999 runs nowhere)
    lookalike: str = ".999999999-0.pfdicom_tagSub-tmp"
    dataset_save(image_dataset(1, patientID=lookalike), tmp_path / "in" / "IM0001")
    first: CliRun = cli(tmp_path / "in", tmp_path / "out", "--tagStruct", RULES, "-o", "%PatientID")
    assert first.code == 0, first.err
    written: list[str] = files_under(tmp_path / "out")
    assert len(written) == 1
    dataset_save(image_dataset(2, patientID="PLAIN"), tmp_path / "in" / "IM0002")

    second: CliRun = cli(tmp_path / "in", tmp_path / "out", "--tagStruct", RULES, "-o", "%PatientID")

    assert second.code == 0, second.err
    assert "1 written, 1 kept (output exists)" in second.out
    assert set(written) < set(files_under(tmp_path / "out"))
    assert uid_of(tmp_path / "out" / written[0]) == uid_of(tmp_path / "in" / "IM0001")


@pytest.mark.parametrize("leaf", ["../%s", "/tmp/pfdicom-leaf-%s", "a/b-%s", "%.0s.."])
def test_an_output_leaf_that_is_not_one_directory_name_is_refused_before_anything_is_written(
    tmp_path: Path, cli: Callable[..., CliRun], leaf: str
) -> None:
    dataset_save(image_dataset(1), tmp_path / "in" / "p1" / "s1" / "IM0001.dcm")
    before = tree_state(tmp_path)

    run: CliRun = cli(tmp_path / "in", tmp_path / "out", "--tagStruct", RULES, "--outputLeafDir", leaf)

    assert run.code == 2
    assert error_lines(run.err) == [
        f"pfdicom_tagSub: error: --outputLeafDir {leaf!r}: must make one directory name, "
        f"not {leaf % 'leaf'!r}"
    ]
    assert tree_state(tmp_path) == before
    assert not list(Path("/tmp").glob("pfdicom-leaf-*"))


def test_no_output_name_is_longer_than_the_file_system_allows(tmp_path: Path, cli) -> None:
    for number, value in enumerate(["é" * 300, "L" * 400, "山" * 200], start=1):
        dataset_save(image_dataset(number, patientID=value), tmp_path / "in" / f"IM{number}.dcm")

    run: CliRun = cli(tmp_path / "in", tmp_path / "out", "--tagStruct", RULES, "-o", "%PatientID")

    assert run.code == 0, run.err
    names: list[str] = files_under(tmp_path / "out")
    assert len(names) == 3
    for name in names:
        assert name.endswith(".dcm") and len(name.encode()) <= NAME_BYTES_MAX
        name.encode().decode("utf-8")  # cut on a character boundary
        assert os.path.basename(name) == name
