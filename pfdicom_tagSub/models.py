"""The data models of pfdicom_tagSub: options in, rules, per-file results and the run record out.

Every non-primitive value that crosses a module boundary is one of these dataclasses. Only a
``Change`` holds element values (old and new), for the dry run, the audit and the verification
that ask for them; records and reasons name files, keywords, VRs and rules, never a value, so
that a run record can be logged.

Key components:
    - TagSubOptions: every option (its own module, ``options``; named here too)
    - TextPiece, TagNamePiece, ReferencePiece, Template: a parsed value template
    - PrivateKey, Rule, RuleSkip: one checked rule (its key and action); a rule skipped in a file
      for an absent reference
    - Change: one element changed in one file, as a value (the plan is a list of them)
    - FileTask, FileResult: one file to process and what became of it, with its changes
    - RunRecord: the counts and lists of a whole run, filled result by result

Typical usage:
    options = TagSubOptions.fromDict(vars(args))

Dependencies:
    - pfdicom_tagSub.options
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from pfdicom_tagSub.options import IN_PLACE as IN_PLACE
from pfdicom_tagSub.options import TagSubOptions as TagSubOptions

CURRENT_ELEMENT: str = "#tag"
LISTED_EXISTING_MAX: int = 100


def tag_format(tag: int) -> str:
    """A tag as DICOM writes it, ``(gggg,eeee)`` in upper-case hex.

    Example:
        >>> tag_format(0x00091001)
        '(0009,1001)'
    """
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass(frozen=True)
class TextPiece:
    """Literal text of a template."""

    text: str


@dataclass(frozen=True)
class TagNamePiece:
    """``#tag`` outside a reference: the keyword of the element being replaced."""


@dataclass(frozen=True)
class ReferencePiece:
    """``%Keyword`` or ``%_fn|arg_Keyword``: an element's text, through a function if any.

    Attributes:
        keyword: the referenced keyword, or ``#tag`` for the element being replaced.
        function: the function name, ``""`` for none.
        argument: the text after ``|``; for ``name``, the seed keyword, normalized.
    """

    keyword: str
    function: str = ""
    argument: str = ""


Piece = TextPiece | TagNamePiece | ReferencePiece


@dataclass(frozen=True)
class Template:
    """A value template, parsed once per rule: ``source`` as the user wrote it, ``pieces`` its
    literal text, ``#tag`` names and references, in order."""

    source: str
    pieces: tuple[Piece, ...]

    def references(self, current: str) -> list[str]:
        """The keywords this template reads, with ``#tag`` resolved to ``current``."""
        return [
            current if piece.keyword == CURRENT_ELEMENT else piece.keyword
            for piece in self.pieces
            if isinstance(piece, ReferencePiece)
        ]


RuleKind = Literal["keyword", "tag", "private", "regex"]
RuleAction = Literal["template", "remove", "keep", "dummy", "empty"]


@dataclass(frozen=True)
class PrivateKey:
    """A private element named by its creator, ``(gggg,"CREATOR",ee)``: group, creator, element byte."""

    group: int
    creator: str
    element: int


@dataclass(frozen=True)
class Rule:
    """One checked rule.

    Attributes:
        key: the key as written: a keyword, ``(gggg,eeee)``, ``(gggg,"CREATOR",ee)`` or ``re:<regex>``.
        template: the parsed value (an action's is its word alone, with no pieces).
        index: the rule's position among all rules, for precedence and reporting.
        pattern: the compiled regex of a ``re:`` key, else None.
        kind: what the key is: ``keyword``, ``tag``, ``private`` or ``regex``.
        action: ``template`` (the value is computed), ``remove``, ``keep``, ``dummy``, or ``empty``
            (a profile's Z: a sequence keeps no item).
        tag: the element a keyword or tag key names, else None.
        private: the element a private-creator key names, else None.
    """

    key: str
    template: Template
    index: int
    pattern: re.Pattern[str] | None = None
    kind: RuleKind = "keyword"
    action: RuleAction = "template"
    tag: int | None = None
    private: PrivateKey | None = None

    @property
    def isRegex(self) -> bool:
        """The rule is a ``re:`` rule."""
        return self.pattern is not None

    def describe(self) -> str:
        """The rule as JSON writes it, ``"key": "value"``: one line whatever it holds."""
        key: str = json.dumps(self.key, ensure_ascii=False)
        return f"{key}: {json.dumps(self.template.source, ensure_ascii=False)}"


@dataclass(frozen=True)
class RuleSkip:
    """A rule not applied to one element of a file because a referenced element is absent."""

    ruleKey: str
    absent: str


@dataclass(frozen=True)
class FileTask:
    """One file to process: ``inputPath`` as walked under the input directory, ``outputDir`` the
    directory its output goes to (leaf template applied)."""

    inputPath: str
    outputDir: str


Action = Literal["replace", "create", "remove"]
Steps = tuple[tuple[int, int], ...]
META_PATH: str = "FileMetaInformation."


