"""Rules: read from ``--tagStruct``, ``--tagFile`` or ``--tagInfo``, checked, resolved per keyword.

Every rule is checked when the rule set is built, before any file is touched: a key that is no
DICOM keyword (with the closest keywords suggested), a bad regex, an unknown function, a
``%Word`` that is no keyword, a sequence or binary element used as text.

Key components:
    - tagStruct_load: the three rule sources to one ordered dict, checked for shape
    - tagInfo_parse: the ``key,value ++ key,value`` form
    - rules_compile: the dict to a RuleSet
    - RuleSet: which rule replaces a keyword (explicit beats ``re:``, later ``re:`` beats earlier)

Typical usage:
    ruleset = rules_compile(tagStruct_load(options))
    rule = ruleset.rule_for("ReferringPhysicianName")

Dependencies:
    - pfdicom_tagSub.dictionary, for keywords and VRs
    - pfdicom_tagSub.template, to parse each value
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pfdicom_tagSub.dictionary import (
    keyword_isKnown,
    keyword_isRepeating,
    keyword_suggest,
    keyword_vr,
    vr_isText,
)
from pfdicom_tagSub.errors import RuleError, UsageError
from pfdicom_tagSub.models import CURRENT_ELEMENT, ReferencePiece, Rule, TagSubOptions
from pfdicom_tagSub.template import template_parse

REGEX_PREFIX: str = "re:"
RULES_BYTES_MAX: int = 16 << 20


def pairs_unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object hook that refuses a key given twice, which JSON would silently drop."""
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise RuleError(f"rule key {key!r} is given twice")
        result[key] = value
    return result


