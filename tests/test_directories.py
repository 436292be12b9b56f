"""Output directories: created once, the ones a run created known and removed when it wrote nothing,
what stands in the way named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pfdicom_tagSub.directories import OutputDirs
from pfdicom_tagSub.errors import OutputError


def test_missing_directories_are_created_and_remembered_parents_first(tmp_path: Path) -> None:
    dirs = OutputDirs()
    dirs.prepare(str(tmp_path / "out" / "a" / "b"))
    dirs.prepare(str(tmp_path / "out" / "c"))
    assert dirs.created == [
        str(tmp_path / "out"),
        str(tmp_path / "out/a"),
        str(tmp_path / "out/a/b"),
        str(tmp_path / "out/c"),
    ]
    assert (tmp_path / "out" / "a" / "b").is_dir()


def test_only_the_directories_the_run_created_and_left_empty_are_removed(tmp_path: Path) -> None:
    (tmp_path / "out" / "theirs").mkdir(parents=True)
    dirs = OutputDirs()
    for relative in ("theirs/new", "mine/empty", "mine/used"):
        dirs.prepare(str(tmp_path / "out" / relative))
    (tmp_path / "out" / "mine" / "used" / "audit.sqlite").write_text("kept")

    dirs.created_remove()

    remaining: list[str] = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*"))
    assert remaining == ["out", "out/mine", "out/mine/used", "out/mine/used/audit.sqlite", "out/theirs"]


@pytest.mark.parametrize(
    ("make", "where", "said"),
    [
        (lambda root: (root / "out").write_text("x"), "out", "{root}/out is a file"),
        (lambda root: (root / "out").write_text("x"), "out/a/b", "{root}/out/a/b: {root}/out is a file"),
        (
            lambda root: (root / "out").symlink_to(root / "gone"),
            "out",
            "{root}/out is a dangling link (to {root}/gone)",
        ),
    ],
    ids=["a file", "a file above it", "a dangling link"],
)
def test_what_stands_where_an_output_directory_should_be_is_named(
    tmp_path: Path, make: Callable[[Path], object], where: str, said: str
) -> None:
    make(tmp_path)
    with pytest.raises(OutputError) as raised:
        OutputDirs().prepare(str(tmp_path / where))
    assert str(raised.value) == "output directory " + said.replace("{root}", str(tmp_path))
