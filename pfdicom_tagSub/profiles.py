"""PS3.15 Annex E, Table E.1-1, and its options -> the rules of ``--profile basic[,OPTION...]``.

Pure data in, rules out: the table (edition 2024b, shipped in ``pfdicom_tagSub/data``, read once
per run) and the options named on the command line give, for every row, one rule: remove (X),
empty (Z), a dummy (D), a keyed UID (U), keep (K), or what cleaning (C) means for the element's
VR. Combined codes take the form that keeps the file valid and holds no identifying content:
Z/D, X/D and X/Z/D are D; X/Z is Z; X/Z/U* keeps the sequence, whose items the profile then
remaps. D on PatientID is the keyed pseudonym ``%_hash|16_PatientID``; D on a sequence keeps it
and applies the profile to its items; a binary element has no dummy, so D empties it. C of free
text empties it; C of a date under ``retainLongModifiedDates`` shifts it per patient
(``%_dateshift|patientID_#tag``) and leaves a time as it is (a whole-day shift keeps times); a
binary element cannot be cleaned, so it gets the row's basic action. Where two options name one
row and disagree, cleaning beats keeping. The four rows that are patterns (curve data, overlay
data and comments, the private elements) are matched by tag mask.

Every output of a profile run also gets the conformance elements (``Stamp``):
PatientIdentityRemoved, DeidentificationMethod, DeidentificationMethodCodeSequence (CID 7050,
from ``pydicom.sr.codedict``) and LongitudinalTemporalInformationModified.

Key components:
    - OPTIONS: each option's name, its table column and its CID 7050 code
    - TableRow, table_load, rows_parse: the table as rows (a pattern row with its tag mask)
    - profile_parse: ``basic,retainUIDs`` -> the options, checked
    - row_code, treatment_of, rule_make: one row and the options -> one rule
    - Stamp, stamps_make: the conformance elements
    - Profile, profile_build: the whole profile, asked ``rule_for(tag)``

Typical usage:
    profile = profile_build("basic,retainLongModifiedDates", "4.0.0")
    profile.rule_for(0x00100010).action   # 'empty'

Dependencies:
    - pydicom.sr.codedict (CID 7050), imported when a profile is built
    - pfdicom_tagSub.dictionary (VRs), template (the rule templates), models (Rule), errors
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from pfdicom_tagSub.dictionary import tag_of, tag_vr
from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.models import Rule, RuleAction, Template
from pfdicom_tagSub.template import template_parse

PROFILE_NAME: str = "basic"
TABLE_FILE: str = "confidentiality_profile_attributes.json"
TABLE_NAME: str = "E.1-1"
PRIVATE_PATTERN: str = "ODD"
ODD_GROUP_BIT: int = 0x00010000
PATIENT_ID: int = 0x00100020
PROFILE_INDEX: int = -1
COMBINED: dict[str, str] = {"Z/D": "D", "X/D": "D", "X/Z/D": "D", "X/Z": "Z", "X/Z/U*": "K"}
BINARY_VRS: frozenset[str] = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
FREE_TEXT_VRS: frozenset[str] = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
DATE_VRS: frozenset[str] = frozenset({"DA", "DT"})
TEMPLATES: dict[str, str] = {
    "hash": "%_hash|16_PatientID",
    "uid": "%_uid_#tag",
    "dateshift": "%_dateshift|patientID_#tag",
}
METHOD_PREFIX: str = "pfdicom_tagSub {version}: PS3.15 E.1-1 Basic"
USER_RULES_NOTE: str = "with user rules (-T/-F/-n)"
Treatment = Literal["remove", "empty", "keep", "dummy", "hash", "uid", "dateshift"]
TREATMENT_ACTIONS: dict[Treatment, RuleAction] = {
    "remove": "remove",
    "empty": "empty",
    "keep": "keep",
    "dummy": "dummy",
}
SIMPLE_TREATMENTS: dict[str, Treatment] = {"X": "remove", "Z": "empty", "U": "uid", "K": "keep"}


@dataclass(frozen=True)
class ProfileOption:
    """One option of the profile.

    Attributes:
        name: as ``--profile`` spells it.
        column: the table's column for it.
        code: its CID 7050 concept, an attribute of ``pydicom.sr.codedict.codes.cid7050``.
    """

    name: str
    column: str
    code: str


OPTIONS: tuple[ProfileOption, ...] = (
    ProfileOption(
        "retainLongFullDates", "rtnLongFullDatesOpt", "RetainLongitudinalTemporalInformationFullDatesOption"
    ),
    ProfileOption(
        "retainLongModifiedDates",
        "rtnLongModifDatesOpt",
        "RetainLongitudinalTemporalInformationModifiedDatesOption",
    ),
    ProfileOption("retainUIDs", "rtnUIDsOpt", "RetainUidsOption"),
    ProfileOption("retainDeviceIdentity", "rtnDevIdOpt", "RetainDeviceIdentityOption"),
    ProfileOption("retainInstitutionIdentity", "rtnInstIdOpt", "RetainInstitutionIdentityOption"),
    ProfileOption("retainPatientCharacteristics", "rtnPatCharsOpt", "RetainPatientCharacteristicsOption"),
    ProfileOption("cleanDescriptors", "cleanDescOpt", "CleanDescriptorsOption"),
    ProfileOption("cleanStructuredContent", "cleanStructContOpt", "CleanStructuredContentOption"),
    ProfileOption("cleanGraphics", "cleanGraphOpt", "CleanGraphicsOption"),
)
OPTION_NAMES: tuple[str, ...] = tuple(option.name for option in OPTIONS)
EXCLUSIVE: tuple[str, str] = ("retainLongFullDates", "retainLongModifiedDates")
BASIC_CODE: str = "BasicApplicationConfidentialityProfile"


@dataclass(frozen=True)
class TableRow:
    """One row of Table E.1-1.

    Attributes:
        name: the attribute's name in the standard.
        tag: its tag; for a pattern row, the bits the mask keeps.
        mask: which bits of a tag must equal ``tag``: all of them for one element.
        code: the Basic Profile's action (X, Z, D, U, Z/D, X/D, X/Z, X/Z/D, X/Z/U*).
        options: the option columns that change the row, column to K or C.
    """

    name: str
    tag: int
    mask: int
    code: str
    options: tuple[tuple[str, str], ...] = ()

    @property
    def isPattern(self) -> bool:
        """The row names many elements (a repeating group, the private elements)."""
        return self.mask != 0xFFFFFFFF

    def matches(self, tag: int) -> bool:
        """Whether the row names this tag."""
        return tag & self.mask == self.tag


def tagPattern_parse(text: str) -> tuple[int, int]:
    """A row's tag as (value, mask): ``x`` is any hex digit; "GGGG is odd" is the private elements.

    Example:
        >>> [hex(part) for part in tagPattern_parse("(60XX,4000)")]
        ['0x60004000', '0xff00ffff']
        >>> [hex(part) for part in tagPattern_parse("(GGGG,EEEE) WHERE GGGG IS ODD")]
        ['0x10000', '0x10000']
    """
    if PRIVATE_PATTERN in text.upper():
        return ODD_GROUP_BIT, ODD_GROUP_BIT
    digits: str = text.upper().replace("(", "").replace(")", "").replace(",", "").strip()
    if len(digits) != 8 or any(char not in "0123456789ABCDEFX" for char in digits):
        raise ValueError(f"Table {TABLE_NAME}: tag {text!r} is neither (gggg,eeee) nor a pattern")
    value: int = int(digits.replace("X", "0"), 16)
    mask: int = int("".join("0" if char == "X" else "F" for char in digits), 16)
    return value, mask


def rows_parse(rows: list[dict[str, str]]) -> tuple[TableRow, ...]:
    """The table's JSON rows as TableRows, option columns kept where they are given."""
    columns: tuple[str, ...] = tuple(option.column for option in OPTIONS)
    parsed: list[TableRow] = []
    for row in rows:
        value, mask = tagPattern_parse(row["tag"])
        options = tuple((column, row[column]) for column in columns if row.get(column))
        parsed.append(TableRow(row["name"], value, mask, row["basicProfile"], options))
    return tuple(parsed)


