"""The one-shot container: the Dockerfile built, then run the way pipelines and ChRIS run it.

The engine is the one CONTAINER_ENGINE names (docker or podman); BASE_IMAGE, if set, is the base
image passed as ``--build-arg BASE`` (a local stand-in for python:3.12-slim where no registry is
reachable; ``eval "$(../shared/tools/container-engine.sh)"`` sets both on such a machine). Without a
working engine every test here is skipped with a warning saying why; CONTAINER_TEST_REQUIRED=1 (set
by .ci/run once it has an engine) turns that into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pydicom
import pytest

from pfdicom_tagSub import __version__
from tests.conftest import EXAMPLES, README_RULES, REPO, dcm, tree_snapshot
from tests.expected import md5_expected, name_expected
from tests.safety_support import dataset_save, image_dataset

BUILD_TIMEOUT: float = 900
RUN_TIMEOUT: float = 300
WRAPPER_TAGINFO: str = (
    "PatientName,%_name|patientID_PatientName ++ PatientID,%_md5|7_PatientID ++ "
    "AccessionNumber,%_md5|8_AccessionNumber"
)


class ContainerTestsSkipped(UserWarning):
    """The container tests did not run: shown in pytest's warnings summary."""


def engine_unavailable(reason: str) -> NoReturn:
    """Skip every container test, loudly; fail instead where CI asked for them."""
    if os.environ.get("CONTAINER_TEST_REQUIRED") == "1":
        pytest.fail(f"container tests cannot run: {reason} (CONTAINER_TEST_REQUIRED=1)", pytrace=False)
    message = f"container tests SKIPPED: {reason}"
    warnings.warn(message, ContainerTestsSkipped, stacklevel=2)
    pytest.skip(message)


