"""The secret key: where it comes from, the file made once with mode 0600, and that it shows nowhere.

Every test runs with its own empty ``XDG_CONFIG_HOME`` and no ``PFDICOM_TAGSUB_KEY`` (conftest), so
no test reads or writes a key under the real ``~/.config``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.keys import Key, key_load, keyPath_default
from pfdicom_tagSub.models import FileTask
from pfdicom_tagSub.pfdicom_tagSub import pfdicom_tagSub
from tests.conftest import EXAMPLES, REPO, CliRun, script_run

SECRET: bytes = b"k3y-0f-th3-d4t4-0wn3r-" + b"7" * 20
RULES: dict[str, str] = {
    "PatientID": "%_hash|16_PatientID",
    "re:.*UID": "%_uid_#tag",
    "re:.*Date$": "%_dateshift|patientID_#tag",
}


def key_forms(secret: bytes) -> list[bytes]:
    """The key as bytes, as text in hex and base64, and the parts a log could cut it into."""
    return [secret, secret.hex().encode(), base64.b64encode(secret), secret[:16], secret[-16:]]


def test_the_key_file_wins_over_the_environment_which_wins_over_the_default(
    tmp_path: Path, configHome: Path
) -> None:
    keyFile: Path = tmp_path / "study.key"
    keyFile.write_bytes(SECRET + b"\n\n")
    environ: dict[str, str] = {
        "PFDICOM_TAGSUB_KEY": "environment key of 16+ bytes  ",
        "XDG_CONFIG_HOME": str(configHome),
    }
    notices: list[str] = []
    assert key_load(str(keyFile), environ, notices.append) == Key(SECRET)  # trailing whitespace removed
    assert key_load("", environ, notices.append) == Key(b"environment key of 16+ bytes")
    assert notices == [] and not (configHome / "pfdicom_tagSub").exists()


def test_the_default_key_is_made_once_mode_0600_in_a_0700_directory_and_announced_once(
    configHome: Path,
) -> None:
    environ: dict[str, str] = {"XDG_CONFIG_HOME": str(configHome)}
    notices: list[str] = []
    first: Key = key_load("", environ, notices.append)
    path: Path = configHome / "pfdicom_tagSub" / "key"
    assert keyPath_default(environ) == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text: bytes = path.read_bytes()
    assert len(text.strip()) == 64 and bytes.fromhex(text.strip().decode())  # 32 random bytes in hex
    assert first == Key(text.strip())
    assert len(notices) == 1 and str(path) in notices[0] and text.strip().decode() not in notices[0]
    assert key_load("", environ, notices.append) == first
    assert len(notices) == 1
    assert os.listdir(path.parent) == ["key"]  # no temporary file left


def test_without_xdg_config_home_the_key_lives_under_dot_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # expanduser reads the process's HOME
    expected: str = str(tmp_path / ".config" / "pfdicom_tagSub" / "key")
    assert keyPath_default({}) == expected
    assert keyPath_default({"XDG_CONFIG_HOME": "relative/dir"}) == expected  # ignored, as XDG says


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("file", "--keyFile {path}: the key is 15 bytes; a key needs at least 16"),
        ("environment", "PFDICOM_TAGSUB_KEY: the key is 15 bytes; a key needs at least 16"),
        ("missing", "--keyFile {path}: cannot read: No such file or directory"),
    ],
)
def test_a_short_or_unreadable_key_is_refused_saying_why_but_not_what(
    tmp_path: Path, source: str, message: str
) -> None:
    path: Path = tmp_path / "short.key"
    short: str = "fifteen-bytes!!"
    if source == "file":
        path.write_text(short + "   \n")
    environ: dict[str, str] = {"PFDICOM_TAGSUB_KEY": short} if source == "environment" else {}
    with pytest.raises(UsageError) as caught:
        key_load("" if source == "environment" else str(path), environ, print)
    assert str(caught.value).startswith(message.format(path=path))
    assert short not in str(caught.value)


def test_a_run_with_a_short_key_is_exit_2_and_writes_nothing(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("PFDICOM_TAGSUB_KEY", "too short")
    run: CliRun = cli(EXAMPLES / "dicom", tmp_path / "out", "-T", json.dumps(RULES))
    assert run.code == 2
    assert "PFDICOM_TAGSUB_KEY: the key is 9 bytes" in run.err and "too short" not in run.err
    assert not (tmp_path / "out").exists()


def test_no_key_is_loaded_or_made_when_no_rule_needs_one(tmp_path: Path, cli, configHome: Path) -> None:
    rules: dict[str, str] = {"PatientID": "%_md5|7_PatientID", "StudyDate": "%_dateshift|-7_StudyDate"}
    run: CliRun = cli(EXAMPLES / "dicom", tmp_path / "out", "-T", json.dumps(rules))
    assert run.code == 0, run.err
    assert not (configHome / "pfdicom_tagSub").exists() and "secret key" not in run.err


def test_a_run_that_needs_a_key_makes_the_default_one_and_says_where(tmp_path: Path, cli, configHome) -> None:
    run: CliRun = cli(EXAMPLES / "dicom", tmp_path / "out", "-T", json.dumps(RULES), "-v", "0")
    assert run.code == 0, run.err
    path: Path = configHome / "pfdicom_tagSub" / "key"
    assert run.err.splitlines() == [
        f"pfdicom_tagSub: created a new secret key in {path} (mode 0600). Keep it, and back it up: "
        "the same key gives the same pseudonyms, and nobody without it can recompute them"
    ]
    output = pydicom.dcmread(tmp_path / "out" / "PAT001" / "MR_T1_axial" / "IM0001.dcm")
    secret: bytes = path.read_bytes().strip()
    assert output.PatientID == hmac.new(secret, b"MRN000123", hashlib.sha256).hexdigest()[:16]
    again: CliRun = cli(EXAMPLES / "dicom", tmp_path / "again", "-T", json.dumps(RULES), "-v", "0")
    assert again.code == 0 and again.err == ""


def test_the_key_is_in_no_output_log_line_record_plan_or_audit(tmp_path: Path, cli) -> None:
    keyFile: Path = tmp_path / "secret" / "study.key"
    keyFile.parent.mkdir()
    keyFile.write_bytes(SECRET)
    common: tuple[object, ...] = ("-T", json.dumps(RULES), "--keyFile", keyFile, "--json")
    runs: list[CliRun] = [
        cli(EXAMPLES / "dicom", tmp_path / "out", *common, "-v", "5", "--audit", tmp_path / "audit.sqlite"),
        cli(EXAMPLES / "dicom", tmp_path / "out", *common, "-v", "5", "--dryRun", "--threads", "2"),
        cli(EXAMPLES / "dicom", tmp_path / "out2", *common, "--syslog", "--threads", "2"),
    ]
    assert [run.code for run in runs] == [0, 0, 0], runs[0].err
    texts: list[bytes] = [(run.out + run.err).encode() for run in runs]
    files: list[Path] = [path for path in tmp_path.rglob("*") if path.is_file() and path != keyFile]
    assert len([path for path in files if path.suffix == ".dcm"]) == 8
    for blob in texts + [path.read_bytes() for path in files]:
        for form in key_forms(SECRET):
            assert form not in blob
    assert str(runs[0].json()["d_tagSub"]).find(SECRET.decode()) == -1


def test_the_key_reaches_a_worker_inside_the_pickled_job_not_through_its_environment(tmp_path: Path) -> None:
    keyFile: Path = tmp_path / "study.key"
    keyFile.write_bytes(SECRET)
    source: Path = EXAMPLES / "dicom" / "PAT001" / "MR_T1_axial" / "IM0001.dcm"
    app = pfdicom_tagSub(
        inputDir=str(EXAMPLES / "dicom"),
        outputDir=str(tmp_path / "out"),
        tagStruct=json.dumps(RULES),
        keyFile=str(keyFile),
        verbosity="0",
    )
    job = app.job
    job.tempDir = str(tmp_path)
    assert SECRET not in repr(job).encode() and "Key(<secret>)" in repr(job)
    assert SECRET not in json.dumps(vars(app.config)).encode()
    worker: str = (
        "import pickle, sys\n"
        "job, task = pickle.loads(sys.stdin.buffer.read())\n"
        "result = job.file_process(task)\n"
        "print(result.outcome, result.reason, result.tempPath)\n"
    )
    environment: dict[str, str] = {"PATH": os.environ["PATH"], "XDG_CONFIG_HOME": str(tmp_path / "empty")}
    done = subprocess.run(
        [sys.executable, "-c", worker],
        input=pickle.dumps((job, FileTask(str(source), str(tmp_path / "out")))),
        capture_output=True,
        cwd=REPO,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome, tempPath = done.stdout.decode().split()[0], done.stdout.decode().split()[-1]
    assert outcome == "written"
    output = pydicom.dcmread(tempPath)
    assert output.PatientID == hmac.new(SECRET, b"MRN000123", hashlib.sha256).hexdigest()[:16]
    assert not (tmp_path / "empty").exists()  # the worker made no key of its own


def test_two_processes_given_the_same_key_write_the_same_bytes_and_another_key_others(tmp_path: Path) -> None:
    trees: dict[str, dict[str, bytes]] = {}
    for name, secret in (
        ("first", SECRET),
        ("second", SECRET),
        ("other", b"a different key of 32 bytes!!!!"),
    ):
        keyFile: Path = tmp_path / f"{name}.key"
        keyFile.write_bytes(secret)
        run: CliRun = script_run(
            EXAMPLES / "dicom", tmp_path / name, "-T", json.dumps(RULES), "--keyFile", keyFile, "-v", "0"
        )
        assert run.code == 0, run.err
        trees[name] = {
            str(path.relative_to(tmp_path / name)): path.read_bytes()
            for path in (tmp_path / name).rglob("*.dcm")
        }
    assert trees["first"] == trees["second"] and len(trees["first"]) == 4
    assert all(trees["other"][name] != trees["first"][name] for name in trees["first"])