def table_load() -> tuple[TableRow, ...]:
    """Table E.1-1 from the package's data, read once per run (by ``profile_build``)."""
    text: str = (resources.files("pfdicom_tagSub") / "data" / TABLE_FILE).read_text(encoding="utf-8")
    return rows_parse(json.loads(text))


def profile_parse(text: str) -> tuple[str, ...]:
    """The options of ``--profile basic[,OPTION...]``, in the table's order.

    Raises:
        UsageError: not ``basic``, an unknown option (the known ones listed), or both
            ``retainLongFullDates`` and ``retainLongModifiedDates``.

    Example:
        >>> profile_parse("basic, retainUIDs,retainLongModifiedDates")
        ('retainLongModifiedDates', 'retainUIDs')
    """
    name, *given = [part.strip() for part in text.split(",")]
    if name != PROFILE_NAME:
        raise UsageError(f"--profile {text}: the profile is {PROFILE_NAME}[,OPTION...], not {name!r}")
    unknown: list[str] = [option for option in given if option and option not in OPTION_NAMES]
    if unknown:
        raise UsageError(
            f"--profile: unknown option {unknown[0]!r}; the options are {', '.join(OPTION_NAMES)}"
        )
    chosen: tuple[str, ...] = tuple(option for option in OPTION_NAMES if option in given)
    if all(option in chosen for option in EXCLUSIVE):
        raise UsageError(f"--profile: {EXCLUSIVE[0]} and {EXCLUSIVE[1]} exclude each other; give one")
    return chosen


