"""Shared fixtures: pydicom's bundled files, small trees built in tmp_path, the CLI in and out of process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from pfdicom_tagSub.__main__ import main

REPO: Path = Path(__file__).resolve().parent.parent
EXAMPLES: Path = REPO / "examples"

# the README rules, as the example ships them
README_RULES: dict[str, str] = json.loads((EXAMPLES / "anonymize.json").read_text())


@pytest.fixture(autouse=True)
def configHome(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty config home of its own and no key in the environment, so that no
    test reads or creates a secret key under the real ``~/.config`` (subprocesses inherit it)."""
    home: Path = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("PFDICOM_TAGSUB_KEY", raising=False)
    return home


def pydicomFile(name: str) -> Path:
    """A file pydicom ships, e.g. ``CT_small.dcm``."""
    return Path(str(get_testdata_file(name)))


@dataclass
class CliRun:
    """What a command run returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> dict[str, object]:
        """stdout parsed as the ``--json`` record."""
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run ``main([...])`` in process; arguments may be paths."""

    def run(*args: object) -> CliRun:
        code: int = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


def console_script() -> Path:
    """The installed ``pfdicom_tagSub`` of this interpreter's environment."""
    script: Path = Path(sys.executable).parent / "pfdicom_tagSub"
    if not script.exists():
        found: str | None = shutil.which("pfdicom_tagSub")
        if found is None:
            pytest.fail("the pfdicom_tagSub console script is not installed: pip install '.[test]' first")
        script = Path(found)
    return script


def script_run(*args: object, cwd: Path | None = None, timeout: float = 300) -> CliRun:
    """Run the installed console script in a subprocess."""
    done = subprocess.run(
        [str(console_script()), *[str(arg) for arg in args]],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


def tree_make(root: Path, files: dict[str, Path | Dataset | bytes | str]) -> Path:
    """Make a tree: relative path to a file to copy, a Dataset to save, or bytes/text to write."""
    for relative, source in files.items():
        target: Path = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        elif isinstance(source, Dataset):
            source.save_as(target, enforce_file_format=True)
        elif isinstance(source, bytes):
            target.write_bytes(source)
        else:
            target.write_text(source)
    return root


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under a tree, relative path to bytes: to prove a tree unchanged."""
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


def dcm(path: Path) -> Dataset:
    """Read an output file."""
    return pydicom.dcmread(path)


@pytest.fixture
def rulesFile(tmp_path: Path) -> Path:
    """The README rules as a JSON file."""
    path: Path = tmp_path / "rules.json"
    path.write_text(json.dumps(README_RULES))
    return path
