"""The rule sources: ``--tagStruct``, ``--tagFile`` or ``--tagInfo`` to one ordered dict, checked for
shape; ``--profile`` to its profile; and the check that a run is given something to de-identify with.

Key components:
    - json_parse: a JSON object of text values, a key given twice refused
    - tagInfo_parse, tagInfo_item: the ``key,value ++ key,value`` form
    - tagStruct_load: whichever of the three sources is given (at most one)
    - profile_load: ``--profile`` built, or None
    - rules_required: a run must be given rules, a profile or ``--removePrivateTags``

Typical usage:
    tagStruct = tagStruct_load(options)
    rules_required(options, tagStruct)

Dependencies:
    - pfdicom_tagSub.models (the options), errors, profiles
"""

from __future__ import annotations

import json

from pfdicom_tagSub.errors import RuleError, UsageError
from pfdicom_tagSub.models import TagSubOptions
from pfdicom_tagSub.profiles import Profile, profile_build

NOTHING_TO_DO: str = "nothing to de-identify: give rules (-T/-F/-n) or --profile"
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
        key, separator, value = tagInfo_item(item, splitKeyValue)
        if not separator or not key.strip():
            raise RuleError(f"--tagInfo item {item!r} is not <key>{splitKeyValue}<value>")
        if key.strip() in rules:
            raise RuleError(f"--tagInfo: rule key {key.strip()!r} is given twice")
        rules[key.strip()] = value.strip()
    return rules


def tagInfo_item(item: str, splitKeyValue: str) -> tuple[str, str, str]:
    """One ``--tagInfo`` item as (key, separator, value); a ``(gggg,...)`` key is taken whole,
    its commas included.

    Example:
        >>> tagInfo_item('(0009,"ACME 1.1",01),%_remove', ",")
        ('(0009,"ACME 1.1",01)', ',', '%_remove')
    """
    closing: int = item.find(")") if item.startswith("(") else -1
    if closing > 0:
        key, rest = item[: closing + 1], item[closing + 1 :].lstrip()
        if rest.startswith(splitKeyValue):
            return key, splitKeyValue, rest[len(splitKeyValue) :]
    return item.partition(splitKeyValue)


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


def profile_load(options: TagSubOptions, userRules: bool, version: str) -> Profile | None:
    """The profile ``--profile`` names, built once for the run; None when none is given.

    Raises:
        UsageError: a bad profile or option; ``--topLevelOnly``, which would leave nested elements
            that the profile must reach.
    """
    if not options.profile.strip():
        return None
    if options.topLevelOnly:
        raise UsageError("--profile acts at every depth of nested sequences: drop --topLevelOnly")
    return profile_build(options.profile.strip(), version, userRules)


def rules_required(options: TagSubOptions, tagStruct: dict[str, str]) -> None:
    """Refuse a run that would copy patient data unchanged: no rules and nothing else that de-identifies.

    Raises:
        UsageError: no rule, no ``--profile`` and no ``--removePrivateTags``.
    """
    if not tagStruct and not options.profile.strip() and not options.removePrivateTags:
        raise UsageError(NOTHING_TO_DO)
