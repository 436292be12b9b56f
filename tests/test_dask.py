"""``--dask``: the same run on a real Dask cluster (``dask scheduler`` and ``dask worker`` processes on
127.0.0.1, started and stopped here), also when a worker is killed in the middle of a batch.

Without the ``dask`` extra installed, the tests that need a cluster are skipped with a warning that
says so (CI installs the extra, so they run there); the ones about a missing extra or cluster run
everywhere they can.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pfdicom_tagSub.output import TEMP_NAME, TEMP_PREFIX
from tests.conftest import EXAMPLES, README_RULES, CliRun, console_script, tree_snapshot
from tests.dask_support import DaskCluster, cluster_running, dask_required
from tests.safety_support import dataset_save, image_dataset

RULES: Path = Path(__file__).resolve().parent.parent / "examples" / "anonymize.json"
RUN_TIMEOUT: float = 300
FILES: int = 300
KILL_POLL_SECONDS: float = 0.001
BATCH_GIVEN_UP: str = "not processed: the Dask workers running its batch died (KilledWorker)"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 DICOM files of five patients in ten series, a file that is not DICOM, one cut short and
    one whose private element holds its PatientID."""
    root: Path = tmp_path_factory.mktemp("dask") / "in"
    for number in range(FILES):
        patient: int = number % 5
        dataset = image_dataset(
            number, patientID=f"MRN{patient:05d}", patientName=f"DOE^PAT{patient}", size=64
        )
        dataset_save(dataset, root / f"PAT{patient}" / f"series{number % 10}" / f"IM{number:04d}.dcm")
    (root / "README.txt").write_text("not DICOM\n")
    leak = image_dataset(FILES, patientID="MRN00002", patientName="DOE^PAT2", size=64)
    leak.add_new(0x00090010, "LO", "ACME 1.1")
    leak.add_new(0x00091001, "LO", "MRN00002")  # the PatientID again, where no rule reaches: --verify's
    dataset_save(leak, root / "PAT2" / "leak.dcm")
    # the README rules and keyed ones, whose key only the command reads (the workers have another)
    keyed: dict[str, str] = {"PatientID": "%_hash|16_PatientID", "re:.*InstanceUID$": "%_uid_#tag"}
    (root.parent / "rules.json").write_text(json.dumps({**README_RULES, **keyed}))
    (root.parent / "key").write_text("f0e1d2c3b4a5968778695a4b3c2d1e0f\n")
    whole: bytes = (root / "PAT0" / "series0" / "IM0000.dcm").read_bytes()
    (root / "PAT0" / "cut.dcm").write_bytes(whole[: len(whole) // 2])
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A scheduler and two workers, shared by the tests that do not harm them."""
    dask_required()
    with cluster_running(tmp_path_factory.mktemp("cluster"), workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def localRun(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliRun]:
    """The same run with the local process pool: what a Dask run must equal."""
    where: Path = tmp_path_factory.mktemp("local")
    run: CliRun = tool_run(where, tree, "local", "--threads", "2")
    return where, run


def tool_command(where: Path, tree: Path, name: str, *options: str) -> list[str]:
    """The installed command from ``where``, with relative paths, its audit beside its output, every
    output verified."""
    relativeTree: str = os.path.relpath(tree, where)
    command: list[str] = [str(console_script()), "-I", relativeTree, "-O", name, "--json", "-v", "0"]
    keyed: list[str] = ["-F", str(tree.parent / "rules.json"), "--keyFile", str(tree.parent / "key")]
    return [*command, *keyed, "--audit", f"{name}.sqlite", "--verify", *options]


def tool_run(where: Path, tree: Path, name: str, *options: str) -> CliRun:
    done = subprocess.run(
        tool_command(where, tree, name, *options),
        capture_output=True,
        text=True,
        cwd=where,
        timeout=RUN_TIMEOUT,
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


def audit_content(path: Path, outputRoot: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The files and changes an audit recorded (it holds absolute paths), output paths relative to
    their root, ids left out."""
    connection = sqlite3.connect(path)
    try:
        files = connection.execute(
            "select input_path, substr(output_path, ?), status, reason from files order by input_path",
            (len(outputRoot) + 1,),
        ).fetchall()
        changes = connection.execute(
            "select f.input_path, c.path, c.tag, c.keyword, c.vr, c.action, c.old_value, c.new_value, c.rule "
            "from changes c join files f using (file_id) order by 1, 2, 3"
        ).fetchall()
    finally:
        connection.close()
    return files, changes


def runs_compare(localWhere: Path, local: CliRun, daskWhere: Path, dask: CliRun) -> None:
    """Outputs byte for byte, exit status, the record's counts and lists (--verify's included), and
    the audit: all the same."""
    assert dask.code == local.code == 1, dask.err  # the file cut short and the leak fail in both
    assert tree_snapshot(daskWhere / "dask") == tree_snapshot(localWhere / "local")
    assert len(tree_snapshot(daskWhere / "dask")) == FILES
    assert dask.json()["d_tagSub"] == local.json()["d_tagSub"]
    record: dict = dask.json()["d_tagSub"]  # type: ignore[type-arg]
    assert record["filesNotDicom"] == 1 and record["filesVerified"] == FILES
    assert record["filesVerifyFailed"] == 1 and record["filesFailed"] == 2
    daskAudit = audit_content(daskWhere / "dask.sqlite", str(daskWhere / "dask"))
    assert daskAudit == audit_content(localWhere / "local.sqlite", str(localWhere / "local"))
    assert len(daskAudit[0]) == FILES + 3 and len(daskAudit[1]) > FILES
    leftovers: list[str] = [name for name in os.listdir(daskWhere / "dask") if name.startswith(TEMP_PREFIX)]
    assert leftovers == []


def test_a_run_on_a_dask_cluster_equals_a_local_run(
    cluster: DaskCluster, tree: Path, localRun: tuple[Path, CliRun], tmp_path: Path
) -> None:
    dask: CliRun = tool_run(tmp_path, tree, "dask", "--dask", cluster.address)
    runs_compare(*localRun, tmp_path, dask)
    assert dask.json()["d_pfdicom"]["dask"] == cluster.address
    logs: str = "".join(path.read_text() for path in cluster.directory.glob("worker*.log"))
    assert "Traceback" not in logs


def test_the_profile_on_a_dask_cluster_writes_what_it_writes_locally(
    cluster: DaskCluster, tmp_path: Path
) -> None:
    (tmp_path / "key").write_bytes(b"the profile on a cluster, 32 bytes")
    for name, options in (("local", ["--threads", "2"]), ("dask", ["--dask", cluster.address])):
        where: list[str] = ["-I", str(EXAMPLES / "dicom"), "-O", str(tmp_path / name), "-v", "0"]
        profile: list[str] = ["--profile", "basic,retainLongModifiedDates", "--verify"]
        done = subprocess.run(
            [str(console_script()), *where, *profile, "--keyFile", str(tmp_path / "key"), *options],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        assert done.returncode == 0, done.stderr
    assert tree_snapshot(tmp_path / "dask") == tree_snapshot(tmp_path / "local")
    assert len(tree_snapshot(tmp_path / "dask")) == 4


def worker_writing(outputRoot: Path, pids: dict[int, str]) -> tuple[int, list[str]] | None:
    """A worker of ours with a temporary file in the run's directory, and its files there; or None."""
    for entry in os.scandir(outputRoot) if outputRoot.is_dir() else []:
        if not TEMP_NAME.fullmatch(entry.name):
            continue
        try:
            names: list[str] = os.listdir(entry.path)
        except FileNotFoundError:  # the run has ended
            return None
        for name in names:
            pid: int = int(name.split("-")[-2]) if name.count("-") >= 2 else 0
            if pid in pids:
                return pid, [os.path.join(entry.path, other) for other in names if f"-{pid}-" in other]
    return None


def inodes_of(paths: list[str]) -> set[int]:
    found: set[int] = set()
    for path in paths:
        with contextlib.suppress(FileNotFoundError):  # placed or removed since it was listed
            found.add(os.stat(path).st_ino)
    return found


@dataclass
class KilledRun:
    """A run during which a worker was killed with SIGKILL while it held a batch.

    Attributes:
        run: how the run ended.
        worker: the name of the worker killed.
        orphans: the inodes of the files it had written of that batch, when it died.
        completion: seconds from the kill to the end of the run.
    """

    run: CliRun
    worker: str
    orphans: set[int]
    completion: float


def run_killingWorker(cluster: DaskCluster, where: Path, tree: Path) -> KilledRun:
    """Run the tool on the cluster and kill the first worker seen writing a file of the run (so in
    the middle of a batch, whose results the client cannot have had yet)."""
    pids: dict[int, str] = {process.pid: name for name, process in cluster.workers.items()}
    tool = subprocess.Popen(
        tool_command(where, tree, "dask", "--dask", cluster.address),
        cwd=where,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen: tuple[int, list[str]] | None = None
        while seen is None and tool.poll() is None:
            seen = worker_writing(where / "dask", pids)
            time.sleep(KILL_POLL_SECONDS)
        assert seen is not None, "no worker wrote a file before the run ended"
        killedPid, files = seen
        os.kill(killedPid, signal.SIGKILL)
        killedAt: float = time.monotonic()
        cluster.workers[pids[killedPid]].wait()
        orphans: set[int] = inodes_of(files)
        out, err = tool.communicate(timeout=RUN_TIMEOUT)
        completion: float = time.monotonic() - killedAt
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
    return KilledRun(CliRun(tool.returncode, out, err), pids[killedPid], orphans, completion)


def test_a_worker_killed_while_it_holds_a_batch_leaves_the_outputs_whole_and_no_temporary_file(
    tree: Path, localRun: tuple[Path, CliRun], tmp_path: Path
) -> None:
    dask_required()
    with cluster_running(tmp_path / "cluster", workers=2) as cluster:
        killed: KilledRun = run_killingWorker(cluster, tmp_path, tree)
    print(f"\nkilled {killed.worker} holding a batch; the run completed {killed.completion:.2f} s later")
    runs_compare(*localRun, tmp_path, killed.run)
    assert killed.orphans, "the killed worker had no file written in the batch it held"
    outputs: set[int] = {path.stat().st_ino for path in (tmp_path / "dask").rglob("*.dcm")}
    assert not killed.orphans & outputs, "a file of the dead worker's batch became an output"


def test_a_batch_the_cluster_gives_up_on_fails_its_files_and_only_them(
    tree: Path, localRun: tuple[Path, CliRun], tmp_path: Path
) -> None:
    dask_required()
    # a scheduler that gives a task up the first time a worker dies running it (by default, the fourth)
    giveUp: dict[str, str] = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with cluster_running(tmp_path / "cluster", workers=2, schedulerEnv=giveUp) as cluster:
        killed: KilledRun = run_killingWorker(cluster, tmp_path, tree)
    assert killed.run.code == 1
    record: dict = killed.run.json()["d_tagSub"]  # type: ignore[type-arg]
    given: set[str] = {
        os.path.relpath(entry["file"], os.path.relpath(tree, tmp_path))
        for entry in record["failed"]
        if entry["reason"] == BATCH_GIVEN_UP
    }
    assert len(given) >= 50, "not one whole batch was given up"  # the batch it ran, and any queued on it
    local: dict[str, bytes] = tree_snapshot(localRun[0] / "local")
    written: dict[str, bytes] = tree_snapshot(tmp_path / "dask")
    assert written == {relative: data for relative, data in local.items() if relative in written}
    assert set(local) - set(written) == given & set(local)
    assert record["filesSaved"] == len(written) == FILES - len(given & set(local))
    assert [name for name in os.listdir(tmp_path / "dask") if name.startswith(TEMP_PREFIX)] == []


def free_port() -> int:
    """A port of 127.0.0.1 on which nothing listens (taken from the system, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_is_exit_1_naming_it_within_the_timeout(tree: Path, tmp_path: Path) -> None:
    dask_required()
    address: str = f"tcp://127.0.0.1:{free_port()}"
    start: float = time.monotonic()
    run: CliRun = tool_run(tmp_path, tree, "out", "--dask", address, "--daskTimeout", "2")
    elapsed: float = time.monotonic() - start
    assert run.code == 1
    assert (
        run.err.splitlines()[-1]
        == f"pfdicom_tagSub: error: --dask {address}: no Dask scheduler answered within 2 s"
    )
    assert elapsed < 30, "the run waited longer than the default timeout, not the 2 s given"
    assert not (tmp_path / "out").exists()  # a run that writes nothing removes the directories it made


def test_a_scheduler_without_workers_is_exit_1_within_the_timeout(tree: Path, tmp_path: Path) -> None:
    dask_required()
    with cluster_running(tmp_path / "cluster", workers=0) as cluster:
        run: CliRun = tool_run(tmp_path, tree, "out", "--dask", cluster.address, "--daskTimeout", "2")
    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        f"pfdicom_tagSub: error: --dask {cluster.address}: the scheduler has no worker (waited 2 s)"
    )
    assert not (tmp_path / "out").exists()  # a run that writes nothing removes the directories it made


def test_without_the_dask_extra_dask_is_exit_2_naming_the_extra(tree: Path, tmp_path: Path) -> None:
    # the import system's own way to make a module absent: None in sys.modules
    program: str = (
        "import sys; sys.modules['distributed'] = sys.modules['dask'] = None\n"
        "from pfdicom_tagSub.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            program,
            str(tree),
            str(tmp_path / "out"),
            "-F",
            str(RULES),
            "--dask",
            "tcp://h:8786",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "pfdicom_tagSub: error: --dask needs Dask, an optional extra: pip install 'pfdicom_tagSub[dask]'\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("threads", ["0", "2"])
def test_dask_with_threads_is_exit_2(tree: Path, tmp_path: Path, cli, threads: str) -> None:
    run: CliRun = cli(tree, tmp_path / "out", "-F", RULES, "--dask", "tcp://h:8786", "--threads", threads)
    assert (run.code, run.err) == (
        2,
        "pfdicom_tagSub: error: --dask runs the files on the cluster's workers: drop --threads\n",
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("address", "why"),
    [("h", "missing port number in address 'h'"), ("ftp://h:1", "unknown address scheme 'ftp'")],
)
def test_an_address_that_is_no_scheduler_address_is_exit_2(
    tree: Path, tmp_path: Path, cli, address: str, why: str
) -> None:
    dask_required()
    run: CliRun = cli(tree, tmp_path / "out", "-F", RULES, "--dask", address)
    assert run.code == 2
    assert run.err.startswith(
        f"pfdicom_tagSub: error: --dask {address!r}: not the address of a Dask scheduler"
    )
    assert why in run.err
    assert not (tmp_path / "out").exists()


def test_a_dry_run_on_the_cluster_plans_what_a_local_dry_run_plans_and_writes_nothing(
    cluster: DaskCluster, tree: Path, tmp_path: Path
) -> None:
    relativeTree: str = os.path.relpath(tree, tmp_path)
    command: list[str] = [
        str(console_script()),
        relativeTree,
        "out",
        "-F",
        str(RULES),
        "--dryRun",
        "--verify",
    ]
    runs: list[subprocess.CompletedProcess[str]] = [
        subprocess.run(command + extra, capture_output=True, text=True, cwd=tmp_path, timeout=RUN_TIMEOUT)
        for extra in (["--json"], ["--json", "--dask", cluster.address])
    ]
    local, dask = (json.loads(run.stdout) for run in runs)
    assert dask["d_tagSub"] == local["d_tagSub"]
    assert len(dask["d_tagSub"]["plan"]) == FILES and dask["d_tagSub"]["filesPlanned"] == FILES
    assert dask["d_pfdicom"]["dask"] == cluster.address
    assert runs[1].stdout.replace(cluster.address, "") and not (tmp_path / "out").exists()


def outputs_placed(root: Path) -> bool:
    """Whether an output has its final name under ``root`` (not only a temporary one)."""
    for _directory, dirs, names in os.walk(root):
        dirs[:] = [name for name in dirs if not name.startswith(TEMP_PREFIX)]
        if any(name.endswith(".dcm") for name in names):
            return True
    return False


def test_a_scheduler_lost_in_the_middle_of_a_run_is_exit_1_with_every_output_whole(
    tree: Path, localRun: tuple[Path, CliRun], tmp_path: Path
) -> None:
    dask_required()
    with cluster_running(tmp_path / "cluster", workers=2) as cluster:
        tool = subprocess.Popen(
            tool_command(tmp_path, tree, "dask", "--dask", cluster.address),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while tool.poll() is None and not outputs_placed(tmp_path / "dask"):
                time.sleep(KILL_POLL_SECONDS)
            assert cluster.scheduler is not None
            os.kill(cluster.scheduler.pid, signal.SIGKILL)
            _out, err = tool.communicate(timeout=RUN_TIMEOUT)
        finally:
            if tool.poll() is None:
                tool.kill()
                tool.wait()
    assert tool.returncode == 1, err
    assert err.splitlines()[-1] == (
        f"pfdicom_tagSub: error: --dask {cluster.address}: the cluster stopped running the files (the "
        "connection to the scheduler was lost); the outputs written are whole and kept: run again to finish"
    )
    assert "Traceback" not in err
    written: dict[str, bytes] = tree_snapshot(tmp_path / "dask")
    local: dict[str, bytes] = tree_snapshot(localRun[0] / "local")
    assert written and written == {relative: local[relative] for relative in written}
    assert [name for name in os.listdir(tmp_path / "dask") if name.startswith(TEMP_PREFIX)] == []
