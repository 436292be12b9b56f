"""Version 5's safety defaults: nothing is copied without something to de-identify, file meta keys are
refused, and no message shows an element value unless asked for with ``--dryRun`` or ``-v 5``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.pfdicom_tagSub import pfdicom_tagSub
from tests.conftest import CliRun, dcm, tree_make
from tests.safety_support import error_lines, image_dataset

NOTHING: str = "pfdicom_tagSub: error: nothing to de-identify: give rules (-T/-F/-n) or --profile\n"
PATIENT: str = "DOE^JANE"
TOO_LONG: dict[str, str] = {"StudyID": "%PatientName-%PatientName"}  # 17 characters where SH holds 16


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return tree_make(
        tmp_path / "in",
        {
            "a/IM1.dcm": image_dataset(1, patientName=PATIENT),
            "a/IM2.dcm": image_dataset(2, patientName="ROE^R"),
        },
    )


@pytest.mark.parametrize("rules", [(), ("-T", "{}"), ("-n", " ++ ")])
def test_a_run_without_rules_or_removal_of_private_tags_is_exit_2_and_writes_nothing(
    tree: Path, tmp_path: Path, cli, rules: tuple[str, ...]
) -> None:
    run: CliRun = cli(tree, tmp_path / "out", *rules)
    assert (run.code, run.err) == (2, NOTHING)
    assert not (tmp_path / "out").exists()


def test_the_api_refuses_it_too_and_remove_private_tags_alone_is_enough(
    tree: Path, tmp_path: Path, cli
) -> None:
    with pytest.raises(UsageError, match="nothing to de-identify"):
        pfdicom_tagSub({"inputdir": str(tree), "outputdir": str(tmp_path / "out")})
    run: CliRun = cli(tree, tmp_path / "out", "--removePrivateTags")
    assert run.code == 0, run.err


@pytest.mark.parametrize("key", ["MediaStorageSOPInstanceUID", "(0002,0003)", "TransferSyntaxUID"])
def test_a_file_meta_key_is_exit_2_with_the_reason_instead_of_failing_every_file(
    tree: Path, tmp_path: Path, cli, key: str
) -> None:
    run: CliRun = cli(tree, tmp_path / "out", "-T", json.dumps({key: "1.2.3"}))
    assert run.code == 2
    assert run.err == (
        f"pfdicom_tagSub: error: {key}: a file meta element (group 0002) takes no rule: "
        "MediaStorageSOPInstanceUID follows SOPInstanceUID by itself, and the transfer syntax is not a "
        "rule's business\n"
    )
    assert not (tmp_path / "out").exists()


def test_error_summary_and_record_lines_name_element_vr_rule_and_why_but_no_value(
    tree: Path, tmp_path: Path, cli
) -> None:
    run: CliRun = cli(tree, tmp_path / "out", "-T", json.dumps(TOO_LONG), "--json")
    assert run.code == 1
    line: str = error_lines(run.err)[0]
    assert line == (
        f"pfdicom_tagSub: error: {tree / 'a' / 'IM1.dcm'}: not written: "
        'StudyID (SH): result is 17 characters, more than 16; rule "StudyID": "%PatientName-%PatientName"'
    )
    assert PATIENT not in run.err and PATIENT not in run.out
    assert run.json()["d_tagSub"]["failed"][0]["reason"] == line.split("IM1.dcm: ", 1)[1]
    assert (tmp_path / "out" / "a" / "IM2.dcm").exists()  # its PatientName fits: the file is written


def test_values_show_at_verbosity_5_and_in_the_dry_run_plan_only(tree: Path, tmp_path: Path, cli) -> None:
    detailed: CliRun = cli(tree, tmp_path / "out", "-T", json.dumps(TOO_LONG), "-v", "5")
    assert detailed.code == 1
    assert "StudyID (SH) = 'DOE^JANE-DOE^JANE': result is 17 characters, more than 16" in detailed.err
    dry: CliRun = cli(tree, tmp_path / "dry", "-T", json.dumps({"StudyID": "%PatientName"}), "--dryRun")
    assert dry.code == 0
    assert "a/IM1.dcm: StudyID (SH): (absent) -> 'DOE^JANE'  [StudyID]" in dry.out.splitlines()
    real: CliRun = cli(tree, tmp_path / "real", "-T", json.dumps({"StudyID": "%PatientName"}))
    assert real.code == 0 and PATIENT not in real.out + real.err
    assert dcm(tmp_path / "real" / "a" / "IM1.dcm").StudyID == PATIENT
