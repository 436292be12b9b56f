"""Never destroy: no run writes into the input tree or outside the output tree, whatever it is given.

Each scenario runs the installed console script in a sandbox (``in/``, ``out/``, and ``outside/``
holding a file nobody asked to touch), under a time limit and a memory cap, so that a hang or a
blowup fails the test instead of stalling the suite. Each asserts what the user sees (one line,
the exit code), that nothing but the output tree changed in the sandbox, that no temporary file
is left anywhere, and that the good files were written when the run went ahead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.safety_support import dataset_save, error_lines, files_under, image_dataset, tree_state
from tests.scenario_support import (
    RULES,
    TEMP_NAME,
    TIME_LIMIT,
    Measured,
    command_measure,
    observation_record,
    written_assert,
)

MEMORY_CAP: int = 1 << 30
GOOD: tuple[str, ...] = ("a/IM1.dcm", "b/IM2.dcm")


def bounded_run(*args: object, cwd: Path | None = None) -> Measured:
    """The installed command, under a time limit and a memory cap, measured."""
    return command_measure(*args, cwd=cwd, memoryCap=MEMORY_CAP, timeLimit=TIME_LIMIT)


@dataclass
class Sandbox:
    """A place where a run may only write under ``out``."""

    root: Path

    @property
    def input(self) -> Path:
        return self.root / "in"

    @property
    def output(self) -> Path:
        return self.root / "out"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    def state(self, output: Path | None = None) -> dict[str, object]:
        """Everything in the sandbox except what lies in the output tree."""
        skip: str = str((output or self.output).relative_to(self.root))
        return {
            name: entry
            for name, entry in tree_state(self.root).items()
            if name != skip and not name.startswith(skip + os.sep)
        }


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path / "sandbox")
    for number, name in enumerate(GOOD, start=1):
        dataset_save(image_dataset(number), box.input / name)
    dataset_save(image_dataset(9, patientID="SECRET-9"), box.outside / "secret.dcm")
    return box


def temporaries(root: Path, inputs: tuple[str, ...] = ()) -> list[str]:
    """Every temporary file or directory of this tool anywhere under a tree, but for inputs so named."""
    return [
        os.path.join(directory, name)
        for directory, dirs, names in os.walk(root)
        for name in [*dirs, *names]
        if TEMP_NAME.search(name)
        and not any(os.path.join(directory, name).endswith(known) for known in inputs)
    ]


def outcome_assert(run: Measured, code: int, line: str) -> None:
    """The exit code, and the one line the user must see (an error line unless the run succeeded);
    the scenario's observations go to the table of ``PFDICOM_ISSUE13_TABLE``, if set."""
    assert run.code == code, run.out + run.err
    assert "Traceback" not in run.err
    if code == 0:
        assert error_lines(run.err) == [], run.err
        seen: list[str] = [text for text in (run.out + run.err).splitlines() if re.fullmatch(line, text)]
        assert seen, run.out + run.err
    else:
        seen = error_lines(run.err)
        assert len(seen) == 1 and re.fullmatch("pfdicom_tagSub: error: " + line, seen[0]), run.err
    if code == 2:
        assert run.out == "" and run.err.count("\n") == 1, run.out + run.err
    scenario: str = os.environ.get("PYTEST_CURRENT_TEST", "").split("::")[-1].split(" (")[0]
    observation_record(scenario.removeprefix("test_").replace("_", " "), seen[0], run)


def refused_assert(box: Sandbox, before: dict[str, object], run: Measured, line: str) -> None:
    """Refused before anything was written: nothing changed anywhere, nothing left behind."""
    outcome_assert(run, 2, line)
    assert box.state() == before
    assert files_under(box.output) == []
    assert temporaries(box.root) == []


def test_an_input_file_above_the_input_tree_is_refused(sandbox: Sandbox) -> None:
    before = sandbox.state()
    run = bounded_run(
        "-I", sandbox.input, "-O", sandbox.output, "-i", "../outside/secret.dcm", "--overwrite", "-T", RULES
    )
    refused_assert(
        sandbox,
        before,
        run,
        re.escape(f"--inputFile ../outside/secret.dcm: not inside the input directory {sandbox.input}; ")
        + "name a file under it, relative to it",
    )