def row_code(row: TableRow, chosen: tuple[str, ...]) -> tuple[str, str]:
    """The action code of a row under the chosen options, and the option that gave it ('' for none).

    An option with an entry in the row changes it to K or C; when two do and disagree, C wins.
    """
    columns: dict[str, str] = dict(row.options)
    given: list[tuple[str, str]] = [
        (columns[option.column], option.name)
        for option in OPTIONS
        if option.name in chosen and option.column in columns
    ]
    cleaned: list[tuple[str, str]] = [entry for entry in given if entry[0] == "C"]
    return (cleaned or given)[0] if given else (row.code, "")


def treatment_of(code: str, basic: str, vr: str, tag: int) -> Treatment:
    """What a row's code does to an element of this VR (see the module docstring).

    Example:
        >>> treatment_of("X/Z/D", "X/Z/D", "LO", 0x00080080), treatment_of("Z/D", "Z/D", "LO", 0x00100020)
        ('dummy', 'hash')
        >>> treatment_of("C", "X", "DA", 0x00080021), treatment_of("C", "X", "OB", 0x00162B00)
        ('dateshift', 'remove')
    """
    code = COMBINED.get(code, code)
    if code == "C":
        if vr in BINARY_VRS:
            return treatment_of(basic, basic, vr, tag)
        if vr in DATE_VRS:
            return "dateshift"
        return "empty" if vr in FREE_TEXT_VRS else "keep"
    if code == "D":
        if vr == "SQ":
            return "keep"
        if vr in BINARY_VRS:
            return "empty"
        return "hash" if tag == PATIENT_ID else "dummy"
    return SIMPLE_TREATMENTS.get(code, "keep")


def rule_make(row: TableRow, chosen: tuple[str, ...], tag: int) -> Rule:
    """The rule of a row for one tag under the chosen options.

    Its key says where it comes from, for the dry run and the audit: ``E.1-1 X/Z/D``, or with
    the option that changed the row, ``E.1-1 X/Z/D, K by retainInstitutionIdentity``. Its index
    is ``PROFILE_INDEX``, below every user rule's.
    """
    code, option = row_code(row, chosen)
    treatment: Treatment = treatment_of(code, row.code, tag_vr(tag).split(" or ")[0], tag)
    key: str = f"{TABLE_NAME} {row.code}" + (f", {code} by {option}" if option else "")
    if treatment in TEMPLATES:
        return Rule(key, template_parse(TEMPLATES[treatment]), PROFILE_INDEX, kind="tag", tag=tag)
    action: RuleAction = TREATMENT_ACTIONS[treatment]
    source: str = "" if action == "empty" else f"%_{action}"
    return Rule(key, Template(source, ()), PROFILE_INDEX, kind="tag", action=action, tag=tag)


@dataclass(frozen=True)
class Stamp:
    """A conformance element every output of a profile run gets (created, or replaced).

    Attributes:
        tag, keyword, vr: the element.
        text: its value in DICOM's text form; a sequence's items as a JSON list of objects.
    """

    tag: int
    keyword: str
    vr: str
    text: str