def json_parse(text: str, origin: str) -> dict[str, str]:
    """Parse a JSON object of string values.

    Raises:
        RuleError: invalid JSON, not an object, a non-text value, a duplicate key.
    """
    try:
        loaded: object = json.loads(text, object_pairs_hook=pairs_unique)
    except json.JSONDecodeError as err:
        raise RuleError(
            f"{origin}: invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    if not isinstance(loaded, dict):
        raise RuleError(f"{origin}: expected a JSON object of key: value rules, got {type(loaded).__name__}")
    for key, value in loaded.items():
        if not isinstance(value, str):
            raise RuleError(f"{origin}: the value of {key!r} must be text, not {json.dumps(value)}")
    return loaded


def tagInfo_parse(text: str, splitToken: str, splitKeyValue: str) -> dict[str, str]:
    """Split ``key<kv>value<token>key<kv>value`` into rules, whitespace stripped.

    Each item splits at its first ``splitKeyValue``, so a value may contain it.

    Raises:
        RuleError: an item without the key/value separator, an empty key, a duplicate key.

    Example:
        >>> tagInfo_parse("PatientName,anon ++ PatientID, %_md5|7_PatientID", "++", ",")
        {'PatientName': 'anon', 'PatientID': '%_md5|7_PatientID'}
    """
    if not splitToken or not splitKeyValue:
        raise UsageError("--splitToken and --splitKeyValue must not be empty")
    rules: dict[str, str] = {}
    for item in (part.strip() for part in text.split(splitToken)):
        if not item:
            continue
        key, separator, value = item.partition(splitKeyValue)
        if not separator or not key.strip():
            raise RuleError(f"--tagInfo item {item!r} is not <key>{splitKeyValue}<value>")
        if key.strip() in rules:
            raise RuleError(f"--tagInfo: rule key {key.strip()!r} is given twice")
        rules[key.strip()] = value.strip()
    return rules


def tagFile_read(path: str) -> str:
    """The text of a rules file, read no further than ``RULES_BYTES_MAX`` (``/dev/zero`` never ends).

    Raises:
        RuleError: it cannot be read, is larger than the limit, or is not UTF-8.
    """
    try:
        with open(path, "rb") as stream:
            data: bytes = stream.read(RULES_BYTES_MAX + 1)
        if len(data) > RULES_BYTES_MAX:
            raise RuleError(
                f"--tagFile {path}: more than {RULES_BYTES_MAX >> 20} MB (the limit): not a rules file"
            )
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason: str = getattr(err, "strerror", None) or str(err)
        raise RuleError(f"--tagFile {path}: cannot read: {reason}") from None


def tagStruct_load(options: TagSubOptions) -> dict[str, str]:
    """The rules from whichever of ``tagStruct``, ``tagFile``, ``tagInfo`` is given (at most one).

    Raises:
        UsageError: more than one source.
        RuleError: a missing or unreadable tag file, invalid JSON, malformed tagInfo.
    """
    given: list[str] = [
        name for name in ("tagStruct", "tagFile", "tagInfo") if getattr(options, name).strip()
    ]
    if len(given) > 1:
        raise UsageError(f"give the rules once: --{given[0]} and --{given[1]} both given")
    if options.tagStruct.strip():
        return json_parse(options.tagStruct, "--tagStruct")
    if options.tagFile.strip():
        return json_parse(tagFile_read(options.tagFile), f"--tagFile {options.tagFile}")
    if options.tagInfo.strip():
        return tagInfo_parse(options.tagInfo, options.splitToken, options.splitKeyValue)
    return {}


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


def rule_compile(key: str, value: str, index: int) -> Rule:
    """Check and compile one rule.

    Raises:
        RuleError: see the module docstring.
    """
    if key.startswith(REGEX_PREFIX):
        rule: Rule = Rule(key, template_parse(value), index, regex_compile(key))
    else:
        if keyword_isRepeating(key):
            raise RuleError(f'{key}: a repeating-group keyword names no single element; use "re:^{key}$"')
        if not keyword_isKnown(key):
            raise RuleError(f"{key}: not a DICOM keyword{keyword_suggest(key)}")
        if not vr_isText(keyword_vr(key)):
            raise RuleError(f"{key}: a {keyword_vr(key)} element cannot be given a text value")
        rule = Rule(key, template_parse(value), index)
    for piece in rule.template.pieces:
        if not isinstance(piece, ReferencePiece) or piece.keyword == CURRENT_ELEMENT:
            continue
        vr: str = keyword_vr(piece.keyword)
        if not vr_isText(vr):
            raise RuleError(f"{rule.describe()}: %{piece.keyword} is a {vr} element, with no text")
    return rule


@dataclass
class RuleSet:
    """The checked rules and, per keyword, which rule replaces it.

    Attributes:
        rules: every rule, in the order given.
        explicit: keyword to its explicit rule.
        regexes: the ``re:`` rules, in order.
        cache: keyword to (winning rule or None, indices of the regexes that match it); filled on
            demand, so each distinct keyword is matched against the regexes once per process.
    """

    rules: list[Rule]
    explicit: dict[str, Rule] = field(default_factory=dict)
    regexes: list[Rule] = field(default_factory=list)
    cache: dict[str, tuple[Rule | None, frozenset[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.rules:
            if rule.isRegex:
                self.regexes.append(rule)
            else:
                self.explicit[rule.key] = rule

    def rule_for(self, keyword: str) -> tuple[Rule | None, frozenset[int]]:
        """The rule that replaces ``keyword``, and the regex rules that match it.

        An explicit rule wins over any regex; among regexes the last one written wins. A regex
        matches with ``re.match``: anchored at the start of the keyword, not at its end.
        """
        cached: tuple[Rule | None, frozenset[int]] | None = self.cache.get(keyword)
        if cached is None:
            hits: list[Rule] = [rule for rule in self.regexes if rule.pattern and rule.pattern.match(keyword)]
            winner: Rule | None = self.explicit.get(keyword) or (hits[-1] if hits else None)
            cached = (winner, frozenset(rule.index for rule in hits))
            self.cache[keyword] = cached
        return cached

    def regexes_unmatched(self, hits: set[int]) -> list[str]:
        """The keys of the regex rules that matched nothing in the whole run."""
        return [rule.key for rule in self.regexes if rule.index not in hits]

    def __getstate__(self) -> dict[str, object]:
        """Ship the rules to a worker process without the parent's cache."""
        return {"rules": self.rules, "explicit": self.explicit, "regexes": self.regexes, "cache": {}}


def rules_compile(tagStruct: dict[str, str]) -> RuleSet:
    """Check and compile every rule.

    Raises:
        RuleError: for the first bad rule.

    Example:
        >>> rules_compile({"PatientID": "%_md5|7_PatientID"}).rule_for("PatientID")[0].key
        'PatientID'
    """
    return RuleSet([rule_compile(key, value, index) for index, (key, value) in enumerate(tagStruct.items())])
