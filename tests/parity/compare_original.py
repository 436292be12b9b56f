"""Compare this tool with the original pfdicom_tagSub 3.1.1 on real DICOM trees.

Not a test (pytest collects ``test_*.py`` only, and CI has no original): a script a developer runs
by hand, in this project's venv, with the original installed in a side venv on its pinned stack
(``pip install pfdicom_tagSub==3.1.1 "pftree<4" "pydicom<3"``)::

    python tests/parity/compare_original.py --orig /work/orig [--work DIR] [--keep] [--details]

What it does:
    1. Builds a tree of real DICOM files: every file pydicom ships that pydicom reads (its test
       files, files without a preamble included, and its character-set files), copied into a few
       directories by modality, plus ``examples/dicom``.
    2. For each rule set (the README's rules; a second set exercising ``#tag`` in ``re:`` keys and
       strmsk/nospc/md5/name on common elements): runs the original with its own spellings
       (``--inputDir --outputDir --tagStruct --verbosity 1``) on the tree and on every file alone
       in its own directory (the original drops a whole directory when one of its files fails),
       runs this tool with the same spellings on the tree (and once more with ``--topLevelOnly``),
       and probes the original in process to learn why it did not write a file.
    3. Compares which files each wrote (the original nests its outputs under the input
       directory's name: ``out/in/<rel>``) and, for every file both wrote, every top-level element,
       each difference classified as one of SPEC's deliberate differences or as UNEXPLAINED.
    4. Prints a summary table per rule set and every UNEXPLAINED difference.

Exit status: 0 when nothing is UNEXPLAINED, 1 otherwise, 2 when the original is missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.data import get_charset_files, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag

from pfdicom_tagSub.models import ReferencePiece
from pfdicom_tagSub.template import Absent, template_evaluate, template_parse

REPO: Path = Path(__file__).resolve().parents[2]
EXAMPLES: Path = REPO / "examples"

README_RULES: dict[str, str] = json.loads((EXAMPLES / "anonymize.json").read_text())
COMMON_RULES: dict[str, str] = {
    "PatientName": "%_md5|10_PatientName",
    "PatientID": "%_strmsk|XX****_PatientID",
    "ReferringPhysicianName": "%_name|patientID_ReferringPhysicianName",
    "OperatorsName": "%_md5|6_OperatorsName",
    "AccessionNumber": "%_md5|16_AccessionNumber",
    "StudyDate": "%_strmsk|****0101_StudyDate",
    "SeriesDate": "%_strmsk|****0101_SeriesDate",
    "StudyTime": "%_strmsk|**0000_StudyTime",
    "InstitutionName": "%_nospc|-_InstitutionName",
    "ProtocolName": "%_md5|8_ProtocolName",
    "re:.*Description$": "%_nospc|-_#tag",
    "re:Station": "%_md5|6_#tag",
    "re:Manufacturer$": "%_nospc|_#tag",
    "re:ManufacturerModel": "%_strmsk|***_#tag",
    "re:StudyID$": "#tag",
}


@dataclass(frozen=True)
class RuleSetSpec:
    """Rules and the extra flags both tools get with them."""

    rules: dict[str, str]
    flags: tuple[str, ...] = ()


RULE_SETS: dict[str, RuleSetSpec] = {
    "readme": RuleSetSpec(README_RULES),
    "common": RuleSetSpec(COMMON_RULES),
    "readme-private": RuleSetSpec(README_RULES, ("--removePrivateTags",)),
}

# The classes of difference: each one a row of README's "Deliberate differences" (or a note of
# its Output section), plus UNEXPLAINED for anything the comparison cannot account for.
NOT_IN_TABLE = "[not in README's table] "
GROUP_LENGTH = "group length (gggg,0000) not written by pydicom 3"
NESTED = "nested elements replaced"
ABSENT_REFERENCE = "absent reference skipped (original writes the template text)"
EXPLICIT_WINS = "explicit key beats regex"
LONGEST_KEYWORD = "longest keyword wins"
TITLES = "names never contain titles"
NAME_UNSEEDED = NOT_IN_TABLE + "name seeded by the element itself when the seed is absent"
VR_INVALID = "VR-invalid result refused"
TRUNCATED = NOT_IN_TABLE + "truncated file refused (original writes it, data cut short)"
DIRECTORY_DROPPED = "one bad file drops its directory"
ORIGINAL_UNREADABLE = NOT_IN_TABLE + "original cannot read the file (pydicom 2 without preamble/meta)"
NON_TEXT = "non-text source elements work"
SEQUENCE_HIT = "regex hitting a sequence drops the directory"
LITERAL_WORD = "name/md5 in literal text call the function"
REPEATER_HIT = NOT_IN_TABLE + "regex hitting an overlay element (6000-601E) drops the directory"
META_STAMP = "file meta: implementation class UID / version name of the writing pydicom"
UNEXPLAINED = "UNEXPLAINED"

TITLE_TOKENS: frozenset[str] = frozenset({"MR.", "MRS.", "MS.", "MISS", "DR."})
PIECE_AFTER_MARK = re.compile(r"%([^%]*)")

# the probe's verdict on one file: read/analyzed/saved flags, the error, the step and keyword
Verdict = dict[str, Any]


@dataclass
class InputFile:
    """One file of the tree: its path relative to the input root and where it came from."""

    rel: str
    source: Path


@dataclass
class OriginalRun:
    """What the original wrote and printed."""

    written: set[str]
    code: int
    crashed: bool
    log: str


@dataclass
class OursRun:
    """What this tool wrote and its run record."""

    written: set[str]
    code: int
    record: dict[str, object]

    def reasons(self) -> dict[str, str]:
        """Input path relative to the tree root to the reason it was not written."""
        tagSub: dict[str, list[dict[str, str]]] = self.record["d_tagSub"]  # type: ignore[assignment]
        found: dict[str, str] = {}
        for kind in ("failed", "notDicom"):
            for entry in tagSub[kind]:
                found[entry["file"].removeprefix("in/")] = f"{kind}: {entry['reason']}"
        return found


@dataclass
class Difference:
    """One top-level element that differs between the two outputs."""

    rel: str
    keyword: str
    original: str
    ours: str
    kind: str


@dataclass
class SetReport:
    """Everything found for one rule set."""

    name: str
    files: int = 0
    originalTree: int = 0
    originalAlone: int = 0
    ours: int = 0
    bothTree: int = 0
    compared: int = 0
    filesDiffering: int = 0
    fileClasses: Counter[str] = field(default_factory=Counter)
    fileNames: dict[str, list[str]] = field(default_factory=dict)
    elementClasses: Counter[str] = field(default_factory=Counter)
    unexplained: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    originalCrashed: bool = False


# ---------------------------------------------------------------------------------------------
# the tree


def dataset_readable(path: Path) -> Dataset | None:
    """The data set when pydicom reads the file as DICOM (no preamble allowed for ``.dcm``)."""
    try:
        return pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, EOFError):
        pass
    if path.suffix != ".dcm":
        return None
    try:
        dataset: Dataset = pydicom.dcmread(path, force=True)
    except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, EOFError):
        return None
    return dataset if len(dataset) and "SOPClassUID" in dataset else None


def group_of(dataset: Dataset) -> str:
    """A directory name for a file: its modality's family."""
    modality: str = str(dataset.get("Modality", "") or "")
    if modality in ("CT", "MR", "US"):
        return modality
    if modality.startswith("RT"):
        return "RT"
    return "other"


