"""The walk keeps file names packed, yet finds exactly the files pftree's own walk finds."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

import pytest
from pftree import Pftree, TreeOptions

from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.output import suffix_of
from pfdicom_tagSub.pfdicom import pfdicom
from pfdicom_tagSub.walk import names_pack, names_unpack
from tests.conftest import tree_make

NAMES: list[str] = ["a.dcm", "B.DCM", "c.txt", "with space.dcm", "ünïcode.dcm", "x\udcff.dcm", ".hidden"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root: Path = tmp_path / "in"
    for relative in ("", "p1", "p1/s1", "p1/s2", "p2/s1", "p2/s1/deep"):
        (root / relative).mkdir(parents=True, exist_ok=True)
        for name in NAMES:
            (root / relative / name).write_bytes(b"x")
    (root / "empty").mkdir()
    return root


def pftree_files(root: Path, **options: object) -> list[str]:
    """What pftree 4's own probe, construct and filter keep, as relative paths."""
    tree = Pftree(TreeOptions(inputDir=root, outputDir=root.parent / "unused", **options))  # type: ignore[arg-type]
    tree.tree_construct(tree.tree_probe())
    tree.tree_filter()
    return sorted(os.path.join(node.relPath, name) for node in tree.nodes.values() for name in node.files)


def engine_files(root: Path, **options: object) -> list[str]:
    engine = pfdicom({"inputDir": str(root), "outputDir": str(root.parent / "out"), **options})
    engine.env_prepare()
    return sorted(
        os.path.join(node.relPath, name) for node in engine.walk.nodes_find() for name in node.names()
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"fileFilter": "dcm"},
        {"fileFilter": "glob:*.dcm,re:^c", "fileFilterLogic": "OR"},
        {"dirFilter": "s1"},
        {"dirFilter": "p1,!s2", "dirFilterLogic": "AND"},
        {"inputFile": "space"},
        {"maxDepth": 1},
    ],
)
def test_the_walk_finds_what_pftree_finds(tree: Path, options: dict[str, object]) -> None:
    assert engine_files(tree, **options) == pftree_files(tree, **options)


def test_extension_keeps_what_ends_in_it_after_pftree_filters(tree: Path) -> None:
    expected = [path for path in pftree_files(tree, dirFilter="p2") if path.lower().endswith(".dcm")]
    assert engine_files(tree, dirFilter="p2", extension="DCM") == expected


def test_directories_come_in_sorted_order_with_sorted_names(tree: Path) -> None:
    engine = pfdicom({"inputDir": str(tree), "outputDir": str(tree.parent / "out")})
    engine.env_prepare()
    nodes = engine.walk.nodes_find()
    assert [node.relPath for node in nodes] == [".", "p1", "p1/s1", "p1/s2", "p2/s1", "p2/s1/deep"]
    assert all(node.names() == sorted(NAMES) and node.count == len(NAMES) for node in nodes)


@pytest.mark.parametrize("names", [[], ["one"], NAMES])
def test_packed_names_unpack_to_the_same_names(names: list[str]) -> None:
    assert names_unpack(names_pack(names)) == names


def test_the_output_tree_inside_the_input_tree_is_not_walked(tmp_path: Path) -> None:
    root: Path = tree_make(tmp_path / "in", {"a/x.dcm": b"x", "out/a/x.dcm": b"x"})
    engine = pfdicom({"inputDir": str(root), "outputDir": str(root / "out")})
    engine.env_prepare()
    assert [(node.relPath, node.names()) for node in engine.walk.nodes_find()] == [("a", ["x.dcm"])]


@pytest.mark.parametrize("name", ["IM1.dcm", ".hidden", "a.", "x.tar.gz", "noext", "..", "a..b", "."])
def test_the_suffix_of_a_name_is_the_one_pathlib_gives(name: str) -> None:
    assert suffix_of(name) == PurePosixPath(name).suffix


def test_tasks_name_each_file_as_pathlib_would(tree: Path) -> None:
    engine = pfdicom({"inputDir": str(tree), "outputDir": str(tree.parent / "out")})
    engine.env_prepare()
    nodes = engine.walk.nodes_find()
    expected = [str(node.path / name) for node in nodes for name in node.names()]
    assert [task.inputPath for task in engine.walk.tasks_iterate(nodes)] == expected


def shard_expected(relative: str, count: int) -> int:
    """The shard the README gives a file: SHA-256 of its relative path's bytes, the first 8 bytes
    big-endian, modulo the count."""
    data: bytes = os.fsencode(relative)
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") % count


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_shards_of_a_tree_hold_every_file_once_each_where_its_path_hashes(tree: Path, count: int) -> None:
    everything: list[str] = engine_files(tree)
    shards: list[list[str]] = [engine_files(tree, shard=f"{index}/{count}") for index in range(count)]
    assert sorted(name for shard in shards for name in shard) == everything
    for index, shard in enumerate(shards):
        assert shard == [
            name for name in everything if shard_expected(os.path.normpath(name), count) == index
        ]


def test_a_single_input_file_is_processed_only_by_its_shard(tree: Path) -> None:
    relative: str = "p1/s1/a.dcm"
    mine: int = shard_expected(relative, 3)
    for index in range(3):
        found: list[str] = engine_files(tree, inputFile=relative, shard=f"{index}/3")
        assert found == ([relative] if index == mine else [])


@pytest.mark.parametrize("text", ["3/3", "4/3", "1/0", "x", "-1/3", "1.0/3", "1/3/5", "1/", "/3", "a/b"])
def test_a_shard_that_is_not_i_of_n_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        pfdicom({"inputDir": str(tmp_path), "outputDir": str(tmp_path / "out"), "shard": text})
