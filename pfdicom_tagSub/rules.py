"""Rules: the user's (from ``sources``) checked, with the profile's behind them, resolved per element.

A key is a keyword (``PatientName``), a tag (``(0010,0020)``), a private element named by its
creator (``(0009,"ACME 1.1",01)``) or a regex over keywords (``re:.*hysician``); a value is a
template, or an action by itself (``%_remove``, ``%_keep``, ``%_dummy``). Every rule is checked
when the rule set is built, before any file is touched: a key that is no DICOM keyword (with the
closest keywords suggested), a file meta element, a bad regex, an unknown function, a ``%Word``
that is no keyword, a sequence or binary element used as text, a function on an element it
cannot read, two keys naming one element. A ``--profile`` (``profiles``) acts on every element no
user rule acts on: the user's rules override it element by element.

Key components:
    - key_parse, rule_compile, rules_compile: the dict to a RuleSet
    - RuleSet: which rule acts on an element (explicit keys beat ``re:``, ``%_keep`` beats other
      ``re:``, a later ``re:`` beats an earlier, any user rule beats the profile)

Typical usage:
    ruleset = rules_compile(tagStruct_load(options), profile_build("basic", __version__))
    rule, hits = ruleset.rule_for("ReferringPhysicianName")

Dependencies:
    - pfdicom_tagSub.dictionary, for keywords and VRs
    - pfdicom_tagSub.template, to parse each value
    - pfdicom_tagSub.profiles, for the profile's rules and conformance elements
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeVar

from pfdicom_tagSub.dictionary import (
    FILE_META_GROUP,
    keyword_isKnown,
    keyword_isRepeating,
    keyword_of,
    keyword_suggest,
    keyword_vr,
    keywords_withVR,
    tag_of,
    tag_vr,
    vr_isText,
)
from pfdicom_tagSub.errors import RuleError
from pfdicom_tagSub.functions import DUMMY_FIXED, DUMMY_TEXT_VRS, FUNCTIONS
from pfdicom_tagSub.models import (
    CURRENT_ELEMENT,
    PrivateKey,
    ReferencePiece,
    Rule,
    RuleAction,
    RuleKind,
    Template,
)
from pfdicom_tagSub.profiles import Profile, Stamp
from pfdicom_tagSub.template import ACTION_NAMES, template_needsKey, template_parse

Name = TypeVar("Name", int, PrivateKey)
REGEX_PREFIX: str = "re:"
TAG_KEY = re.compile(r"\(\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)")
PRIVATE_KEY = re.compile(r'\(\s*([0-9A-Fa-f]{4})\s*,\s*"([^"\\]*)"\s*,\s*([0-9A-Fa-f]{2})\s*\)')
ITEM_GROUP: int = 0xFFFE
NOT_PRIVATE_GROUPS: frozenset[int] = frozenset({0x0001, 0x0003, 0x0005, 0x0007, 0xFFFF})
CREATOR_LENGTH_MAX: int = 64
FILE_META_REASON: str = (
    "a file meta element (group 0002) takes no rule: MediaStorageSOPInstanceUID follows "
    "SOPInstanceUID by itself, and the transfer syntax is not a rule's business"
)


def regex_compile(key: str) -> re.Pattern[str]:
    """Compile the regex of a ``re:`` key.

    Raises:
        RuleError: the regex is empty or invalid.
    """
    pattern: str = key[len(REGEX_PREFIX) :]
    if not pattern:
        raise RuleError(f"{key!r}: empty regular expression")
    try:
        return re.compile(pattern)
    except re.error as err:
        raise RuleError(f"{key!r}: invalid regular expression: {err}") from None


def keyword_check(key: str) -> int:
    """The tag of a keyword key.

    Raises:
        RuleError: a repeating-group keyword, no keyword at all, a file meta keyword.
    """
    if keyword_isRepeating(key):
        raise RuleError(f'{key}: a repeating-group keyword names no single element; use "re:^{key}$"')
    tag: int | None = tag_of(key) if keyword_isKnown(key) else None
    if tag is None:
        raise RuleError(f"{key}: not a DICOM keyword{keyword_suggest(key)}")
    if tag >> 16 == FILE_META_GROUP:
        raise RuleError(f"{key}: {FILE_META_REASON}")
    return tag


def key_parse(key: str) -> tuple[RuleKind, int | None, PrivateKey | None]:
    """What a key names: its kind, and its tag or private element.

    Raises:
        RuleError: see ``keyword_check``; a file meta, item or non-private group; a bad creator.

    Example:
        >>> key_parse('(0009,"ACME 1.1",0a)')
        ('private', None, PrivateKey(group=9, creator='ACME 1.1', element=10))
    """
    if key.startswith(REGEX_PREFIX):
        return "regex", None, None
    private: re.Match[str] | None = PRIVATE_KEY.fullmatch(key.strip())
    tagged: re.Match[str] | None = TAG_KEY.fullmatch(key.strip())
    if private is None and tagged is None and key.strip().startswith("("):
        raise RuleError(f'{key}: not a tag key: write (gggg,eeee) or (gggg,"CREATOR",ee), in hex')
    numbered: re.Match[str] | None = private or tagged
    if numbered is None:
        return "keyword", keyword_check(key), None
    group: int = int(numbered.group(1), 16)
    if group == FILE_META_GROUP:
        raise RuleError(f"{key}: {FILE_META_REASON}")
    if group == ITEM_GROUP:
        raise RuleError(f"{key}: group FFFE holds item delimiters, not elements")
    if private is None:
        return "tag", int(numbered.group(1) + numbered.group(2), 16), None
    creator: str = private.group(2).strip()
    if group % 2 == 0 or group in NOT_PRIVATE_GROUPS:
        raise RuleError(f"{key}: group {group:04X} holds no private elements (odd groups above 0008 do)")
    if not creator or len(creator) > CREATOR_LENGTH_MAX:
        raise RuleError(f"{key}: a private creator is 1 to {CREATOR_LENGTH_MAX} characters")
    return "private", None, PrivateKey(group, creator, int(private.group(3), 16))


def action_parse(value: str) -> RuleAction:
    """The action a value is by itself (``%_remove``, ``%_keep``, ``%_dummy``), else ``template``."""
    word: str = value.strip()
    for name in ACTION_NAMES:
        if word == f"%_{name}":
            return name  # type: ignore[return-value]  # one of RuleAction's words
    return "template"


def target_check(rule: Rule) -> None:
    """Check what a rule does against the dictionary VR of the element it names, when it is known.

    Raises:
        RuleError: a text value for a sequence or binary element; a dummy where none is defined.
    """
    vr: str = tag_vr(rule.tag) if rule.tag is not None and keyword_of(rule.tag) else ""
    if not vr or rule.action in ("remove", "keep"):
        return
    name: str = keyword_of(rule.tag or 0)
    if rule.action == "template" and not vr_isText(vr):
        raise RuleError(f"{name}: a {vr} element cannot be given a text value")
    if rule.action == "dummy" and not any(
        part == "UI" or part in DUMMY_FIXED or part in DUMMY_TEXT_VRS for part in vr.split(" or ")
    ):
        raise RuleError(f"{rule.describe()}: there is no dummy value for {name}, a {vr} element")


def references_check(rule: Rule) -> None:
    """Check that every element a rule's template reads has a text form the function can take.

    Raises:
        RuleError: a binary element read as text; a function on an element of a VR it cannot read
            (``%_dateshift`` of a TM), where the VR is known before any file is read.
    """
    for piece in rule.template.pieces:
        if not isinstance(piece, ReferencePiece):
            continue
        current: bool = piece.keyword == CURRENT_ELEMENT
        vr: str = keyword_vr(piece.keyword) if not current else ""
        if current and rule.tag is not None and keyword_of(rule.tag):
            vr = tag_vr(rule.tag)
        if not current and not vr_isText(vr):
            raise RuleError(f"{rule.describe()}: %{piece.keyword} is a {vr} element, with no text")
        sources: frozenset[str] = FUNCTIONS[piece.function].sourceVRs if piece.function else frozenset()
        if vr and sources and not sources.intersection(vr.split(" or ")):
            name: str = keyword_of(rule.tag or 0) if current else piece.keyword
            accepted: str = " or ".join(sorted(sources))
            raise RuleError(
                f"{rule.describe()}: %_{piece.function} reads {accepted} elements; {name} is {vr}"
            )


def rule_compile(key: str, value: str, index: int) -> Rule:
    """Check and compile one rule.

    Raises:
        RuleError: see the module docstring.
    """
    kind, tag, private = key_parse(key)
    action: RuleAction = action_parse(value)
    template: Template = template_parse(value) if action == "template" else Template(value.strip(), ())
    pattern: re.Pattern[str] | None = regex_compile(key) if kind == "regex" else None
    rule: Rule = Rule(key, template, index, pattern, kind, action, tag, private)
    target_check(rule)
    references_check(rule)
    return rule


def rule_mayDummyUID(rule: Rule) -> bool:
    """Whether a ``%_dummy`` rule may hit a UI element, whose dummy is a keyed UID."""
    if rule.action != "dummy":
        return False
    if rule.pattern is not None:
        return any(rule.pattern.match(keyword) for keyword in keywords_withVR("UI"))
    return rule.private is not None or tag_vr(rule.tag or 0) in ("", "UI")


def explicit_add(index: dict[Name, Rule], name: Name, rule: Rule) -> None:
    """Index an explicit rule by the element it names.

    Raises:
        RuleError: another key names the same element (``PatientID`` and ``(0010,0020)``).
    """
    if name in index:
        raise RuleError(f"{index[name].key} and {rule.key} name the same element")
    index[name] = rule


@dataclass
class RuleSet:
    """The checked rules and, per element, which rule acts on it.

    Attributes:
        rules: every rule, in the order given.
        byTag: tag to its explicit rule (keyword and tag keys).
        byPrivate: private element (group, creator, element byte) to its rule.
        regexes: the ``re:`` rules, in order.
        cache: tag to (its explicit rule, else the winning regex rule, or None; indices of the regexes
            that match its keyword); filled on demand, so each distinct element is resolved once per
            process.
        namesUnnamed: some rule names an element without a keyword (by creator, or a private or
            unknown tag, or the profile's private elements); else only elements with a keyword can
            have a rule.
        profile: ``--profile``, whose rule acts on an element no user rule acts on; None without.
    """

    rules: list[Rule]
    profile: Profile | None = None
    byTag: dict[int, Rule] = field(default_factory=dict)
    byPrivate: dict[PrivateKey, Rule] = field(default_factory=dict)
    regexes: list[Rule] = field(default_factory=list)
    cache: dict[int | None, tuple[Rule | None, frozenset[int]]] = field(default_factory=dict)
    namesUnnamed: bool = False

    def __post_init__(self) -> None:
        """Index the rules; two keys naming one element are a rule error."""
        for rule in self.rules:
            if rule.pattern is not None:
                self.regexes.append(rule)
                continue
            if rule.private is not None:
                explicit_add(self.byPrivate, rule.private, rule)
            else:
                explicit_add(self.byTag, rule.tag or 0, rule)
        self.namesUnnamed = (
            self.hasPrivate or self.profile is not None or not all(keyword_of(tag) for tag in self.byTag)
        )

    @property
    def hasPrivate(self) -> bool:
        """Some rule names a private element by its creator: data sets must say their creators."""
        return bool(self.byPrivate)

    @property
    def keyNeeded(self) -> bool:
        """Some rule computes with the secret key."""
        profiled: list[Rule] = list(self.profile.byTag.values()) if self.profile is not None else []
        return any(
            template_needsKey(rule.template) or rule_mayDummyUID(rule) for rule in [*self.rules, *profiled]
        )

    @property
    def keepsPrivate(self) -> bool:
        """Some user rule names a private element (by creator, or by a tag of an odd group): under a
        profile, which removes private elements, its creator element must then stay too."""
        return self.hasPrivate or any((tag >> 16) % 2 == 1 for tag in self.byTag)

    def stamps(self) -> tuple[Stamp, ...]:
        """The profile's conformance elements, but those a user rule names: the user's rule acts."""
        if self.profile is None:
            return ()
        return tuple(stamp for stamp in self.profile.stamps if stamp.tag not in self.byTag)

    def creatable(self) -> list[Rule]:
        """The explicit template rules on dictionary elements, which create their element when absent."""
        return [
            rule
            for rule in self.byTag.values()
            if rule.action == "template" and rule.tag is not None and keyword_of(rule.tag)
        ]

    def rule_for(
        self, keyword: str, tag: int | None = None, creator: str | None = None
    ) -> tuple[Rule | None, frozenset[int]]:
        """The rule that acts on an element, and the regex rules that match its keyword.

        A private-creator key (when ``creator`` reserves the element's block) beats a tag key, which
        like a keyword key beats any regex; among the regexes that match, the last ``%_keep`` wins,
        else the last one written. A regex matches with ``re.match``: anchored at the start of the
        keyword, not at its end.
        """
        element: int | None = tag_of(keyword) if tag is None else int(tag)  # int: a BaseTag compares slowly
        cached: tuple[Rule | None, frozenset[int]] | None = self.cache.get(element)
        if cached is None:
            cached = self.rule_resolve(keyword, element)
            self.cache[element] = cached
        if creator is not None and element is not None and self.byPrivate:
            private: Rule | None = self.byPrivate.get(PrivateKey(element >> 16, creator, element & 0xFF))
            if private is not None:
                return private, cached[1]
        return cached

    def rule_resolve(self, keyword: str, tag: int | None) -> tuple[Rule | None, frozenset[int]]:
        """The explicit rule of a tag, else the winning regex on its keyword, else the profile's; and the
        regexes that match."""
        hits: list[Rule] = [
            rule for rule in self.regexes if rule.pattern and keyword and rule.pattern.match(keyword)
        ]
        kept: list[Rule] = [rule for rule in hits if rule.action == "keep"]
        explicit: Rule | None = self.byTag.get(tag) if tag is not None else None
        winner: Rule | None = explicit or ((kept or hits)[-1] if hits else None)
        if winner is None and self.profile is not None and tag is not None:
            winner = self.profile.rule_for(tag)
        return winner, frozenset(rule.index for rule in hits)

    def regexes_unmatched(self, hits: set[int]) -> list[str]:
        """The keys of the regex rules that matched nothing in the whole run."""
        return [rule.key for rule in self.regexes if rule.index not in hits]

    def __getstate__(self) -> dict[str, object]:
        """Ship the rules to a worker process without the parent's cache."""
        return {**self.__dict__, "cache": {}}


def rules_compile(tagStruct: dict[str, str], profile: Profile | None = None) -> RuleSet:
    """Check and compile every rule; the profile, if any, acts where no rule does.

    Raises:
        RuleError: for the first bad rule.

    Example:
        >>> rules_compile({"PatientID": "%_md5|7_PatientID"}).rule_for("PatientID")[0].key
        'PatientID'
    """
    items = enumerate(tagStruct.items())
    return RuleSet([rule_compile(key, value, index) for index, (key, value) in items], profile)