def tree_build(root: Path) -> list[InputFile]:
    """Copy pydicom's readable files (by modality) and examples/dicom under ``root``."""
    files: list[InputFile] = []
    taken: set[str] = set()
    # the default pattern lists the bundled files only (a narrower one may try to download)
    bundled: list[tuple[str, str]] = [(name, "") for name in get_testdata_files()]
    bundled += [(name, "charset") for name in get_charset_files()]
    for name, group in sorted(bundled):
        source: Path = Path(name)
        dataset: Dataset | None = dataset_readable(source) if source.is_file() else None
        if dataset is None:
            continue
        base: str = source.name if source.name not in taken else f"{source.parent.name}_{source.name}"
        taken.add(base)
        files.append(InputFile(f"pydicom/{group or group_of(dataset)}/{base}", source))
    for source in sorted((EXAMPLES / "dicom").rglob("*")):
        if source.is_file():
            files.append(InputFile(f"examples/{source.relative_to(EXAMPLES / 'dicom')}", source))
    for item in files:
        (root / item.rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, root / item.rel)
    return files


def files_under(root: Path) -> set[str]:
    """Every file under ``root``, relative to it."""
    if not root.is_dir():
        return set()
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


# ---------------------------------------------------------------------------------------------
# running both tools


def original_run(orig: Path, cwd: Path, spec: RuleSetSpec, output: str = "out_orig") -> OriginalRun:
    """Run the original on ``cwd/in`` with its own spellings; its outputs land in ``output/in``."""
    done = subprocess.run(
        [str(orig / "bin" / "pfdicom_tagSub"), "--inputDir", "in", "--outputDir", output, "--tagStruct",
         json.dumps(spec.rules), "--verbosity", "1", *spec.flags],
        cwd=cwd, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    log: str = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    return OriginalRun(files_under(cwd / output / "in"), done.returncode, "Traceback" in log, log)


def ours_run(cwd: Path, spec: RuleSetSpec, output: str, *extra: str) -> OursRun:
    """Run this tool on ``cwd/in`` with the original's spellings; outputs land in ``output``."""
    done = subprocess.run(
        [sys.executable, "-m", "pfdicom_tagSub", "--inputDir", "in", "--outputDir", output, "--tagStruct",
         json.dumps(spec.rules), "--verbosity", "0", "--json", *spec.flags, *extra],
        cwd=cwd, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if not done.stdout.strip():
        raise SystemExit(f"this tool printed no record (exit {done.returncode}): {done.stderr.strip()}")
    return OursRun(files_under(cwd / output), done.returncode, json.loads(done.stdout))


def original_alone(orig: Path, work: Path, files: list[InputFile], spec: RuleSetSpec) -> set[str]:
    """Run the original on every file alone in its own directory; the files it wrote."""

    def one(index_item: tuple[int, InputFile]) -> str | None:
        index, item = index_item
        cwd: Path = work / f"{index:04d}"
        target: Path = cwd / "in" / Path(item.rel).parent / Path(item.rel).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, target)
        run: OriginalRun = original_run(orig, cwd, spec)
        return item.rel if item.rel in run.written else None

    with ThreadPoolExecutor(max_workers=2) as pool:
        return {rel for rel in pool.map(one, enumerate(files)) if rel is not None}


PROBE: str = r"""
import json, sys, tempfile, traceback, warnings
warnings.simplefilter("ignore")
from pydicom.dataset import Dataset
from pfdicom_tagSub import pfdicom_tagSub as module
rules, removePrivate, files = json.loads(sys.stdin.read())
args = dict(str_desc="", inputDir=".", outputDir=".", tagStruct=json.dumps(rules), tagInfo="",
            splitToken="++", splitKeyValue=",", verbosity="0", json=False, syslog=False, fileFilter="",
            dirFilter="", fileFilterLogic="OR", dirFilterLogic="OR", outputFileStem="", outputLeafDir="",
            threads="0", maxDepth="-1", inputFile="", relativeDir=False, followLinks=False,
            removePrivateTags=removePrivate)
app = module.pfdicom_tagSub(args)
state = {}
evaluate = app.tagsInString_process
def evaluate_spy(d_DICOM, astr, *a, **k):
    state["step"], state["template"] = "evaluate", astr
    return evaluate(d_DICOM, astr, *a, **k)
app.tagsInString_process = evaluate_spy
setattr_real = Dataset.__setattr__
def setattr_spy(self, name, value):
    state["step"], state["keyword"] = "assign", name
    return setattr_real(self, name, value)
Dataset.__setattr__ = setattr_spy
for path in files:
    state.clear()
    folder, name = path.rsplit("/", 1)
    verdict = {"file": path, "read": False, "analyzed": False, "saved": False}
    try:
        read = app.inputReadCallback((folder, [name]))
        verdict["read"] = bool(read["status"])
        if read["status"]:
            analysis = app.inputAnalyzeCallback((folder, read))
            verdict["analyzed"] = True
            with tempfile.TemporaryDirectory() as out:
                app.outputSaveCallback((out, analysis))
            verdict["saved"] = True
    except Exception as err:
        verdict["error"] = "%s: %s" % (type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        verdict.update({k: str(v) for k, v in state.items()})
    print(json.dumps(verdict))
"""


def original_probe(orig: Path, root: Path, files: list[InputFile], spec: RuleSetSpec) -> dict[str, Verdict]:
    """Run the original's read/analyze/save steps per file in its own venv; why each one fails."""
    done = subprocess.run(
        [str(orig / "bin" / "python"), "-c", PROBE],
        input=json.dumps(
            [spec.rules, "--removePrivateTags" in spec.flags, [str(root / item.rel) for item in files]]
        ),
        capture_output=True, text=True, timeout=1800, cwd=root,
    )  # fmt: skip
    verdicts: dict[str, Verdict] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            verdict: Verdict = json.loads(line)
            verdicts[str(Path(verdict["file"]).relative_to(root))] = verdict
    return verdicts


# ---------------------------------------------------------------------------------------------
# classifying


def probe_classify(verdict: Verdict | None) -> str:
    """Why the original did not write a file, from its probe verdict."""
    if verdict is None:
        return UNEXPLAINED + ": no probe verdict"
    if not verdict["read"]:
        return ORIGINAL_UNREADABLE
    error: str = verdict.get("error", "")
    keyword: str = verdict.get("keyword", "")
    if verdict.get("step") == "evaluate":
        if "Sequence" in error:
            return SEQUENCE_HIT
        if error.startswith("IndexError"):
            return LITERAL_WORD
        if error.startswith(("TypeError", "AttributeError")):
            return NON_TEXT
    if verdict.get("step") == "assign" and keyword.endswith("Sequence"):
        return SEQUENCE_HIT
    if verdict.get("step") == "assign" and "repeating group" in error:
        return REPEATER_HIT
    if verdict.get("saved"):
        return DIRECTORY_DROPPED
    return f"{UNEXPLAINED}: original {verdict.get('step', '?')} {keyword} {error}"


def ours_classify(reason: str) -> str:
    """Why this tool did not write a file the original wrote."""
    if "is invalid" in reason or "the result is invalid" in reason:
        return VR_INVALID
    if "truncated" in reason:
        return TRUNCATED
    return f"{UNEXPLAINED}: ours {reason}"


def element_norm(value: object) -> object:
    """An element value in a form that compares equal across pydicom's representations."""
    if isinstance(value, pydicom.sequence.Sequence):
        return [{int(e.tag): (e.VR, element_norm(e.value)) for e in item} for item in value]
    if isinstance(value, list | pydicom.multival.MultiValue):
        return [element_norm(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if value is None:
        return ""
    return str(value)


def element_show(dataset: Dataset, tag: BaseTag) -> str:
    """An element's value for a report line."""
    if tag not in dataset:
        return "<absent>"
    text: str = repr(element_norm(dataset[tag].value))
    return text if len(text) < 90 else text[:87] + "..."


def rule_winning(rules: dict[str, str], keyword: str, regexWins: bool) -> str | None:
    """The template the original (regex wins, later regex wins) or this tool applies to a keyword."""
    hits: list[str] = [
        value for key, value in rules.items() if key.startswith("re:") and re.match(key[3:], keyword)
    ]
    explicit: str | None = rules.get(keyword)
    winner: str | None = hits[-1] if hits and (regexWins or explicit is None) else explicit
    return None if winner is None else winner.replace("#tag", keyword)


def lookup_of(dataset: Dataset) -> Callable[[str], str | None]:
    """Keyword to text in the input, as this tool reads it."""

    def lookup(keyword: str) -> str | None:
        if keyword not in dataset:
            return None
        value: object = dataset[keyword].value
        if isinstance(value, list | pydicom.multival.MultiValue):
            return "\\".join(str(item) for item in value)
        return "" if value is None else str(value)

    return lookup


def references_original(template: str, dataset: Dataset) -> set[str]:
    """The keywords the original substitutes into a template: every keyword of the file that is a
    substring of a piece after a ``%`` (its substring matching, which collides)."""
    pieces: list[str] = PIECE_AFTER_MARK.findall(template)
    return {keyword for keyword in dataset.dir() if any(keyword in piece for piece in pieces)}


def references_ours(template: str) -> set[str]:
    """The keywords this tool substitutes into a template."""
    found: set[str] = set()
    for piece in template_parse(template).pieces:
        if isinstance(piece, ReferencePiece):
            found.add(piece.keyword)
            if piece.function == "name" and piece.argument:
                found.add(piece.argument)
    return found


def text_of(dataset: Dataset, tag: BaseTag) -> str | None:
    """An element's value as text (multiple values joined with a backslash); None when absent."""
    if tag not in dataset:
        return None
    value: object = element_norm(dataset[tag].value)
    return "\\".join(str(item) for item in value) if isinstance(value, list) else str(value)


def ours_expected(template: str, keyword: str, tag: BaseTag, source: Dataset) -> str | None:
    """What this tool's own rules say the element becomes (the input's value for an absent reference)."""
    text: str = template_evaluate(template_parse(template), keyword, lookup_of(source))
    return text_of(source, tag) if isinstance(text, Absent) else text


def name_classify(template: str, originalText: str, source: Dataset) -> str:
    """Which name difference explains a fake name that differs."""
    parts: list[str] = originalText.strip("'").split("^")
    if len(parts) > 1 and parts[1] in TITLE_TOKENS:
        return TITLES
    seed: str = template.split("|", 1)[1].split("_", 1)[0] if "%_name|" in template else ""
    if not seed or (seed[:1].upper() + seed[1:]) not in source:
        return NAME_UNSEEDED
    return UNEXPLAINED


def difference_classify(
    tag: BaseTag, source: Dataset, original: Dataset, ours: Dataset, oursTop: Dataset, rules: dict[str, str]
) -> str:
    """Which deliberate difference explains one differing top-level element, or UNEXPLAINED.

    Every class but the group lengths and nested elements also requires this tool's value to be
    exactly what its own rules give, so that a wrong value of ours is never explained away.
    """
    keyword: str = pydicom.datadict.keyword_for_tag(tag)
    originalText: str = element_show(original, tag)
    if tag.element == 0 and tag in original and tag not in ours:
        return GROUP_LENGTH
    if (
        tag in original
        and tag in oursTop
        and element_norm(original[tag].value) == element_norm(oursTop[tag].value)
    ):
        return NESTED
    if "%" in originalText and text_of(ours, tag) == text_of(source, tag):
        return ABSENT_REFERENCE
    mine: str | None = rule_winning(rules, keyword, regexWins=False)
    theirs: str | None = rule_winning(rules, keyword, regexWins=True)
    if mine is None or text_of(ours, tag) != ours_expected(mine, keyword, tag, source):
        return UNEXPLAINED
    if theirs != mine:
        return EXPLICIT_WINS
    if references_original(mine, source) - references_ours(mine):
        return LONGEST_KEYWORD
    if "%_name" in mine:
        return name_classify(mine, originalText, source)
    return UNEXPLAINED


def meta_compare(rel: str, original: Dataset, ours: Dataset) -> list[Difference]:
    """Every differing file meta element, the writer's implementation stamp told apart."""
    left: Dataset = getattr(original, "file_meta", Dataset())
    right: Dataset = getattr(ours, "file_meta", Dataset())
    differences: list[Difference] = []
    for tag in sorted(set(left.keys()) | set(right.keys())):
        if (element_norm(left[tag].value) if tag in left else None) == (
            element_norm(right[tag].value) if tag in right else None
        ):
            continue
        stamp: bool = tag in (0x00020012, 0x00020013)
        kind: str = META_STAMP if stamp else f"{UNEXPLAINED} (file meta)"
        keyword: str = "meta " + (pydicom.datadict.keyword_for_tag(tag) or str(tag))
        differences.append(Difference(rel, keyword, element_show(left, tag), element_show(right, tag), kind))
    return differences


def files_compare(rel: str, paths: tuple[Path, Path, Path, Path], rules: dict[str, str]) -> list[Difference]:
    """Every differing top-level element of one file (and its file meta), classified."""
    source, original, ours, oursTop = (pydicom.dcmread(path, force=True) for path in paths)
    differences: list[Difference] = meta_compare(rel, original, ours)
    for tag in sorted(set(original.keys()) | set(ours.keys())):
        left: object = element_norm(original[tag].value) if tag in original else None
        right: object = element_norm(ours[tag].value) if tag in ours else None
        if left == right and (tag not in original or original[tag].VR == ours[tag].VR):
            continue
        kind: str = difference_classify(tag, source, original, ours, oursTop, rules)
        keyword: str = pydicom.datadict.keyword_for_tag(tag) or str(tag)
        differences.append(
            Difference(rel, keyword, element_show(original, tag), element_show(ours, tag), kind)
        )
    return differences


# ---------------------------------------------------------------------------------------------
# one rule set


@dataclass
class SetRuns:
    """Everything both tools did with one rule set, for the per-file accounting."""

    setDir: Path
    aloneDir: Path
    spec: RuleSetSpec
    files: list[InputFile]
    tree: OriginalRun
    alone: set[str]
    ours: OursRun
    verdicts: dict[str, Verdict]
    reasons: dict[str, str]

    def alone_path(self, rel: str) -> Path:
        """Where the original wrote a file it processed alone."""
        index: int = next(i for i, item in enumerate(self.files) if item.rel == rel)
        return self.aloneDir / f"{index:04d}" / "out_orig" / "in" / rel


def set_compare(orig: Path, work: Path, name: str, spec: RuleSetSpec, files: list[InputFile]) -> SetReport:
    """Run both tools with one rule set and compare."""
    setDir: Path = work / name
    shutil.copytree(work / "in", setDir / "in")
    tree: OriginalRun = original_run(orig, setDir, spec)
    ours: OursRun = ours_run(setDir, spec, "out_ours")
    ours_run(setDir, spec, "out_top", "--topLevelOnly")
    runs: SetRuns = SetRuns(
        setDir,
        work / f"alone_{name}",
        spec,
        files,
        tree,
        original_alone(orig, work / f"alone_{name}", files, spec),
        ours,
        original_probe(orig, setDir / "in", files, spec),
        ours.reasons(),
    )
    report: SetReport = SetReport(name, files=len(files), originalCrashed=tree.crashed)
    report.originalTree, report.originalAlone, report.ours = (
        len(tree.written),
        len(runs.alone),
        len(ours.written),
    )
    for item in files:
        file_account(report, runs, item.rel)
    return report


def file_class(runs: SetRuns, rel: str) -> str:
    """Why only one tool (or neither) wrote a file; '' when both did."""
    inTree, byAlone, byOurs = rel in runs.tree.written, rel in runs.alone, rel in runs.ours.written
    if byOurs and not inTree:
        return f"ours only: {DIRECTORY_DROPPED if byAlone else probe_classify(runs.verdicts.get(rel))}"
    if (inTree or byAlone) and not byOurs:
        return f"original only: {ours_classify(runs.reasons.get(rel, 'not written, no reason'))}"
    if not (inTree or byAlone or byOurs):
        return (
            f"neither: ours {runs.reasons.get(rel, '?')} / original: {probe_classify(runs.verdicts.get(rel))}"
        )
    return ""


def file_account(report: SetReport, runs: SetRuns, rel: str) -> None:
    """Account for one input file: who wrote it, and how the outputs differ."""
    inTree, byAlone, byOurs = rel in runs.tree.written, rel in runs.alone, rel in runs.ours.written
    report.bothTree += inTree and byOurs
    kind: str = file_class(runs, rel)
    if kind:
        report.fileClasses[kind] += 1
        report.fileNames.setdefault(kind, []).append(rel)
        if UNEXPLAINED in kind:
            report.unexplained.append(f"{rel}: {kind}")
    if not byOurs or not (inTree or byAlone):
        return
    originalPath: Path = runs.setDir / "out_orig" / "in" / rel if inTree else runs.alone_path(rel)
    paths = (
        runs.setDir / "in" / rel,
        originalPath,
        runs.setDir / "out_ours" / rel,
        runs.setDir / "out_top" / rel,
    )
    differences: list[Difference] = files_compare(rel, paths, runs.spec.rules)
    report.compared += 1
    report.filesDiffering += any(d.kind != META_STAMP for d in differences)
    for difference in differences:
        report.elementClasses[difference.kind] += 1
        report.differences.append(difference)
        if UNEXPLAINED in difference.kind:
            report.unexplained.append(
                f"{rel}: {difference.keyword}: original {difference.original} / ours {difference.ours}"
            )


# ---------------------------------------------------------------------------------------------
# printing


def report_lines(report: SetReport, details: bool) -> Iterator[str]:
    """The summary of one rule set."""
    spec: RuleSetSpec = RULE_SETS[report.name]
    yield f"== rule set {report.name!r} {' '.join(spec.flags)}: {report.files} input files"
    yield f"  written by the original on the tree:        {report.originalTree}"
    yield f"  written by the original, each file alone:   {report.originalAlone}"
    yield f"  written by this tool on the tree:           {report.ours}"
    yield f"  written by both on the tree:                {report.bothTree}"
    yield f"  compared element by element:                {report.compared} (tree or alone)"
    yield f"  files with differing top-level elements:    {report.filesDiffering}"
    if report.originalCrashed:
        yield "  the original CRASHED on the tree (traceback); files after the crash were not written"
    yield "  files written by one tool only, by class:"
    for kind, count in sorted(report.fileClasses.items()):
        yield f"    {count:5d}  {kind}"
        if details:
            yield f"           {', '.join(report.fileNames[kind])}"
    yield "  differing elements, by class:"
    for kind, count in sorted(report.elementClasses.items()):
        yield f"    {count:5d}  {kind}"
    if details:
        yield "  differing elements:"
        for d in report.differences:
            yield f"    {d.rel}: {d.keyword}: original {d.original} / ours {d.ours}  [{d.kind}]"
    yield f"  UNEXPLAINED: {len(report.unexplained)}"
    for line in report.unexplained:
        yield f"    {line}"


def main(argv: list[str] | None = None) -> int:
    """Build the tree, run both tools per rule set, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orig", default="/work/orig", help="the original's venv (default /work/orig)")
    parser.add_argument("--work", default="", help="working directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--details", action="store_true", help="list every differing element")
    parser.add_argument("--set", action="append", choices=sorted(RULE_SETS), help="only this rule set")
    args = parser.parse_args(argv)
    orig: Path = Path(args.orig)
    if not (orig / "bin" / "pfdicom_tagSub").exists():
        print(f"no original at {orig}/bin/pfdicom_tagSub", file=sys.stderr)
        return 2
    work: Path = Path(args.work or tempfile.mkdtemp(prefix="parity-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        files: list[InputFile] = tree_build(work / "in")
        unexplained: int = 0
        for name in args.set or list(RULE_SETS):
            report: SetReport = set_compare(orig, work, name, RULE_SETS[name], files)
            for line in report_lines(report, args.details):
                print(line)
            unexplained += len(report.unexplained)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"work directory: {work}" if args.keep or args.work else "")
    return 1 if unexplained else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    sys.exit(main())
