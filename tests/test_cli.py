"""The command line, in process (``main([...])``) and as the installed console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import (
    EXAMPLES,
    README_RULES,
    REPO,
    dcm,
    pydicomFile,
    script_run,
    tree_make,
    tree_snapshot,
)

# a run needs a rule (version 5's safety default); this one changes no value the tests look at
MARK_RULE: str = '{"PatientIdentityRemoved": "YES"}'
WRAPPER_TAGINFO: str = (
    "PatientName,%_name|patientID_PatientName ++ PatientID,%_md5|7_PatientID ++ "
    "AccessionNumber,%_md5|8_AccessionNumber"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two series and a text file: in/p1/s1/CT_small.dcm, in/p2/s2/MR_small.dcm, in/notes.txt."""
    return tree_make(
        tmp_path / "in",
        {
            "p1/s1/CT_small.dcm": pydicomFile("CT_small.dcm"),
            "p2/s2/MR_small.dcm": pydicomFile("MR_small.dcm"),
            "notes.txt": "not a DICOM file\n",
        },
    )


def outputs(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_the_readme_short_flags_work(tree: Path, tmp_path: Path, cli, rulesFile: Path) -> None:
    run = cli("-I", tree, "-O", tmp_path / "out", "-F", rulesFile, "-e", "dcm", "-v", "0")
    assert (run.code, run.out) == (0, "")
    assert outputs(tmp_path / "out") == ["p1/s1/CT_small.dcm", "p2/s2/MR_small.dcm"]
    assert str(dcm(tmp_path / "out/p1/s1/CT_small.dcm").PatientName) == "BROWN^STACY^ANON"


def test_long_and_lower_case_flags_work(tree: Path, tmp_path: Path, cli) -> None:
    run = cli("--inputdir", tree, "--outputdir", tmp_path / "out", "--tagStruct", json.dumps(README_RULES))
    assert run.code == 0
    assert dcm(tmp_path / "out/p2/s2/MR_small.dcm").PatientID == "6aadf90"


def test_the_chris_form_takes_positional_directories_and_the_wrapper_aliases(
    tree: Path, tmp_path: Path, cli
) -> None:
    run = cli(
        "-n",
        WRAPPER_TAGINFO.replace(" ++ ", ";").replace(",", "="),
        "-s",
        ";",
        "-k",
        "=",
        tree,
        tmp_path / "o",
    )
    assert run.code == 0, run.err
    ct = dcm(tmp_path / "o/p1/s1/CT_small.dcm")
    assert (str(ct.PatientName), ct.PatientID, ct.AccessionNumber) == (
        "BROWN^STACY^ANON",
        "6609f5d",
        "d41d8cd9",
    )


def test_a_directory_given_twice_differently_is_a_usage_error(tree: Path, tmp_path: Path, cli) -> None:
    run = cli("-I", tree, tmp_path / "elsewhere", tmp_path / "out", "-T", MARK_RULE)
    assert run.code == 2
    assert "pfdicom_tagSub: error: inputDir given twice" in run.err
    assert not (tmp_path / "out").exists()


def test_dir_filter_alias_keeps_only_matching_directories(tree: Path, tmp_path: Path, cli) -> None:
    run = cli("-I", tree, "-O", tmp_path / "out", "-T", MARK_RULE, "-d", "s2")
    assert run.code == 0
    assert outputs(tmp_path / "out") == ["p2/s2/MR_small.dcm"]


def test_input_file_that_exists_is_the_only_file_processed(tree: Path, tmp_path: Path, cli) -> None:
    run = cli("-I", tree, "-O", tmp_path / "out", "-T", MARK_RULE, "-i", "p1/s1/CT_small.dcm")
    assert run.code == 0
    assert outputs(tmp_path / "out") == ["p1/s1/CT_small.dcm"]


def test_input_file_that_is_no_file_filters_names_by_substring(tree: Path, tmp_path: Path, cli) -> None:
    run = cli("-I", tree, "-O", tmp_path / "out", "-T", MARK_RULE, "-i", "MR_")
    assert run.code == 0
    assert outputs(tmp_path / "out") == ["p2/s2/MR_small.dcm"]


def test_extension_matches_with_or_without_dot_in_any_case(tree: Path, tmp_path: Path, cli) -> None:
    (tree / "p1/s1/CT_small.dcm").rename(tree / "p1/s1/CT_SMALL.DCM")
    run = cli("-I", tree, "-O", tmp_path / "out", "-T", MARK_RULE, "-e", ".dcm")
    assert run.code == 0
    assert outputs(tmp_path / "out") == ["p1/s1/CT_SMALL.DCM", "p2/s2/MR_small.dcm"]
    assert "notes.txt" not in run.out + run.err


def test_output_file_stem_names_files_by_template_plus_the_input_extension(
    tree: Path, tmp_path: Path, cli
) -> None:
    run = cli(
        "-I", tree, "-O", tmp_path / "out", "-T", MARK_RULE, "-e", "dcm", "-o", "%_md5|8_PatientID-%Modality"
    )
    assert run.code == 0, run.err
    assert outputs(tmp_path / "out") == ["p1/s1/6609f5d8-CT.dcm", "p2/s2/6aadf902-MR.dcm"]


def test_output_leaf_dir_renames_only_the_last_directory(tree: Path, tmp_path: Path, cli) -> None:
    run = cli("-I", tree, "-O", tmp_path / "out", "-T", MARK_RULE, "-e", "dcm", "--outputLeafDir", "anon-%s")
    assert run.code == 0
    assert outputs(tmp_path / "out") == ["p1/anon-s1/CT_small.dcm", "p2/anon-s2/MR_small.dcm"]


def test_existing_outputs_are_kept_unless_overwrite(tree: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "out"
    assert cli(tree, out, "-T", '{"PatientID": "FIRST"}').code == 0
    second = cli(tree, out, "-T", '{"PatientID": "SECOND"}')
    assert second.code == 0
    assert "0 written, 2 kept (output exists)" in second.out
    assert dcm(out / "p1/s1/CT_small.dcm").PatientID == "FIRST"
    third = cli(tree, out, "-T", '{"PatientID": "THIRD"}', "--overwrite")
    assert third.code == 0
    assert dcm(out / "p1/s1/CT_small.dcm").PatientID == "THIRD"


def test_in_place_needs_overwrite_and_then_rewrites_the_input(tree: Path, cli) -> None:
    before = tree_snapshot(tree)
    refused = cli("-I", tree, "-O", "%inputDir", "-T", '{"PatientID": "X"}')
    assert refused.code == 2
    assert "add --overwrite" in refused.err
    assert tree_snapshot(tree) == before
    done = cli("-I", tree, "-O", "%inputDir", "-T", '{"PatientID": "X"}', "--overwrite")
    assert done.code == 0
    assert dcm(tree / "p1/s1/CT_small.dcm").PatientID == "X"
    assert sorted(path.name for path in tree.rglob("*")) == sorted(
        ["p1", "s1", "CT_small.dcm", "p2", "s2", "MR_small.dcm", "notes.txt"]
    )


def test_json_prints_the_run_record_without_original_values(tree: Path, tmp_path: Path, cli) -> None:
    run = cli(tree, tmp_path / "out", "-T", json.dumps(README_RULES), "--json")
    assert run.code == 0
    record = run.json()
    tagSub = record["d_tagSub"]
    assert (tagSub["filesRead"], tagSub["filesAnalyzed"], tagSub["filesSaved"]) == (2, 2, 2)
    assert tagSub["notDicom"][0]["file"].endswith("notes.txt")
    assert record["status"] is True and record["exitCode"] == 0
    for original in ("CompressedSamples", "1CT1", "4MR1", "JFK IMAGING"):
        assert original not in run.out
    assert "pfdicom_tagSub 5.0.0" in run.err  # status lines move to stderr, stdout stays JSON


def test_print_elapsed_time_prints_the_wall_time(tree: Path, tmp_path: Path, cli) -> None:
    run = cli(tree, tmp_path / "out", "-T", MARK_RULE, "--printElapsedTime", "-v", "0")
    assert run.code == 0
    assert run.out.startswith("Elapsed time = ") and run.out.strip().endswith(" seconds")


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--version", "Version: 5.0.0"),
        ("-x", "RULES"),
        ("--man", "EXIT STATUS"),
        ("-y", "SYNOPSIS"),
        ("--synopsis", "BRIEF EXAMPLE"),
        ("-h", "usage: pfdicom_tagSub"),
    ],
)
def test_help_version_and_manual_print_and_exit_zero(cli, flag: str, expected: str) -> None:
    run = cli(flag)
    assert run.code == 0
    assert expected in run.out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-T", '{"PatientsName": "x"}'], "PatientsName: not a DICOM keyword; did you mean PatientName?"),
        (["-T", '{"re:.*(": "x"}'], "invalid regular expression"),
        (["-T", '{"PatientID": "%_hush_PatientID"}'], "unknown function 'hush'"),
        (["-T", '{"MediaStorageSOPInstanceUID": "1.2.3"}'], "follows SOPInstanceUID by itself"),
        (["-T", '{"StudyTime": "%_dateshift|-1_StudyTime"}'], "StudyTime is TM"),
        (["-T", "{}"], "nothing to de-identify: give rules (-T/-F/-n) or --profile"),
        ([], "nothing to de-identify: give rules (-T/-F/-n) or --profile"),
        (["-T", MARK_RULE, "--dateShiftRange=-10:10"], "holds 0"),
        (["-T", MARK_RULE, "--dateShiftRange", "10"], "give MIN:MAX"),
        (["-T", '{"PatientID": "x",}'], "--tagStruct: invalid JSON"),
        (["-n", "PatientName ANON"], "is not <key>,<value>"),
        (["-T", MARK_RULE, "--threads", "two"], "threads: 'two' is not a whole number"),
        (["-T", MARK_RULE, "--fileFilterLogic", "XOR"], "filter logic must be AND or OR"),
        (["-T", MARK_RULE, "--outputLeafDir", "anon"], "not a format with one %s"),
        (["-T", MARK_RULE, "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_rules_and_arguments_exit_2_and_write_nothing(
    tree: Path, tmp_path: Path, cli, arguments, message
) -> None:
    run = cli("-I", tree, "-O", tmp_path / "out", *arguments)
    assert run.code == 2
    assert message in run.err
    assert len([line for line in run.err.splitlines() if "error" in line]) == 1
    assert "Traceback" not in run.err
    assert not (tmp_path / "out").exists()


def test_a_missing_input_directory_exits_1_with_one_line(tmp_path: Path, cli) -> None:
    run = cli("-I", tmp_path / "nowhere", "-O", tmp_path / "out", "-T", MARK_RULE)
    assert run.code == 1
    assert run.err.strip() == f"pfdicom_tagSub: error: input directory {tmp_path / 'nowhere'}: not found"


def test_no_output_directory_is_a_usage_error(tree: Path, cli) -> None:
    run = cli("-I", tree, "-T", MARK_RULE)
    assert run.code == 2
    assert "no output directory" in run.err


def test_a_text_file_among_dicom_files_is_reported_and_the_run_succeeds(
    tree: Path, tmp_path: Path, cli
) -> None:
    run = cli(tree, tmp_path / "out", "-T", json.dumps(README_RULES))
    assert run.code == 0
    assert outputs(tmp_path / "out") == ["p1/s1/CT_small.dcm", "p2/s2/MR_small.dcm"]
    assert "3 files found: 2 read, 2 written, 0 kept (output exists), 1 not DICOM, 0 failed" in run.out
    assert f"  {tree / 'notes.txt'}: no DICM prefix" in run.out


def test_a_regex_that_matched_nothing_is_warned_about_at_the_end(tree: Path, tmp_path: Path, cli) -> None:
    run = cli(tree, tmp_path / "out", "-T", '{"re:.*hysican": "x"}')
    assert run.code == 0
    assert "pfdicom_tagSub: warning: re:.*hysican matched nothing in the 2 files analyzed" in run.err


@pytest.mark.parametrize(
    ("verbosity", "expected", "unexpected"),
    [
        ("0", [], ["pfdicom_tagSub 5.0.0", "files found"]),
        ("1", ["pfdicom_tagSub 5.0.0", "3 files found"], ["CT_small.dcm"]),
        ("3", ["2 files ->", "  CT_small.dcm"], ["saved:"]),
        ("5", ["saved: ", "CT_small.dcm (8 changes)", "skipped: "], []),
    ],
)
def test_verbosity_levels_show_what_spec_says(tree, tmp_path, cli, verbosity, expected, unexpected) -> None:
    (tree / "notes.txt").rename(tree / "p1/s1/notes.txt")
    run = cli(tree, tmp_path / "out", "-T", json.dumps(README_RULES), "-v", verbosity)
    shown = run.out + run.err
    assert run.code == 0
    assert all(text in shown for text in expected), shown
    assert not any(text in shown for text in unexpected), shown


def test_verbosity_2_shows_the_progress_bar_without_a_terminal(tree: Path, tmp_path: Path, cli) -> None:
    run = cli(tree, tmp_path / "out", "-T", MARK_RULE, "-v", "2")
    assert run.code == 0
    assert "3/3" in run.err and "file/s" in run.err


def test_names_are_identical_across_runs_and_worker_counts(tmp_path: Path, cli) -> None:
    files = {f"s{index % 3}/{index:03d}.dcm": pydicomFile("CT_small.dcm") for index in range(12)}
    files.update({f"s{index % 3}/mr{index:03d}.dcm": pydicomFile("MR_small.dcm") for index in range(12)})
    tree = tree_make(tmp_path / "in", files)
    rules = json.dumps({"PatientName": "%_name|patientID_PatientName", "StudyID": "%_md5|4_PatientID"})
    for name, threads in (("a", "0"), ("b", "0"), ("c", "2")):
        assert cli(tree, tmp_path / name, "-T", rules, "--threads", threads).code == 0
    first = tree_snapshot(tmp_path / "a")
    assert first == tree_snapshot(tmp_path / "b") == tree_snapshot(tmp_path / "c")
    names = {str(dcm(tmp_path / "c" / relative).PatientName) for relative in first}
    assert names == {"BROWN^STACY^ANON", "ANDERSON^DARLENE^ANON"}


def test_the_installed_console_script_runs_the_readme_example(tmp_path: Path) -> None:
    run = script_run("-I", EXAMPLES / "dicom", "-O", tmp_path / "anon", "-F", EXAMPLES / "anonymize.json")
    assert run.code == 0, run.err
    assert outputs(tmp_path / "anon") == [
        "PAT001/MR_T1_axial/IM0001.dcm",
        "PAT001/MR_T1_axial/IM0002.dcm",
        "PAT002/CT_chest/IM0001.dcm",
        "PAT002/CT_chest/IM0002.dcm",
    ]
    assert "5 files found: 4 read, 4 written, 0 kept (output exists), 1 not DICOM, 0 failed" in run.out
    version = script_run("--version")
    assert (version.code, version.out) == (0, "Name:    pfdicom_tagSub\nVersion: 5.0.0\n")


@pytest.mark.parametrize(
    "launcher", [[sys.executable, "-m", "pfdicom_tagSub"], [sys.executable, str(REPO / "bin/pfdicom_tagSub")]]
)
def test_python_m_and_bin_script_run_the_same_command(
    tree: Path, tmp_path: Path, launcher: list[str]
) -> None:
    done = subprocess.run(
        [
            *launcher,
            "-I",
            str(tree),
            "-O",
            str(tmp_path / "out"),
            "-T",
            '{"PatientID": "%_md5|7_PatientID"}',
            "-v",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ},
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert dcm(tmp_path / "out/p1/s1/CT_small.dcm").PatientID == "6609f5d"


def test_syslog_prefixes_lines_with_time_host_and_program(tree: Path, tmp_path: Path, cli) -> None:
    run = cli(tree, tmp_path / "out", "-T", MARK_RULE, "--syslog")
    assert run.code == 0
    first = run.out.splitlines()[0]
    assert re.match(
        r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ pfdicom_tagSub\[\d+\]: pfdicom_tagSub 5\.0\.0", first
    )


def test_max_depth_limits_the_walk(tree: Path, tmp_path: Path, cli) -> None:
    tree_make(tree, {"top.dcm": pydicomFile("CT_small.dcm")})
    run = cli(tree, tmp_path / "out", "-T", MARK_RULE, "--maxDepth", "0")
    assert run.code == 0
    assert outputs(tmp_path / "out") == ["top.dcm"]


def test_an_output_directory_that_is_a_file_fails_the_files_it_would_hold(
    tree: Path, tmp_path: Path, cli
) -> None:
    (tmp_path / "out" / "p1").mkdir(parents=True)
    (tmp_path / "out" / "p1" / "s1").write_text("in the way")
    run = cli(tree, tmp_path / "out", "-T", MARK_RULE)
    assert run.code == 1
    assert f"CT_small.dcm: not written: output directory {tmp_path / 'out/p1/s1'} is a file" in run.err
    assert outputs(tmp_path / "out") == ["p1/s1", "p2/s2/MR_small.dcm"]


@pytest.mark.parametrize("leaf", ["%s-%d", "100%-%s"])
def test_an_output_leaf_format_that_cannot_format_is_a_usage_error(
    tree: Path, tmp_path: Path, cli, leaf: str
) -> None:
    run = cli(tree, tmp_path / "out", "-T", MARK_RULE, "--outputLeafDir", leaf)
    assert run.code == 2
    assert f"--outputLeafDir {leaf!r}: not a format with one %s" in run.err


def test_a_file_name_that_is_not_utf8_is_processed_and_shown_escaped(tmp_path: Path, cli) -> None:
    root = tmp_path / "in"
    root.mkdir()
    name = os.fsdecode(b"caf\xe9.dcm")
    (root / name).write_bytes(pydicomFile("CT_small.dcm").read_bytes())
    (root / os.fsdecode(b"notes-\xff.txt")).write_text("text")
    run = cli(root, tmp_path / "out", "-T", '{"PatientID": "X"}', "-v", "5")
    assert run.code == 0
    assert dcm(tmp_path / "out" / name).PatientID == "X"
    assert "notes-\\xff.txt" in run.out  # the byte that is not UTF-8, as the file system holds it


def test_a_reader_that_goes_away_does_not_end_the_run_in_a_traceback(tree: Path, tmp_path: Path) -> None:
    from tests.conftest import console_script

    command = f"'{console_script()}' '{tree}' '{tmp_path / 'out'}' -T '{MARK_RULE}' -v 5 --json | head -c 1"
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert outputs(tmp_path / "out") == ["p1/s1/CT_small.dcm", "p2/s2/MR_small.dcm"]


def test_a_rerun_says_that_kept_outputs_did_not_get_the_new_rules(tree: Path, tmp_path: Path, cli) -> None:
    assert cli(tree, tmp_path / "out", "-T", MARK_RULE).code == 0
    run = cli(tree, tmp_path / "out", "-T", '{"PatientID": "NEW"}')
    assert run.code == 0
    assert (
        "warning: 2 outputs existed and were kept as they were, without these rules: use --overwrite"
        in run.err
    )
