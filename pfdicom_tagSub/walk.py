"""The walk: pftree 4 finds the files, filters them and mirrors each directory into the output tree.

pftree scans the input tree, applies the file and directory filters and maps each directory to
its output directory (``--outputLeafDir`` renaming the leaf). On top of that the walk adds what a
DICOM tool needs: the extension filter, single-file mode, an output tree inside the input tree
left unwalked, one shard of the tree (``--shard I/N``), and file names kept packed per directory
so that memory does not grow with the number of files. It yields one ``FileTask`` per file, in
sorted order.

Key components:
    - roots_resolve, inputFile_check: the input and output roots, and a single input file, checked
    - shard_parse, shard_of: ``--shard I/N``; the shard of a file, from its path relative to the input
    - TreeWalk: pftree's engine configured for a run; ``nodes_find`` and ``tasks_iterate``
    - DicomTreeScanner: pftree's scanner, minus the output tree, names packed per directory
    - DirFiles: one directory to process, its file names packed

Typical usage:
    walk = TreeWalk(options)
    nodes = walk.nodes_find()
    for task in walk.tasks_iterate(nodes): ...

Dependencies:
    - pftree 4: Pftree, TreeOptions, TreeScanner, DirNode, its filters
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pftree import DirNode, Pftree, TreeOptions, TreeScanner, WalkEntry, dirPath_matches, fileNames_filter

from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.models import IN_PLACE, FileTask, TagSubOptions
from pfdicom_tagSub.output import TEMP_PREFIX, tempDir_owner

NAME_SEPARATOR: str = "\0"
DIR_DEPTH_MAX: int = 128
SHARD_FORM = re.compile(r"([0-9]+)/([0-9]+)")
Shard = tuple[int, int]


def names_pack(names: list[str]) -> str:
    """File names in one string, NUL-separated (no file name holds a NUL).

    A name kept as its own Python string costs about 60 bytes more than its length, plus 8 in
    each list that holds it: a walk of 10^6 files would keep 80 MB for names alone.

    Example:
        >>> names_unpack(names_pack(["a.dcm", "b.dcm"]))
        ['a.dcm', 'b.dcm']
    """
    return NAME_SEPARATOR.join(names)


def names_unpack(packed: str) -> list[str]:
    """The names of ``names_pack``; none for the empty string."""
    return packed.split(NAME_SEPARATOR) if packed else []


@dataclass
class DirFiles:
    """One directory to process, with its kept file names packed (see ``names_pack``).

    Attributes:
        path: the directory as walked.
        relPath: relative to the input directory, ``.`` for the root.
        outputPath: where its outputs go, leaf renamed.
        packed: the file names, sorted, NUL-separated.
        count: how many.
    """

    path: Path
    relPath: str
    outputPath: Path
    packed: str
    count: int

    @classmethod
    def fromNode(cls, node: DirNode) -> DirFiles:
        """Pack a pftree node's file list."""
        return cls(node.path, node.relPath, node.outputPath, names_pack(node.files), len(node.files))

    def names(self) -> list[str]:
        """The file names, unpacked."""
        return names_unpack(self.packed)


