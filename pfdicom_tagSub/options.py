"""The options of a run: every flag, read from a loose dict and checked.

``TagSubOptions`` is built from ``vars(args)`` or from a wrapper's dict (the ChRIS plugin passes
text for numbers and flags, and ``inputdir``/``outputdir`` in lower case); each value is coerced
to its field's type and checked, so that a bad option is a usage error before anything is read.

Key components:
    - TagSubOptions: every option, ``fromDict``
    - bool_coerce, int_coerce, dateShiftRange_parse: reading one option's text

Typical usage:
    options = TagSubOptions.fromDict(vars(args))

Dependencies:
    - pfdicom_tagSub.errors, for the option errors
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import get_type_hints

from pfdicom_tagSub.errors import UsageError

IN_PLACE: str = "%inputDir"
TRUE_WORDS: frozenset[str] = frozenset({"1", "true", "yes", "on", "y"})
FALSE_WORDS: frozenset[str] = frozenset({"", "0", "false", "no", "off", "n", "none"})
OPTION_ALIASES: dict[str, str] = {"inputdir": "inputDir", "outputdir": "outputDir"}


def bool_coerce(name: str, raw: object) -> bool:
    """Read a flag from a bool or from the text a wrapper may pass ('0', 'false', 'True')."""
    if not isinstance(raw, str):
        return bool(raw)
    word: str = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UsageError(f"{name}: {raw!r} is not true or false")


def int_coerce(name: str, raw: object) -> int:
    """Read a number from an int or from its text ('0', ' 4 ')."""
    try:
        return int(str(raw).strip())
    except ValueError:
        raise UsageError(f"{name}: {raw!r} is not a whole number") from None


def dateShiftRange_parse(text: str) -> tuple[int, int]:
    """``--dateShiftRange MIN:MAX``: whole days, inclusive, MIN <= MAX, 0 outside (or some dates stay).

    Raises:
        UsageError: not two whole numbers, MIN above MAX, or 0 in the range.

    Example:
        >>> dateShiftRange_parse("-30:-10")
        (-30, -10)
    """
    low, separator, high = text.strip().partition(":")
    numbers: bool = all(re.fullmatch(r"\s*[+-]?[0-9]+\s*", part) for part in (low, high))
    minimum, maximum = (int(low), int(high)) if numbers else (0, -1)  # (0, -1): refused below
    if not separator or minimum > maximum:
        raise UsageError(
            f"--dateShiftRange {text!r}: give MIN:MAX, two whole numbers of days with MIN <= MAX "
            "(--dateShiftRange=-30:-10)"
        )
    if minimum <= 0 <= maximum:
        raise UsageError(
            f"--dateShiftRange {text!r}: holds 0, which would leave some patients' dates as they are"
        )
    return minimum, maximum


@dataclass
class TagSubOptions:
    """Every option of a run.

    Attributes mirror the command-line flags of the same name (see ``__main__``). ``outputDir``
    may be ``%inputDir`` for an in-place run.

    Example:
        >>> TagSubOptions.fromDict({"inputdir": "/in", "threads": "2", "str_desc": "x"}).threads
        2
    """

    inputDir: str = ""
    outputDir: str = ""
    inputFile: str = ""
    extension: str = ""
    fileFilter: str = ""
    fileFilterLogic: str = "OR"
    dirFilter: str = ""
    dirFilterLogic: str = "OR"
    maxDepth: int = -1
    followLinks: bool = False
    relativeDir: bool = False
    tagFile: str = ""
    tagStruct: str = ""
    tagInfo: str = ""
    splitToken: str = "++"
    splitKeyValue: str = ","
    removePrivateTags: bool = False
    topLevelOnly: bool = False
    outputFileStem: str = ""
    outputLeafDir: str = ""
    threads: int | None = None
    overwrite: bool = False
    json: bool = False
    printElapsedTime: bool = False
    verbosity: int = 1
    syslog: bool = False
    dryRun: bool = False
    audit: str = ""
    verify: bool = False
    keyFile: str = ""
    dateShiftRange: str = "-1095:-1"
    dask: str = ""
    daskTimeout: int = 30
    shard: str = ""
    profile: str = ""

    def __post_init__(self) -> None:
        self.dateShiftRange = self.dateShiftRange.strip() or "-1095:-1"  # a wrapper's '' is "not given"
        dateShiftRange_parse(self.dateShiftRange)
        if self.threads is not None and self.threads < 0:
            raise UsageError(f"--threads {self.threads}: the number of workers must be 0 or more")

    @classmethod
    def fromDict(cls, values: dict[str, object]) -> TagSubOptions:
        """Build options from a loose mapping; unknown keys are ignored, missing ones defaulted.

        ``inputdir``/``outputdir`` are accepted in lower case, as the ChRIS wrapper passes them;
        ``None`` means "not given"; numbers and flags may come as text.

        Raises:
            UsageError: for a value that cannot be read as its option's type.
        """
        normalized: dict[str, object] = {}
        for key, value in values.items():
            name: str = OPTION_ALIASES.get(key, key)
            if value is not None and (name not in normalized or key == name):
                normalized[name] = value
        hints: dict[str, object] = get_type_hints(cls)
        kwargs: dict[str, object] = {}
        for item in fields(cls):
            if item.name not in normalized:
                continue
            raw: object = normalized[item.name]
            hint: object = hints[item.name]
            if hint is bool:
                kwargs[item.name] = bool_coerce(item.name, raw)
            elif hint is int or hint == int | None:
                kwargs[item.name] = int_coerce(item.name, raw)
            else:
                kwargs[item.name] = str(raw)
        return cls(**kwargs)  # type: ignore[arg-type]  # keys are field names, values coerced above

    @property
    def inPlace(self) -> bool:
        """The output tree is the input tree."""
        return self.outputDir == IN_PLACE

    @property
    def dateShift(self) -> tuple[int, int]:
        """``--dateShiftRange`` as (MIN, MAX) days."""
        return dateShiftRange_parse(self.dateShiftRange)