@dataclass(frozen=True)
class Change:
    """One element of one file changed: computed once in the worker, then applied, printed by the
    dry run, stored by the audit and read by verification; nobody recomputes it.

    Attributes:
        path: where the element is, for people: ``OtherPatientIDsSequence[0].PatientID``; a
            private or unknown element by its tag, ``(0009,1001)``.
        tag: the element's tag.
        keyword: its keyword, '' for private and unknown tags.
        vr: the VR it has (and, when created, is written with).
        action: ``replace`` its value, ``create`` it (absent before), or ``remove`` it.
        old: the value as read, in DICOM's text form; None when absent or binary.
        new: the value written, in DICOM's text form; None when removed.
        rule: what asked for it: a rule key (``PatientName``, ``re:.*hysician``) or an option.
        steps: from the top-level data set to the one that holds the element: (sequence tag,
            item index) pairs; empty at the top level.
        meta: the element is in the file meta (MediaStorageSOPInstanceUID following the new
            SOPInstanceUID).
    """

    path: str
    tag: int
    keyword: str
    vr: str
    action: Action
    old: str | None
    new: str | None
    rule: str
    steps: Steps = ()
    meta: bool = False

    def toDict(self) -> dict[str, object]:
        """The change as JSON writes it (the dry run's plan); values included."""
        return {
            "path": self.path,
            "tag": tag_format(self.tag),
            "keyword": self.keyword,
            "vr": self.vr,
            "action": self.action,
            "old": self.old,
            "new": self.new,
            "rule": self.rule,
        }


Outcome = Literal["written", "planned", "exists", "notDicom", "failed"]


@dataclass
class FileResult:
    """What became of one file.

    Attributes:
        inputPath: the input file.
        outcome: ``written``; ``planned`` (a dry run: it would be written); ``exists`` (output
            kept, not overwritten); ``notDicom``; ``failed``.
        reason: why, for every outcome but ``written`` and ``planned``; one line, no element values.
        message: the same with the values it concerns (a rule's result), shown only at
            verbosity 5; '' when it is the reason.
        outputPath: the final output path, once known.
        tempPath: the whole output written under a temporary name, awaiting its commit.
        read: the file was read as DICOM.
        analyzed: the rules were applied and every result was valid.
        changes: the elements replaced, created or removed, in the order they were planned.
        skips: rules not applied for an absent reference.
        regexHits: indices of the ``re:`` rules that matched a keyword in the file.
        tiffPreamble: its preamble is a TIFF header, kept (every other changed file's is zeroed).
        verified: ``--verify``'s verdict: ``clean``, ``failed`` (so not written), '' (not searched).
        spliced: written the header-only way: only the header encoded by pydicom, the rest copied.
    """

    inputPath: str
    outcome: Outcome = "failed"
    reason: str = ""
    message: str = ""
    outputPath: str = ""
    tempPath: str = ""
    read: bool = False
    analyzed: bool = False
    changes: tuple[Change, ...] = ()
    skips: tuple[RuleSkip, ...] = ()
    regexHits: frozenset[int] = frozenset()
    tiffPreamble: bool = False
    verified: Literal["", "clean", "failed"] = ""
    spliced: bool = False


@dataclass
class RunRecord:
    """The counts and lists of a run, filled one result at a time; holds no element values.

    Lists are kept for what the user must act on (failures, non-DICOM files); files kept because
    their output exists are counted, and the first ``LISTED_EXISTING_MAX`` named. ``walked`` says
    that the walk is over, so that ``filesFound`` is the run's whole count.
    """

    filesFound: int = 0
    filesRead: int = 0
    filesAnalyzed: int = 0
    filesSaved: int = 0
    filesPlanned: int = 0
    filesExisting: int = 0
    filesNotDicom: int = 0
    filesFailed: int = 0
    filesTiffPreamble: int = 0
    filesVerified: int = 0
    filesVerifyFailed: int = 0
    elementsChanged: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    notDicom: list[dict[str, str]] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    walkErrors: list[str] = field(default_factory=list)
    notWalked: list[str] = field(default_factory=list)
    ruleSkips: Counter[RuleSkip] = field(default_factory=Counter)
    regexHits: set[int] = field(default_factory=set)
    walked: bool = False

    def result_add(self, result: FileResult) -> None:
        """Count one file's result."""
        self.filesRead += result.read
        self.filesAnalyzed += result.analyzed
        self.elementsChanged += len(result.changes) if result.outcome in ("written", "planned") else 0
        self.ruleSkips.update(set(result.skips))
        self.regexHits.update(result.regexHits)
        self.filesTiffPreamble += result.tiffPreamble and result.outcome in ("written", "planned")
        self.filesVerified += result.verified == "clean"
        self.filesVerifyFailed += result.verified == "failed"
        entry: dict[str, str] = {"file": result.inputPath, "reason": result.reason}
        match result.outcome:
            case "written":
                self.filesSaved += 1
            case "planned":
                self.filesPlanned += 1
            case "exists":
                self.filesExisting += 1
                if len(self.existing) < LISTED_EXISTING_MAX:
                    self.existing.append(result.inputPath)
            case "notDicom":
                self.filesNotDicom += 1
                self.notDicom.append(entry)
            case _:
                self.filesFailed += 1
                self.failed.append(entry)

    @property
    def status(self) -> bool:
        """Every file that should have been written was written or already existed."""
        return self.filesFailed == 0 and not self.walkErrors
