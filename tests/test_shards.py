"""``--shard I/N``: N runs, as a Slurm job array or a Kubernetes Indexed Job starts them, together
process every file of a tree exactly once, into one output tree equal to a single run's."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CliRun, console_script, tree_snapshot
from tests.safety_support import dataset_save, image_dataset

SHARDS: int = 3
RUN_TIMEOUT: float = 300


def shard_expected(relative: str, count: int) -> int:
    """The shard the README gives a file: SHA-256 of its relative path's bytes, the first 8 bytes
    big-endian, modulo the count."""
    return int.from_bytes(hashlib.sha256(os.fsencode(relative)).digest()[:8], "big") % count


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 DICOM files of three patients in nested series, a non-DICOM file and a name that is not UTF-8."""
    root: Path = tmp_path_factory.mktemp("shards") / "in"
    for number in range(60):
        patient: int = number % 3
        relative: str = f"PAT{patient}/series{number % 4}/IM{number:04d}.dcm"
        dataset_save(
            image_dataset(number, patientID=f"MRN{patient:04d}", patientName=f"DOE^P{patient}"),
            root / relative,
        )
    (root / "notes.txt").write_text("not DICOM\n")
    dataset_save(image_dataset(99), root / os.fsdecode(b"PAT0/caf\xe9.dcm"))
    return root


def relatives(root: Path) -> list[str]:
    """Every file under a tree, relative to it."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def shard_start(inputDir: Path, outputDir: Path, shard: str, hashSeed: str = "0") -> subprocess.Popen[str]:
    """The installed command on one shard, in a process of its own with its own hash seed."""
    return subprocess.Popen(
        [str(console_script()), "-I", inputDir, "-O", outputDir, "-F", rules(), "--json", "--shard", shard],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": hashSeed},
    )


def shard_finish(process: subprocess.Popen[str]) -> CliRun:
    out, err = process.communicate(timeout=RUN_TIMEOUT)
    return CliRun(process.returncode, out, err)


def rules() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "anonymize.json"


def test_three_shards_at_once_process_every_file_once_into_the_output_of_a_single_run(
    tree: Path, tmp_path: Path, cli
) -> None:
    single: CliRun = cli(tree, tmp_path / "single", "-F", rules(), "--json", "-v", "0")
    assert single.code == 0, single.err  # the non-DICOM file is named, not failed
    whole: dict = single.json()["d_tagSub"]  # type: ignore[type-arg]
    assert whole["filesFailed"] == 0 and whole["shard"] is None

    processes = [shard_start(tree, tmp_path / "sharded", f"{index}/{SHARDS}") for index in range(SHARDS)]
    runs: list[CliRun] = [shard_finish(process) for process in processes]

    assert tree_snapshot(tmp_path / "sharded") == tree_snapshot(tmp_path / "single")
    records: list[dict] = [run.json() for run in runs]  # type: ignore[type-arg]
    assert sum(record["d_tagSub"]["filesSaved"] for record in records) == whole["filesSaved"] == 61
    assert sum(record["d_tagSub"]["filesFound"] for record in records) == whole["filesFound"] == 62
    for index, (run, record) in enumerate(zip(runs, records, strict=True)):
        assert record["d_tagSub"]["shard"] == record["d_pfdicom"]["shard"] == f"{index}/{SHARDS}"
        assert record["d_tagSub"]["filesExisting"] == 0, "a file was processed by two shards"
        mine: list[str] = [
            relative for relative in relatives(tree) if shard_expected(relative, SHARDS) == index
        ]
        saved: list[str] = [relative for relative in mine if relative != "notes.txt"]
        assert record["d_tagSub"]["filesFound"] == len(mine)
        assert record["d_tagSub"]["filesSaved"] == len(saved)
        assert run.code == 0, run.err
    assert [name for name in os.listdir(tmp_path / "sharded") if name.startswith(".")] == []


def test_a_shard_holds_the_same_files_in_every_process_whatever_the_hash_seed(
    tree: Path, tmp_path: Path
) -> None:
    outputs: dict[str, list[str]] = {}
    for seed in ("0", "1", "4242"):
        run: CliRun = shard_finish(shard_start(tree, tmp_path / seed, f"1/{SHARDS}", hashSeed=seed))
        assert run.code == 0, run.err
        outputs[seed] = relatives(tmp_path / seed)
    expected: list[str] = [
        relative
        for relative in relatives(tree)
        if shard_expected(relative, SHARDS) == 1 and relative != "notes.txt"
    ]
    assert outputs == {"0": expected, "1": expected, "4242": expected}
    assert 0 < len(expected) < 61


@pytest.mark.parametrize("shard", ["3/3", "x", "-1/3", "1/0", "1/3/3"])
def test_a_shard_out_of_range_or_not_i_of_n_is_exit_2_and_nothing_is_written(
    tree: Path, tmp_path: Path, cli, shard: str
) -> None:
    run: CliRun = cli(tree, tmp_path / "out", "-F", rules(), f"--shard={shard}")
    assert run.code == 2
    assert run.err.startswith("pfdicom_tagSub: error: --shard") and run.err.count("\n") == 1, run.err
    assert not (tmp_path / "out").exists()


def test_one_shard_of_one_is_the_whole_tree(tree: Path, tmp_path: Path, cli) -> None:
    run: CliRun = cli(tree, tmp_path / "out", "-F", rules(), "--shard", "0/1", "--json", "-v", "0")
    assert json.loads(run.out)["d_tagSub"]["filesSaved"] == 61


KEYED: str = '{"PatientID": "%_hash|16_PatientID"}'


def test_a_keyed_shard_without_a_key_yet_is_exit_2_and_makes_none(
    tree: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another machine's shard would make a key of its own: the same patient, two pseudonyms
    monkeypatch.delenv("PFDICOM_TAGSUB_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    run: CliRun = cli(tree, tmp_path / "out", "-T", KEYED, "--shard", "1/3")
    assert run.code == 2
    assert run.err == (
        "pfdicom_tagSub: error: --shard: keyed rules need the same key in every shard, and there is none "
        "yet: give --keyFile or PFDICOM_TAGSUB_KEY (or run once without --shard to create the default key)\n"
    )
    assert not (tmp_path / "config").exists() and not (tmp_path / "out").exists()


def test_keyed_shards_with_one_key_give_the_pseudonyms_of_a_single_run(
    tree: Path, tmp_path: Path, cli
) -> None:
    key: Path = tmp_path / "key"
    key.write_text("0123456789abcdef0123456789abcdef\n")
    assert cli(tree, tmp_path / "single", "-T", KEYED, "--keyFile", key, "-v", "0").code == 0
    for index in range(SHARDS):
        assert (
            cli(
                tree, tmp_path / "sharded", "-T", KEYED, "--keyFile", key, "--shard", f"{index}/{SHARDS}"
            ).code
            == 0
        )
    assert tree_snapshot(tmp_path / "sharded") == tree_snapshot(tmp_path / "single")