def test_an_absolute_input_file_elsewhere_is_refused_even_with_a_stem(sandbox: Sandbox) -> None:
    before = sandbox.state()
    secret: Path = sandbox.outside / "secret.dcm"
    run = bounded_run(
        "-I", sandbox.input, "-O", sandbox.output, "-i", secret, "-o", "%PatientID", "-T", RULES
    )
    refused_assert(
        sandbox, before, run, re.escape(f"--inputFile {secret}: not inside the input directory") + ".*"
    )


def test_an_absolute_input_file_inside_the_input_tree_is_processed_in_its_place(sandbox: Sandbox) -> None:
    before = sandbox.state()
    run = bounded_run(
        "-I", sandbox.input, "-O", sandbox.output, "-i", sandbox.input / "b" / "IM2.dcm", "-T", RULES
    )
    outcome_assert(run, 0, r"1 file found: 1 read, 1 written, .*")
    assert files_under(sandbox.output) == ["b/IM2.dcm"]
    written_assert(sandbox.output, ("b/IM2.dcm",))
    assert sandbox.state() == before and temporaries(sandbox.root) == []


def test_an_output_directory_above_the_input_is_refused(sandbox: Sandbox) -> None:
    dataset_save(image_dataset(5), sandbox.input / "in" / "x.dcm")  # would land on in/x.dcm
    before = sandbox.state(sandbox.root)
    run = bounded_run("-I", sandbox.input, "-O", sandbox.root, "--overwrite", "-T", RULES)
    outcome_assert(
        run,
        2,
        re.escape(f"output directory {sandbox.root} contains the input directory {sandbox.input}: ")
        + "outputs could land on input files; choose an output directory outside the input tree",
    )
    assert sandbox.state(sandbox.root) == before
    assert temporaries(sandbox.root) == []


@pytest.mark.parametrize("target", [".", "a"])
def test_an_output_directory_that_links_into_the_input_is_refused(sandbox: Sandbox, target: str) -> None:
    link: Path = sandbox.root / "link"
    link.symlink_to(sandbox.input / target if target != "." else sandbox.input)
    before = sandbox.state()
    run = bounded_run("-I", sandbox.input, "-O", link, "--overwrite", "-T", RULES)
    expected: str = (
        re.escape(f"output directory {link} leads to the input directory {sandbox.input}: ")
        + "the input files would be rewritten; to do that, give -O %inputDir --overwrite"
        if target == "."
        else re.escape(f"output directory {link} leads into the input directory {sandbox.input} ") + ".*"
    )
    refused_assert(sandbox, before, run, expected)


def test_a_link_in_the_output_tree_into_the_input_is_refused_before_anything_is_written(
    sandbox: Sandbox,
) -> None:
    sandbox.output.mkdir()
    (sandbox.output / "a").symlink_to(sandbox.input / "a")
    before = sandbox.state()
    run = bounded_run("-I", sandbox.input, "-O", sandbox.output, "--overwrite", "-T", RULES)
    outcome_assert(
        run, 2, re.escape(f"output directory {sandbox.output / 'a'} leads out of the output tree ") + ".*"
    )
    assert sandbox.state() == before
    assert (sandbox.output / "a").is_symlink() and files_under(sandbox.output) == []  # nothing through it
    assert temporaries(sandbox.root) == []


def test_in_place_a_followed_link_out_of_the_tree_is_refused(sandbox: Sandbox) -> None:
    (sandbox.input / "elsewhere").symlink_to(sandbox.outside)
    before = sandbox.state(sandbox.input)
    run = bounded_run(
        "-I", sandbox.input, "-O", "%inputDir", "--overwrite", "--followLinks", "-T", RULES, cwd=sandbox.root
    )
    outcome_assert(
        run,
        2,
        re.escape(f"output directory {sandbox.input / 'elsewhere'} leads out of the output tree") + ".*",
    )
    assert sandbox.state(sandbox.input) == before
    assert (sandbox.outside / "secret.dcm").read_bytes() == before["outside/secret.dcm"][2]  # type: ignore[index]