@dataclass(frozen=True)
class Engine:
    """A container engine that answers, and how it maps users."""

    command: str
    rootless: bool

    def run(self, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.command, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def callerUser(self) -> list[str]:
        """The ``run`` options that make the container write files owned by the caller."""
        if self.rootless and self.command.endswith("podman"):
            return ["--userns=keep-id", "--user", f"{os.getuid()}:{os.getgid()}"]
        if self.rootless:
            # rootless docker: the container's root is the caller
            return ["--user", "0:0"]
        return ["--user", f"{os.getuid()}:{os.getgid()}"]


def engine_probe(command: str) -> Engine:
    """The engine, if it is installed and answers; otherwise skip."""
    if shutil.which(command) is None:
        engine_unavailable(f"CONTAINER_ENGINE={command} is not on PATH")
    try:
        info = subprocess.run(
            [command, "info", "--format", "{{json .}}"], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        engine_unavailable(f"`{command} info` did not answer in 120 s")
    if info.returncode != 0:
        engine_unavailable(f"`{command} info` failed: {info.stderr.strip()[-300:]}")
    details = json.loads(info.stdout)
    if "host" in details:  # podman
        rootless = bool(details["host"].get("security", {}).get("rootless"))
    else:  # docker
        rootless = "rootless" in json.dumps(details.get("SecurityOptions", []))
    return Engine(command, rootless)


@pytest.fixture(scope="session")
def engine() -> Engine:
    command = os.environ.get("CONTAINER_ENGINE", "")
    if not command:
        engine_unavailable(
            'CONTAINER_ENGINE is not set (docker or podman; eval "$(../shared/tools/container-engine.sh)" '
            "prepares podman on a machine without Docker)"
        )
    return engine_probe(command)


@pytest.fixture(scope="session")
def image(engine: Engine) -> Iterator[str]:
    """The image built from this checkout's Dockerfile, under a tag of this session's own."""
    tag = f"localhost/pfdicom_tagsub-test:{uuid.uuid4().hex[:12]}"
    build = ["build", "--tag", tag]
    base = os.environ.get("BASE_IMAGE", "")
    if base:
        build += ["--build-arg", f"BASE={base}"]
        if engine.command.endswith("podman"):
            build.append("--pull=never")  # a local stand-in, there may be no registry to ask
    done = engine.run(*build, str(REPO), timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, f"image build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    yield tag
    engine.run("rmi", "--force", tag)


@dataclass
class Mounts:
    """An input tree to mount read-only at /incoming and an output directory for /outgoing."""

    incoming: Path
    outgoing: Path

    def volumes(self) -> list[str]:
        return ["-v", f"{self.incoming}:/incoming:ro", "-v", f"{self.outgoing}:/outgoing"]


@pytest.fixture
def mounts(tmp_path: Path) -> Mounts:
    """The example tree with the README rules as ``rules.json`` in it, and an empty output directory."""
    incoming = Path(shutil.copytree(EXAMPLES / "dicom", tmp_path / "in"))
    (incoming / "rules.json").write_text(json.dumps(README_RULES))
    outgoing = tmp_path / "out"
    outgoing.mkdir()
    return Mounts(incoming, outgoing)


def example_inputs() -> list[Path]:
    return sorted(path.relative_to(EXAMPLES / "dicom") for path in (EXAMPLES / "dicom").rglob("*.dcm"))


def outputs_list(outgoing: Path) -> list[Path]:
    return sorted(path.relative_to(outgoing) for path in outgoing.rglob("*") if path.is_file())


def test_the_image_has_the_command_on_path_and_runs_as_a_non_root_user(engine: Engine, image: str) -> None:
    version = engine.run("run", "--rm", image, "pfdicom_tagSub", "--version")
    assert version.returncode == 0, version.stderr
    assert __version__ in version.stdout
    user = engine.run("run", "--rm", image, "id", "-u")
    assert user.returncode == 0, user.stderr
    assert user.stdout.strip() not in ("", "0")


def test_a_one_shot_run_de_identifies_every_file_of_the_example_tree(
    engine: Engine, image: str, mounts: Mounts
) -> None:
    # the image's own non-root user writes here: the output directory must let it (ChRIS makes it so)
    mounts.outgoing.chmod(0o777)
    before = tree_snapshot(mounts.incoming)

    done = engine.run(
        "run", "--rm", *mounts.volumes(), image,
        "pfdicom_tagSub", "-I", "/incoming", "-O", "/outgoing", "-F", "/incoming/rules.json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert outputs_list(mounts.outgoing) == example_inputs()
    for relative in example_inputs():
        original = pydicom.dcmread(mounts.incoming / relative)
        output = dcm(mounts.outgoing / relative)
        assert str(output.PatientName) == name_expected(original.PatientID)
        assert output.PatientID == md5_expected(original.PatientID, 7)
        assert output.AccessionNumber == md5_expected(original.AccessionNumber, 8)
        assert output.PatientBirthDate == original.PatientBirthDate[:6] + "01"
        assert str(output.ReferringPhysicianName) == md5_expected(str(original.ReferringPhysicianName), 4)
        assert output.InstitutionName == "InstitutionName"
        assert output.InstitutionAddress == "InstitutionAddress"
        nested = output.OtherPatientIDsSequence[0]
        assert nested.PatientID == md5_expected(original.OtherPatientIDsSequence[0].PatientID, 7)
        assert output.PixelData == original.PixelData
    assert "README.txt" in done.stdout and "rules.json" in done.stdout
    assert tree_snapshot(mounts.incoming) == before


def test_the_chris_form_run_as_the_caller_writes_files_the_caller_owns(
    engine: Engine, image: str, mounts: Mounts
) -> None:
    done = engine.run(
        "run", "--rm", *engine.callerUser(), *mounts.volumes(), image,
        "pfdicom_tagSub", "--tagInfo", WRAPPER_TAGINFO, "--threads", "2", "-e", "dcm",
        "/incoming", "/outgoing",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert outputs_list(mounts.outgoing) == example_inputs()
    for path in mounts.outgoing.rglob("*"):
        status = path.stat()
        assert (status.st_uid, status.st_gid) == (os.getuid(), os.getgid()), path
        assert status.st_mode & 0o600 == 0o600, path
    for relative in example_inputs():
        original = pydicom.dcmread(mounts.incoming / relative)
        output = dcm(mounts.outgoing / relative)
        assert str(output.PatientName) == name_expected(original.PatientID)
        assert output.PatientID == md5_expected(original.PatientID, 7)
        assert output.PatientBirthDate == original.PatientBirthDate


def test_a_typo_in_a_rule_exits_2_with_the_message_and_writes_nothing(
    engine: Engine, image: str, mounts: Mounts
) -> None:
    (mounts.incoming / "rules.json").write_text(json.dumps({"PatientsName": "%_md5|7_PatientID"}))

    done = engine.run(
        "run", "--rm", *engine.callerUser(), *mounts.volumes(), image,
        "pfdicom_tagSub", "-I", "/incoming", "-O", "/outgoing", "-F", "/incoming/rules.json",
    )  # fmt: skip

    assert done.returncode == 2
    assert "PatientsName: not a DICOM keyword; did you mean PatientName?" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(mounts.outgoing.iterdir()) == []


def test_the_input_mount_stays_read_only_even_for_an_output_inside_it(
    engine: Engine, image: str, mounts: Mounts
) -> None:
    before = tree_snapshot(mounts.incoming)

    done = engine.run(
        "run", "--rm", *engine.callerUser(), *mounts.volumes(), image,
        "pfdicom_tagSub", "-I", "/incoming", "-O", "/incoming/anon", "-F", "/incoming/rules.json",
    )  # fmt: skip

    assert done.returncode == 1
    assert "/incoming/anon" in done.stderr and "Read-only file system" in done.stderr
    assert tree_snapshot(mounts.incoming) == before
    assert not (mounts.incoming / "anon").exists()


SHARD_KEY: str = "f0e1d2c3b4a5968778695a4b3c2d1e0f"


@pytest.fixture
def shardTree(tmp_path: Path) -> Path:
    """30 DICOM files of three patients in ``data/in``; the README rules and keyed ones in
    ``data/conf/rules.json``, their key in ``data/conf/key``."""
    data: Path = tmp_path / "data"
    for number in range(30):
        dataset = image_dataset(number, patientID=f"MRN{number % 3:04d}", patientName=f"DOE^P{number % 3}")
        dataset_save(
            dataset, data / "in" / f"PAT{number % 3}" / f"series{number % 2}" / f"IM{number:04d}.dcm"
        )
    keyed: dict[str, str] = {"PatientID": "%_hash|16_PatientID", "re:.*InstanceUID$": "%_uid_#tag"}
    (data / "conf").mkdir()
    (data / "conf" / "rules.json").write_text(json.dumps({**README_RULES, **keyed}))
    (data / "conf" / "key").write_text(SHARD_KEY + "\n")
    return data


def slurmTask_start(
    engine: Engine,
    image: str,
    where: Path,
    task: int,
    first: int,
    count: int,
    extra: dict[str, str] | None = None,
) -> Any:
    """The Slurm example as one task of an array (the variables Slurm sets), with the key's option."""
    # the key's path as the container sees it: where the script binds the rules' directory
    key: str = str(where / "data" / "conf" / "key")
    arguments: list[str] = ["data/in", "data/anon", "data/conf/rules.json", "--keyFile", key]
    return subprocess.Popen(
        ["bash", str(EXAMPLES / "slurm-shards.sh"), *arguments],
        cwd=where,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "SLURM_ARRAY_TASK_ID": str(task),
            "SLURM_ARRAY_TASK_MIN": str(first),
            "SLURM_ARRAY_TASK_COUNT": str(count),
            "ENGINE": engine.command,
            "IMAGE": image,
            "ENGINE_OPTIONS": " ".join(engine.callerUser()),
            **(extra or {}),
        },
    )


def slurmTask_record(task: Any) -> dict[str, Any]:
    out, err = task.communicate(timeout=RUN_TIMEOUT)
    assert task.returncode == 0, err
    return json.loads(out)


def test_the_slurm_array_example_gives_the_output_of_one_run_one_shard_per_task(
    engine: Engine, image: str, shardTree: Path, tmp_path: Path, cli
) -> None:
    conf: Path = shardTree / "conf"
    single = cli(shardTree / "in", tmp_path / "single", "-F", conf / "rules.json", "--keyFile", conf / "key")
    assert single.code == 0, single.err
    # the array as sbatch --array=1-3 makes it, its tasks at once
    tasks = [slurmTask_start(engine, image, tmp_path, task, 1, 3) for task in (1, 2, 3)]
    records: list[dict[str, Any]] = [slurmTask_record(task) for task in tasks]
    assert [record["d_tagSub"]["shard"] for record in records] == ["0/3", "1/3", "2/3"]
    assert sum(record["d_tagSub"]["filesSaved"] for record in records) == 30
    assert tree_snapshot(shardTree / "anon") == tree_snapshot(tmp_path / "single")
    # shard 1 rerun alone, as the script says: SHARDS=3 SHARD_FIRST=1 sbatch --array=2 ...
    again: dict[str, Any] = slurmTask_record(
        slurmTask_start(engine, image, tmp_path, 2, 2, 1, {"SHARDS": "3", "SHARD_FIRST": "1"})
    )
    assert again["d_tagSub"]["shard"] == "1/3" and again["d_tagSub"]["filesSaved"] == 0
    assert again["d_tagSub"]["filesExisting"] == records[1]["d_tagSub"]["filesSaved"] > 0
    assert tree_snapshot(shardTree / "anon") == tree_snapshot(tmp_path / "single")


def kubelet_expand(argument: str, env: dict[str, str]) -> str:
    """What the kubelet does to a container's argument: ``$(NAME)`` becomes the variable NAME."""
    return re.sub(r"\$\((\w+)\)", lambda match: env[match[1]], argument)


def test_the_kubernetes_example_runs_the_image_for_each_index_into_the_output_of_one_run(
    engine: Engine, image: str, shardTree: Path, tmp_path: Path, cli
) -> None:
    yaml = pytest.importorskip("yaml")  # installed with the dask extra
    job: dict[str, Any] = yaml.safe_load((EXAMPLES / "kubernetes-indexed-job.yaml").read_text())
    spec: dict[str, Any] = job["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    container: dict[str, Any] = pod["containers"][0]
    env: dict[str, str] = {item["name"]: item.get("value", "") for item in container["env"]}
    assert spec["completionMode"] == "Indexed" and int(env["SHARDS"]) == spec["completions"]
    assert container["volumeMounts"][0]["mountPath"] == "/data"
    # the volume as the Job expects it, and the key as its Secret gives it to every pod
    (shardTree / "rules.json").write_text((shardTree / "conf" / "rules.json").read_text())
    secret: list[str] = ["--env", f"PFDICOM_TAGSUB_KEY={SHARD_KEY}"]
    keyEnv: dict[str, Any] = next(item for item in container["env"] if item["name"] == "PFDICOM_TAGSUB_KEY")
    assert "secretKeyRef" in keyEnv["valueFrom"]
    conf: Path = shardTree / "conf"
    single = cli(shardTree / "in", tmp_path / "single", "-F", conf / "rules.json", "--keyFile", conf / "key")
    assert single.code == 0, single.err
    shardTree.chmod(0o777)  # the pods run as the image's user (runAsUser below), as on the cluster
    user: str = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    for index in range(spec["completions"]):
        args: list[str] = [
            kubelet_expand(arg, {**env, "SHARD_INDEX": str(index)}) for arg in container["args"]
        ]
        done = engine.run(
            "run", "--rm", "--user", user, *secret, "-v", f"{shardTree}:/data", image,
            *container["command"], *args,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["d_tagSub"]["shard"] == f"{index}/{spec['completions']}"
    assert tree_snapshot(shardTree / "out") == tree_snapshot(tmp_path / "single")