def codes_make(chosen: tuple[str, ...]) -> list[dict[str, str]]:
    """The DeidentificationMethodCodeSequence items: 113100, then one code per option (CID 7050)."""
    from pydicom.sr.codedict import codes

    names: list[str] = [BASIC_CODE] + [option.code for option in OPTIONS if option.name in chosen]
    concepts = [getattr(codes.cid7050, name) for name in names]
    return [
        {
            "CodeValue": concept.value,
            "CodingSchemeDesignator": concept.scheme_designator,
            "CodeMeaning": concept.meaning,
        }
        for concept in concepts
    ]


def longitudinal_of(chosen: tuple[str, ...]) -> str:
    """LongitudinalTemporalInformationModified for the options: the dates kept, moved or removed."""
    if "retainLongFullDates" in chosen:
        return "UNMODIFIED"
    return "MODIFIED" if "retainLongModifiedDates" in chosen else "REMOVED"


def stamps_make(chosen: tuple[str, ...], version: str, userRules: bool) -> tuple[Stamp, ...]:
    """The four conformance elements of a profile run.

    DeidentificationMethod holds ``pfdicom_tagSub <version>: PS3.15 E.1-1 Basic``, then each
    option as ``--profile`` spells it, then a note when user rules changed the profile's work,
    one value each (an LO value holds at most 64 characters).
    """
    method: list[str] = [METHOD_PREFIX.format(version=version), *chosen]
    if userRules:
        method.append(USER_RULES_NOTE)
    texts: tuple[tuple[str, str, str], ...] = (
        ("PatientIdentityRemoved", "CS", "YES"),
        ("DeidentificationMethod", "LO", "\\".join(method)),
        ("DeidentificationMethodCodeSequence", "SQ", json.dumps(codes_make(chosen))),
        ("LongitudinalTemporalInformationModified", "CS", longitudinal_of(chosen)),
    )
    return tuple(Stamp(tag_of(keyword) or 0, keyword, vr, text) for keyword, vr, text in texts)


@dataclass(frozen=True)
class Profile:
    """The profile of a run: which rule the table gives an element, and the conformance elements.

    Attributes:
        text: ``--profile`` as given.
        options: the chosen options, in the table's order.
        byTag: the rule of each row that names one element.
        patterns: the rows that name many, private elements first (an odd 50xx group is private).
        stamps: the conformance elements.
    """

    text: str
    options: tuple[str, ...]
    byTag: dict[int, Rule] = field(default_factory=dict)
    patterns: tuple[TableRow, ...] = ()
    stamps: tuple[Stamp, ...] = ()

    def rule_for(self, tag: int) -> Rule | None:
        """The profile's rule for an element, None when no row names it."""
        rule: Rule | None = self.byTag.get(tag)
        if rule is not None:
            return rule
        for row in self.patterns:
            if row.matches(tag):
                return rule_make(row, self.options, tag)
        return None

    @staticmethod
    def isPrivateRemoval(rule: Rule) -> bool:
        """Whether a rule is a profile's removal of a private element (whose creator then goes too)."""
        odd: bool = (rule.tag or 0) & ODD_GROUP_BIT != 0
        return rule.index == PROFILE_INDEX and rule.action == "remove" and odd


def profile_build(text: str, version: str, userRules: bool = False) -> Profile:
    """The profile ``--profile`` names, built from the table once per run.

    Args:
        text: ``basic[,OPTION...]``.
        version: this tool's version, for DeidentificationMethod.
        userRules: rules are given with -T/-F/-n too (DeidentificationMethod says so).

    Raises:
        UsageError: see ``profile_parse``.
    """
    chosen: tuple[str, ...] = profile_parse(text)
    rows: tuple[TableRow, ...] = table_load()
    byTag: dict[int, Rule] = {row.tag: rule_make(row, chosen, row.tag) for row in rows if not row.isPattern}
    patterns = tuple(sorted((row for row in rows if row.isPattern), key=lambda row: row.tag != ODD_GROUP_BIT))
    return Profile(text, chosen, byTag, patterns, stamps_make(chosen, version, userRules))