def test_an_output_tree_inside_the_input_tree_is_not_walked_and_says_so(sandbox: Sandbox) -> None:
    output: Path = sandbox.input / "anon"
    before = sandbox.state(output)
    run = bounded_run("-I", sandbox.input, "-O", output, "-T", RULES)
    outcome_assert(
        run, 0, re.escape(f"pfdicom_tagSub: warning: not walked: {output}: ") + ".*inside the input directory"
    )
    written_assert(output, GOOD)
    again = bounded_run("-I", sandbox.input, "-O", output, "-T", RULES)
    outcome_assert(again, 0, r"2 files found: 0 read, 0 written, 2 kept \(output exists\), .*")
    assert sandbox.state(output) == before and temporaries(sandbox.root) == []


@pytest.mark.parametrize("inPlace", [False, True], ids=["to another tree", "in place"])
def test_inputs_named_like_temporary_files_are_processed_like_any_other(
    sandbox: Sandbox, inPlace: bool
) -> None:
    lookalikes: tuple[str, ...] = (
        "a/.999999999-0.pfdicom_tagSub-tmp",
        "a/.4242-7.pfdicom_tagSub-tmp",
        ".pfdicom_tagSub-tmp-somehost-999999999-0123456789abcdef/IM3.dcm",
        "b/x.dcm.999999999.part",
    )
    for number, name in enumerate(lookalikes, start=3):
        dataset_save(image_dataset(number), sandbox.input / name)
    output: Path = sandbox.input if inPlace else sandbox.output
    arguments: list[object] = ["-I", sandbox.input, "-O", "%inputDir" if inPlace else output, "-T", RULES]
    before = sandbox.state(output)
    run = bounded_run(*arguments, *(["--overwrite"] if inPlace else []), cwd=sandbox.root)
    outcome_assert(
        run, 0, r"6 files found: 6 read, 6 written, 0 kept \(output exists\), 0 not DICOM, 0 failed"
    )
    written_assert(output, GOOD + lookalikes)
    assert sorted(files_under(output)) == sorted(GOOD + lookalikes)
    assert sandbox.state(output) == before
    lookalikeDir: str = lookalikes[2].split("/")[0]
    assert temporaries(sandbox.root, (*lookalikes, lookalikeDir)) == []


def preamble_file(path: Path, preamble: bytes) -> Path:
    dataset = image_dataset(7)
    dataset.preamble = preamble.ljust(128, b"\0")
    return dataset_save(dataset, path)


def test_a_preamble_holding_text_is_zeroed_in_a_changed_file(sandbox: Sandbox) -> None:
    preamble_file(sandbox.input / "c" / "text.dcm", b"MRN000123 DOE^JANE")
    run = bounded_run("-I", sandbox.input, "-O", sandbox.output, "-T", RULES)
    outcome_assert(run, 0, r"3 files found: 3 read, 3 written, .*")
    assert (sandbox.output / "c" / "text.dcm").read_bytes()[:132] == bytes(128) + b"DICM"


def test_a_tiff_preamble_is_kept_and_reported_once(sandbox: Sandbox) -> None:
    for name in ("one.dcm", "two.dcm"):
        preamble_file(sandbox.input / "c" / name, b"II*\0\x08\0\0\0TIFF")
    run = bounded_run("-I", sandbox.input, "-O", sandbox.output, "-T", RULES)
    outcome_assert(run, 0, r"4 files found: 4 read, 4 written, .*")
    for name in ("one.dcm", "two.dcm"):
        assert (sandbox.output / "c" / name).read_bytes()[:12] == b"II*\0\x08\0\0\0TIFF"
    reports: list[str] = [line for line in run.err.splitlines() if "TIFF" in line]
    assert reports == [
        "pfdicom_tagSub: warning: 2 files kept a TIFF header as preamble (DICOM and TIFF in one file): "
        "only its DICOM part was changed"
    ]


def test_a_file_no_rule_changes_keeps_its_preamble(sandbox: Sandbox) -> None:
    preamble_file(sandbox.input / "c" / "text.dcm", b"kept as it was")
    run = bounded_run("-I", sandbox.input, "-O", sandbox.output, "-T", '{"StudyID": "%PatientAge"}')
    outcome_assert(run, 0, r"3 files found: 3 read, 3 written, .*")
    assert (sandbox.output / "c" / "text.dcm").read_bytes() == (sandbox.input / "c" / "text.dcm").read_bytes()
