"""``--profile`` on the command line: the user's rules override it element by element, a bad profile
is exit 2 before anything is read, and its changes are shown by the dry run and stored by the audit."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import pydicom
import pytest

from pfdicom_tagSub import __version__
from tests.conftest import EXAMPLES, CliRun, pydicomFile, tree_make, tree_snapshot
from tests.test_profile_options import KEY, OPTIONS

EXAMPLE: str = "PAT001/MR_T1_axial/IM0001.dcm"


def profile_run(cli, tmp_path: Path, *extra: object, source: Path | None = None) -> CliRun:
    tree_make(tmp_path / "in", {"a.dcm": source or pydicomFile("CT_small.dcm")})
    (tmp_path / "key").write_bytes(KEY)
    return cli(tmp_path / "in", tmp_path / "out", "--keyFile", tmp_path / "key", *extra)


def test_a_user_rule_overrides_the_profile_on_its_element_alone(tmp_path: Path, cli) -> None:
    run = profile_run(
        cli, tmp_path, "--profile", "basic", "-T", '{"PatientName": "%_name|patientID_PatientName"}'
    )
    assert run.code == 0, run.err
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert after.PatientName == "BROWN^STACY^ANON"  # SPEC's reference value for CT_small
    assert after.PatientID == hmac.new(KEY, b"1CT1", hashlib.sha256).hexdigest()[:16]  # the profile's D
    assert after.StudyDate == "" and "InstitutionName" in after and after.InstitutionName == "ANONYMIZED"
    assert after.DeidentificationMethod == [
        f"pfdicom_tagSub {__version__}: PS3.15 E.1-1 Basic",
        "with user rules (-T/-F/-n)",
    ]


def test_keep_beats_the_profile_for_explicit_keys_and_regexes(tmp_path: Path, cli) -> None:
    rules = {"StudyDate": "%_keep", "re:.*Time$": "%_keep"}
    run = profile_run(cli, tmp_path, "--profile", "basic", "-T", json.dumps(rules))
    assert run.code == 0, run.err
    before = pydicom.dcmread(pydicomFile("CT_small.dcm"))
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert after.StudyDate == before.StudyDate and after.StudyTime == before.StudyTime
    assert after.SeriesTime == before.SeriesTime and after.AcquisitionTime == before.AcquisitionTime
    assert after.SeriesDate != before.SeriesDate  # the profile's D, where no rule acts


def test_a_regex_rule_overrides_the_profile_on_every_element_it_matches(tmp_path: Path, cli) -> None:
    run = profile_run(cli, tmp_path, "--profile", "basic", "-T", '{"re:.*Date$": "%_dateshift|-1_#tag"}')
    assert run.code == 0, run.err
    before = pydicom.dcmread(pydicomFile("CT_small.dcm"))
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert (before.StudyDate, after.StudyDate) == ("20040119", "20040118")
    assert (before.SeriesDate, after.SeriesDate) == ("19970430", "19970429")


def test_a_private_element_a_rule_keeps_stays_with_its_creator_and_the_others_go(tmp_path: Path, cli) -> None:
    rules = {'(0009,"ACME 1.0",01)': "%_keep"}
    run = profile_run(
        cli, tmp_path, "--profile", "basic", "-T", json.dumps(rules), source=EXAMPLES / "dicom" / EXAMPLE
    )
    assert run.code == 0, run.err
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert after[0x00090010].value == "ACME 1.0"
    assert after[0x00091001].value == "ACME internal id MRN000123"
    assert [tag for tag in after.keys() if tag.is_private] == [0x00090010, 0x00091001]  # noqa: SIM118
    ct = profile_run(cli, tmp_path / "ct", "--profile", "basic", "-T", json.dumps(rules))
    assert ct.code == 0, ct.err
    ctOutput = pydicom.dcmread(tmp_path / "ct" / "out" / "a.dcm")
    assert not any(tag.is_private for tag in ctOutput.keys())  # noqa: SIM118


def test_a_user_rule_on_a_conformance_element_gives_its_value(tmp_path: Path, cli) -> None:
    run = profile_run(cli, tmp_path, "--profile", "basic", "-T", '{"DeidentificationMethod": "SOP 12"}')
    assert run.code == 0, run.err
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert after.DeidentificationMethod == "SOP 12" and after.PatientIdentityRemoved == "YES"


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        ("basic,retainFoo", "unknown option 'retainFoo'; the options are " + ", ".join(OPTIONS)),
        ("basic,retainSafePrivate", "unknown option 'retainSafePrivate'"),
        ("advanced", "the profile is basic[,OPTION...], not 'advanced'"),
        ("basic,retainLongFullDates,retainLongModifiedDates", "exclude each other"),
    ],
)
def test_a_bad_profile_is_exit_2_before_anything_is_read(
    profile: str, says: str, tmp_path: Path, cli
) -> None:
    run = profile_run(cli, tmp_path, "--profile", profile)
    assert run.code == 2
    assert says in run.err and run.err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_known_options_are_listed_in_the_table_s_order(tmp_path: Path, cli) -> None:
    run = profile_run(cli, tmp_path, "--profile", "basic,cleanEverything")
    assert run.err.strip().endswith(", ".join(OPTIONS))


def test_a_profile_with_top_level_only_is_exit_2(tmp_path: Path, cli) -> None:
    run = profile_run(cli, tmp_path, "--profile", "basic", "--topLevelOnly")
    assert run.code == 2 and "--topLevelOnly" in run.err


def test_a_profile_alone_is_something_to_de_identify_and_an_empty_one_is_not(tmp_path: Path, cli) -> None:
    assert profile_run(cli, tmp_path, "--profile", "basic", "-v", "0").code == 0
    empty = profile_run(cli, tmp_path / "empty", "--profile", "")
    assert empty.code == 2 and "nothing to de-identify" in empty.err


def test_the_dry_run_shows_and_the_audit_stores_the_conformance_elements(tmp_path: Path, cli) -> None:
    dry = profile_run(cli, tmp_path, "--profile", "basic,retainUIDs", "--dryRun", "--json")
    assert dry.code == 0, dry.err
    assert dry.json()["d_tagSub"]["profile"] == "basic,retainUIDs"  # type: ignore[index]
    plan = dry.json()["d_tagSub"]["plan"][0]["changes"]  # type: ignore[index]
    stamped = {
        change["keyword"]: (change["action"], change["new"])
        for change in plan
        if change["rule"] == "--profile"
    }
    assert stamped["PatientIdentityRemoved"] == ("create", "YES")
    assert stamped["LongitudinalTemporalInformationModified"] == ("create", "REMOVED")
    codes = json.loads(stamped["DeidentificationMethodCodeSequence"][1])
    assert [item["CodeValue"] for item in codes] == ["113100", "113110"]
    audit: Path = tmp_path / "audit.sqlite"
    real = cli(tmp_path / "in", tmp_path / "out", "--keyFile", tmp_path / "key",
               "--profile", "basic,retainUIDs", "--audit", audit)  # fmt: skip
    assert real.code == 0, real.err
    with sqlite3.connect(audit) as connection:
        stored = set(
            connection.execute("SELECT keyword, action, new_value FROM changes WHERE rule = '--profile'")
        )
    assert {(keyword, action, new) for keyword, (action, new) in stamped.items()} == stored


def test_the_dry_run_names_the_row_and_the_option_behind_each_change(tmp_path: Path, cli) -> None:
    run = profile_run(cli, tmp_path, "--profile", "basic,retainInstitutionIdentity", "--dryRun")
    assert run.code == 0, run.err
    assert "a.dcm: PatientID (LO): '1CT1' -> '" in run.out and "[E.1-1 Z/D]" in run.out
    assert "a.dcm: StudyDate (DA): '20040119' -> ''  [E.1-1 Z]" in run.out
    assert "InstitutionName" not in run.out  # K by retainInstitutionIdentity: no change


def test_two_workers_write_what_one_writes(tmp_path: Path, cli) -> None:
    files = {
        f"{index}/{path.name}": path for index, path in enumerate(sorted((EXAMPLES / "dicom").rglob("*.dcm")))
    }
    tree_make(tmp_path / "in", files)  # type: ignore[arg-type]
    (tmp_path / "key").write_bytes(KEY)
    for threads in ("1", "2"):
        run = cli(tmp_path / "in", tmp_path / threads, "--keyFile", tmp_path / "key", "--profile", "basic",
                  "--threads", threads)  # fmt: skip
        assert run.code == 0, run.err
    assert tree_snapshot(tmp_path / "1") == tree_snapshot(tmp_path / "2")


def test_the_python_api_takes_the_profile(tmp_path: Path) -> None:
    from pfdicom_tagSub.pfdicom_tagSub import pfdicom_tagSub

    tree_make(tmp_path / "in", {"a.dcm": pydicomFile("CT_small.dcm")})
    (tmp_path / "key").write_bytes(KEY)
    app = pfdicom_tagSub(
        {"inputdir": str(tmp_path / "in"), "outputdir": str(tmp_path / "out"), "profile": "basic"}
        | {"keyFile": str(tmp_path / "key"), "verbosity": "0"}
    )
    assert app.run(timerStart=True)["status"] is True
    assert pydicom.dcmread(tmp_path / "out" / "a.dcm").PatientIdentityRemoved == "YES"


def test_z_leaves_a_sequence_with_no_items_and_d_keeps_one_with_its_items_profiled(
    tmp_path: Path, cli
) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(pydicomFile("CT_small.dcm"))
    observer = Dataset()
    observer.CodeValue, observer.CodeMeaning = "12345", "DR WHO"
    ds.VerifyingObserverIdentificationCodeSequence = Sequence([observer])  # Z
    person = Dataset()
    person.PersonName, person.InstitutionName = "DOE^JOHN", "General Hospital"
    ds.VerifyingObserverSequence = Sequence([person])  # D
    ds.PatientIdentityRemoved = "NO"
    tree_make(tmp_path / "in", {"a.dcm": ds})
    (tmp_path / "key").write_bytes(KEY)
    run = cli(tmp_path / "in", tmp_path / "out", "--keyFile", tmp_path / "key", "--profile", "basic")
    assert run.code == 0, run.err
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert len(after.VerifyingObserverIdentificationCodeSequence) == 0
    kept = after.VerifyingObserverSequence
    assert len(kept) == 1 and kept[0].PersonName == "ANONYMIZED" and kept[0].InstitutionName == "ANONYMIZED"
    assert after.PatientIdentityRemoved == "YES"  # replaced


def test_a_private_element_kept_by_its_tag_keeps_its_creator(tmp_path: Path, cli) -> None:
    run = profile_run(
        cli,
        tmp_path,
        "--profile",
        "basic",
        "-T",
        '{"(0009,1001)": "%_keep"}',
        source=EXAMPLES / "dicom" / EXAMPLE,
    )
    assert run.code == 0, run.err
    after = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert [tag for tag in after.keys() if tag.is_private] == [0x00090010, 0x00091001]  # noqa: SIM118


def test_verify_finds_nothing_in_the_example_tree_under_the_profile(tmp_path: Path, cli) -> None:
    (tmp_path / "key").write_bytes(KEY)
    run = cli(EXAMPLES / "dicom", tmp_path / "out", "--keyFile", tmp_path / "key", "--profile", "basic",
              "--verify", "--json")  # fmt: skip
    assert run.code == 0, run.err
    record = run.json()["d_tagSub"]
    assert (record["filesVerified"], record["filesVerifyFailed"], record["failed"]) == (4, 0, [])  # type: ignore[index]