def shard_of(relative: str, count: int) -> int:
    """The shard of a file among ``count``: its path relative to the input directory (``/``
    separated, as the file system spells it), hashed with SHA-256, the first 8 bytes of the digest
    read as a big-endian number, modulo ``count``. The same in every process and on every machine
    (Python's ``hash`` of a string changes with each process).

    Example:
        >>> shard_of("PAT001/MR_T1_axial/IM0001.dcm", 3), shard_of("IM0001.dcm", 3)
        (2, 0)
    """
    digest: bytes = hashlib.sha256(relative.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_parse(text: str) -> Shard:
    """``--shard I/N``: shard I of N, counted from 0.

    Raises:
        UsageError: not two whole numbers, or not 0 <= I < N.

    Example:
        >>> shard_parse("1/3"), shard_parse("02/10")
        ((1, 3), (2, 10))
    """
    match: re.Match[str] | None = SHARD_FORM.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--shard {text!r}: give I/N, shard I of N counted from 0 (0/4, 1/4, 2/4, 3/4)")
    index, count = int(match[1]), int(match[2])
    if count == 0:
        raise UsageError(f"--shard {text}: N must be at least 1")
    if index >= count:
        raise UsageError(f"--shard {text}: I must be less than N, from 0 to {count - 1}")
    return index, count


def shard_filter(names: list[str], relPath: str, shard: Shard | None) -> list[str]:
    """The names of a directory (``relPath`` relative to the input, ``.`` for it) that are in the shard."""
    if shard is None:
        return names
    prefix: str = "" if relPath == "." else relPath + "/"
    index, count = shard
    return [name for name in names if shard_of(prefix + name, count) == index]


class WalkErrors(logging.Handler):
    """Collects what pftree could not walk (unreadable directories, dangling links)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink: list[str] = sink

    def emit(self, record: logging.LogRecord) -> None:
        message: str = record.getMessage()
        if "single-threaded under the GIL" not in message:
            self.sink.append(message)


class DicomTreeScanner(TreeScanner):
    """pftree's scanner that skips the output tree and runs' temporary directories, names packed,
    and does not go deeper than ``DIR_DEPTH_MAX`` directories (saying so).

    Each directory's names are packed as soon as it is scanned and its per-file sizes dropped,
    so that memory does not grow with the number of files by more than a name's length.

    Attributes:
        excluded: ``(st_dev, st_ino)`` of a directory not to enter, or None.
        packedNames: each scanned directory's file names, packed, until taken.
    """

    def __init__(self, *args: Any, excluded: tuple[int, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.excluded: tuple[int, int] | None = excluded
        self.packedNames: dict[Path, str] = {}

    def dir_enterable(self, entry: os.DirEntry[str], isLink: bool) -> bool:
        if entry.name.startswith(TEMP_PREFIX) and tempDir_owner(entry.path) is not None:
            return False  # a run's temporary files (this run's, or another's at work in place)
        if self.excluded is not None:
            try:
                status: os.stat_result = entry.stat(follow_symlinks=True)
            except OSError:
                return False
            if (status.st_dev, status.st_ino) == self.excluded:
                return False
        return super().dir_enterable(entry, isLink)

    def subdir_scan(self, path: Path, size: Any, depth: int) -> Any:
        if depth > DIR_DEPTH_MAX:  # pftree recurses once per level: Python's stack would end first
            logging.getLogger("pftree").warning(
                "%s: more than %d directories below the input directory", path, DIR_DEPTH_MAX
            )
            return None  # not scanned: no usage to add
        return super().subdir_scan(path, size, depth)

    def dir_scan(self, path: Path, dirSize: Any, depth: int, onSubdir: Any) -> Any:
        index: int = len(self.entries)
        usage: Any = super().dir_scan(path, dirSize, depth, onSubdir)
        entry: WalkEntry = self.entries[index]
        entry.fileSizes.clear()
        self.packedNames[entry.path] = names_pack(entry.fileNames)
        entry.fileNames = []
        return usage

    def names_take(self, entry: WalkEntry) -> list[str]:
        """A scanned directory's file names, unpacked, and forgotten here."""
        return names_unpack(self.packedNames.pop(entry.path, ""))


def leaf_check(outputLeafDir: str) -> None:
    """Refuse an ``--outputLeafDir`` that does not make one directory name.

    Raises:
        UsageError: not a format with one ``%s``, or one that makes a path or ``..``.
    """
    try:
        leaf: str = outputLeafDir % "leaf"
    except (TypeError, ValueError) as err:
        raise UsageError(f"--outputLeafDir {outputLeafDir!r}: not a format with one %s: {err}") from None
    if leaf in ("", ".", "..") or "/" in leaf or "\0" in leaf:
        # a separator or '..' would put outputs elsewhere than the mirrored tree
        raise UsageError(f"--outputLeafDir {outputLeafDir!r}: must make one directory name, not {leaf!r}")


def path_within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies under it (both absolute and normalized).

    Example:
        >>> path_within("/a/b/c", "/a/b"), path_within("/a/bc", "/a/b"), path_within("/a/b", "/a/b")
        (True, False, True)
    """
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def roots_resolve(config: TagSubOptions) -> tuple[Path, Path]:
    """The input and output roots, checked against each other; ``config`` learns an in-place run.

    Real paths are compared, symbolic links resolved: an output root that is the input root is
    in place (``--overwrite`` needed, and the input root named as such); one that contains the
    input root, or lies in it through a link, could put outputs over inputs.

    Raises:
        UsageError: no input or output directory; in place unasked, or with a stem; an output
            root that contains the input root or reaches into it through a link.
    """
    if not config.inputDir:
        raise UsageError("no input directory: give -I/--inputDir or a first positional argument")
    if not config.outputDir:
        raise UsageError("no output directory: give -O/--outputDir or a second positional argument")
    if config.outputLeafDir:
        leaf_check(config.outputLeafDir)
    output: Path = Path(config.inputDir) if config.inPlace else Path(config.outputDir)
    inputReal, outputReal = os.path.realpath(config.inputDir), os.path.realpath(output)
    named: bool = config.inPlace or os.path.abspath(output) == os.path.abspath(config.inputDir)
    if outputReal == inputReal:
        inPlace_check(config, named)
    elif path_within(inputReal, outputReal):
        raise UsageError(
            f"output directory {config.outputDir} contains the input directory {config.inputDir}: outputs "
            "could land on input files; choose an output directory outside the input tree"
        )
    elif path_within(outputReal, inputReal) and not path_within(
        os.path.abspath(output), os.path.abspath(config.inputDir)
    ):
        raise UsageError(
            f"output directory {config.outputDir} leads into the input directory {config.inputDir} "
            f"(it is {outputReal}): outputs could replace input files; choose another --outputDir"
        )
    return Path(config.inputDir), output


def inPlace_check(config: TagSubOptions, named: bool) -> None:
    """An output root that is the input root: in place, when asked for by name and with ``--overwrite``.

    Raises:
        UsageError: not asked for so.
    """
    if not named:
        raise UsageError(
            f"output directory {config.outputDir} leads to the input directory {config.inputDir}: the input "
            "files would be rewritten; to do that, give -O %inputDir --overwrite"
        )
    if not config.overwrite:
        raise UsageError(
            f"output directory {config.outputDir} is the input directory: the input files would be "
            "rewritten; add --overwrite to do that (or choose another --outputDir)"
        )
    if config.outputFileStem:
        raise UsageError("--outputFileStem cannot be used in place: new names would mix with the inputs")
    config.outputDir = IN_PLACE


def inputFile_check(config: TagSubOptions) -> None:
    """An ``--inputFile`` that names a file must name one inside the input tree.

    Raises:
        UsageError: it lies outside (``..``, an absolute path elsewhere, a linked directory).
    """
    candidate: str = os.path.join(config.inputDir, config.inputFile)
    if not config.inputFile or not os.path.isfile(candidate):
        return
    relative: str = os.path.relpath(os.path.abspath(candidate), os.path.abspath(config.inputDir))
    parentReal: str = os.path.realpath(os.path.dirname(candidate))
    escapes: bool = relative == os.pardir or relative.startswith(os.pardir + os.sep)
    if escapes or not path_within(parentReal, os.path.realpath(config.inputDir)):
        raise UsageError(
            f"--inputFile {config.inputFile}: not inside the input directory {config.inputDir}; "
            "name a file under it, relative to it"
        )
    config.inputFile = relative


class TreeWalk(Pftree):
    """pftree's engine, configured for one run: finds the directories and files to process.

    Attributes:
        config: the run's options.
        inputPath, outputPath: the roots.
        excluded: ``(st_dev, st_ino)`` of the output root when it is not walked, else None.
        shard: the one shard of the tree to process (``--shard``), or None for all of it.
        walkErrors: what could not be walked, one line each.
        notWalked: what was left out of the walk on purpose, one line each.
    """

    def __init__(self, config: TagSubOptions) -> None:
        self.config: TagSubOptions = config
        self.inputPath, self.outputPath = roots_resolve(config)
        inputFile_check(config)
        self.excluded: tuple[int, int] | None = None
        self.shard: Shard | None = shard_parse(config.shard) if config.shard else None
        self.walkErrors: list[str] = []
        self.notWalked: list[str] = []
        try:
            super().__init__(self.treeOptions_make())
        except ValueError as err:
            raise UsageError(str(err)) from None

    def treeOptions_make(self) -> TreeOptions:
        """pftree's options: the walk, the filters and the output mirroring; no pftree console."""
        config: TagSubOptions = self.config
        return TreeOptions(
            inputDir=self.inputPath,
            outputDir=self.outputPath,
            inputFile="" if self.inputFile_single() else config.inputFile,
            maxDepth=config.maxDepth,
            fileFilter=config.fileFilter,
            fileFilterLogic=config.fileFilterLogic,
            dirFilter=config.dirFilter,
            dirFilterLogic=config.dirFilterLogic,
            outputLeafDir=config.outputLeafDir,
            relativeDir=config.relativeDir,
            followLinks=config.followLinks,
            overwrite=config.overwrite,
            threads=0,
            verbosity=0,
        )

    def inputFile_single(self) -> bool:
        """Whether ``--inputFile`` names one file under the input directory (no walk)."""
        return bool(self.config.inputFile) and (Path(self.config.inputDir) / self.config.inputFile).is_file()

    def outputRoot_exclude(self) -> None:
        """Leave the output root unwalked (when it is not the input root); say so when it is in the input."""
        if self.config.inPlace or not self.outputPath.exists():
            return
        status: os.stat_result = self.outputPath.stat()
        self.excluded = (status.st_dev, status.st_ino)
        if path_within(os.path.realpath(self.outputPath), os.path.realpath(self.inputPath)):
            self.notWalked.append(f"{self.outputPath}: the output directory, inside the input directory")

    def outputs_check(self, nodes: list[DirFiles]) -> None:
        """Refuse, before anything is written, an output directory that a link leads out of the output tree.

        Raises:
            UsageError: naming the directory and where it leads.
        """
        rootReal: str = os.path.realpath(self.outputPath)
        for node in nodes:
            real: str = os.path.realpath(node.outputPath)
            if not path_within(real, rootReal):
                raise UsageError(
                    f"output directory {node.outputPath} leads out of the output tree (to {real}): "
                    "outputs could replace other files; remove the link or choose another --outputDir"
                )

    def scanner_build(self, recordFiles: bool = True) -> DicomTreeScanner:
        return DicomTreeScanner(
            self.options.inputDir,
            self.options.maxDepth,
            self.options.followLinks,
            1,
            self.options.threadsSplit,
            recordFiles=recordFiles,
            excluded=self.excluded,
        )

    def nodes_find(self) -> list[DirFiles]:
        """The directories and files to process, in sorted order, every filter applied.

        The walk is pftree's (``tree_probe``, ``tree_construct``, ``tree_filter`` and the extension
        filter), done directory by directory so that only one directory's names are ever
        unpacked.
        """
        if self.inputFile_single():
            relative: Path = Path(self.config.inputFile)
            relPath: str = relative.parent.as_posix()
            kept: list[str] = shard_filter([relative.name], relPath, self.shard)
            node: DirNode = DirNode(
                self.inputPath / relative.parent, relPath, kept, self.outputPath_for(relPath)
            )
            return [DirFiles.fromNode(node)] if kept else []
        handler: WalkErrors = WalkErrors(self.walkErrors)
        pftreeLogger: logging.Logger = logging.getLogger("pftree")
        pftreeLogger.addHandler(handler)
        try:
            scanner: DicomTreeScanner = self.scanner_build()
            entries: list[WalkEntry] = scanner.scan().entries
        finally:
            pftreeLogger.removeHandler(handler)
        found: list[DirFiles] = []
        for entry in entries:
            names: list[str] = scanner.names_take(entry)
            node = self.node_build(WalkEntry(entry.path, names, {}, entry.dirSize))
            node.files = self.names_filter(node)
            if node.files:
                found.append(DirFiles.fromNode(node))
        return sorted(found, key=lambda item: item.relPath)

    def names_filter(self, node: DirNode) -> list[str]:
        """The names of a directory that pass ``--dirFilter``, ``--fileFilter``, ``--extension`` and
        are in the ``--shard``."""
        kept: list[str] = node.files
        if self.fileTokens or self.dirTokens:
            if not dirPath_matches(node.relPath, self.dirTokens, self.dirLogic):
                return []
            if self.fileTokens:
                kept = fileNames_filter(kept, self.fileTokens, self.fileLogic)
        if self.config.extension:
            suffix: str = "." + self.config.extension.lstrip(".").lower()
            kept = [name for name in kept if name.lower().endswith(suffix)]
        return shard_filter(kept, node.relPath, self.shard)

    @staticmethod
    def tasks_iterate(nodes: list[DirFiles]) -> Iterator[FileTask]:
        """One task per file, directory by directory, made as they are consumed."""
        for node in nodes:
            outputDir: str = str(node.outputPath)
            inputDir: str = str(node.path)
            for name in node.names():
                # not node.path / name: pathlib interns every name it parses, and the interpreter's
                # table of interned strings then grows with the number of files
                yield FileTask(os.path.join(inputDir, name), outputDir)
