"""Value templates: parse once per rule, evaluate against a file's original values.

The language, as users know it from the original tool:

    plain text          literal
    #tag                the keyword of the element being replaced
    %Keyword            that element's text; the longest keyword that matches wins
    %#tag               the text of the element being replaced
    %_fn|arg_Keyword    a function applied to that text (``%_fn_Keyword`` without argument)

A ``%`` that is not followed by a letter, ``_`` or ``#tag`` is literal. The actions ``%_remove``,
``%_keep`` and ``%_dummy`` are whole values by themselves (``rules``), not templates.

Key components:
    - template_parse: text to Template, with every keyword and function checked
    - keyword_longest: the longest DICOM keyword at a position
    - Scope: what an evaluation reads besides the lookup (key, top-level data set, VRs)
    - template_evaluate: Template plus a lookup to text, or the first absent keyword
    - template_needsKey: whether a template computes with the secret key

Typical usage:
    template = template_parse("%_md5|7_PatientID")
    template_evaluate(template, "PatientID", {"PatientID": "1CT1"}.get)  # '6609f5d'

Dependencies:
    - pfdicom_tagSub.dictionary, for the keywords
    - pfdicom_tagSub.functions, for the function registry
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from pfdicom_tagSub.dictionary import keyword_isKnown, keyword_suggest, keyword_vr
from pfdicom_tagSub.errors import RuleError
from pfdicom_tagSub.functions import FUNCTIONS, Call, Context, FunctionSpec, uidRoot_check
from pfdicom_tagSub.models import (
    CURRENT_ELEMENT,
    Piece,
    ReferencePiece,
    TagNamePiece,
    Template,
    TextPiece,
)

REFERENCE_MARK: str = "%"
FUNCTION_CALL = re.compile(r"_([A-Za-z][A-Za-z0-9]*)(?:\|([^_]*))?_")
WORD = re.compile(r"[A-Za-z0-9]+")
ACTION_NAMES: tuple[str, ...] = ("remove", "keep", "dummy")

Lookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Scope:
    """What evaluating a template reads besides its lookup.

    Attributes:
        context: the run's key and settings, given to every function.
        root: the top-level data set's lookup, for seeds a function reads there; None: the lookup.
        vrOf: a referenced keyword's VR (the element's own for the one being replaced).
    """

    context: Context = field(default_factory=Context)
    root: Lookup | None = None
    vrOf: Callable[[str], str] = keyword_vr


class Absent(str):
    """The result of a template whose referenced element is absent; its text is the keyword."""


def keyword_longest(text: str, start: int) -> str:
    """The longest DICOM keyword that ``text`` spells from ``start``, or ''.

    Example:
        >>> keyword_longest("%ManufacturerModelName-x", 1)
        'ManufacturerModelName'
    """
    word: re.Match[str] | None = WORD.match(text, start)
    if word is None:
        return ""
    letters: str = word.group()
    for end in range(len(letters), 0, -1):
        if keyword_isKnown(letters[:end]):
            return letters[:end]
    return ""


def seedKeyword_normalize(function: str, argument: str, source: str) -> str:
    """A seed keyword as written, or with its first letter raised (``patientID``, as the original took)."""
    if not argument or keyword_isKnown(argument):
        return argument
    raised: str = argument[:1].upper() + argument[1:]
    if keyword_isKnown(raised):
        return raised
    raise RuleError(
        f"{source!r}: {function} seed {argument!r} is not a DICOM keyword{keyword_suggest(raised)}"
    )


def argument_check(function: str, argument: str, source: str) -> str:
    """Check a function's argument; return it normalized.

    Raises:
        RuleError: a missing required argument, a non-numeric md5 count, an unknown seed keyword.
    """
    spec: FunctionSpec = FUNCTIONS[function]
    if spec.argumentRequired and not argument:
        raise RuleError(f"{source!r}: function {function!r} needs an argument, %_{function}|ARG_Keyword")
    if spec.argument == "count" and argument and not (argument.isascii() and argument.isdigit()):
        raise RuleError(f"{source!r}: {function} takes a number of characters, not {argument!r}")
    if spec.argument == "root" and argument and uidRoot_check(argument):
        raise RuleError(f"{source!r}: the {function} root {argument!r} {uidRoot_check(argument)}")
    if spec.seedKeyword(argument):
        return seedKeyword_normalize(function, argument, source)
    return argument


def reference_parse(text: str, start: int) -> tuple[ReferencePiece | None, int]:
    """Parse the reference whose ``%`` sits just before ``start``.

    Returns:
        The reference and the position after it; ``(None, start)`` when the ``%`` is literal.

    Raises:
        RuleError: a malformed function call, an unknown function, a word that is no keyword.
    """
    function: str = ""
    argument: str = ""
    position: int = start
    if text.startswith("_", position):
        call: re.Match[str] | None = FUNCTION_CALL.match(text, position)
        name: re.Match[str] | None = WORD.match(text, position + 1)
        function = call.group(1) if call is not None else (name.group() if name is not None else "")
        if function in ACTION_NAMES:
            raise RuleError(f'{text!r}: %_{function} is an action, the whole value by itself: "%_{function}"')
        if call is None:
            raise RuleError(
                f"{text!r}: malformed function call at {text[start - 1 :]!r}; expected %_fn|arg_Keyword"
            )
        argument = call.group(2) or ""
        if function not in FUNCTIONS:
            known: str = ", ".join(FUNCTIONS)
            raise RuleError(f"{text!r}: unknown function {function!r}; known functions: {known}")
        argument = argument_check(function, argument, text)
        position = call.end()
    elif not (text.startswith(CURRENT_ELEMENT, position) or text[position : position + 1].isalpha()):
        return None, start
    if text.startswith(CURRENT_ELEMENT, position):
        return ReferencePiece(CURRENT_ELEMENT, function, argument), position + len(CURRENT_ELEMENT)
    keyword: str = keyword_longest(text, position)
    if not keyword:
        word: re.Match[str] | None = WORD.match(text, position)
        spelled: str = word.group() if word else text[position:]
        raise RuleError(f"{text!r}: %{spelled} is not a DICOM keyword{keyword_suggest(spelled)}")
    return ReferencePiece(keyword, function, argument), position + len(keyword)


@lru_cache(maxsize=1024)
def template_parse(text: str) -> Template:
    """Parse a value template once.

    Raises:
        RuleError: for any reference that cannot be resolved (see ``reference_parse``).

    Example:
        >>> [type(p).__name__ for p in template_parse("x-%PatientID-#tag").pieces]
        ['TextPiece', 'ReferencePiece', 'TextPiece', 'TagNamePiece']
    """
    pieces: list[Piece] = []
    literal: list[str] = []
    position: int = 0

    def literal_flush() -> None:
        if literal:
            pieces.append(TextPiece("".join(literal)))
            literal.clear()

    while position < len(text):
        if text.startswith(CURRENT_ELEMENT, position):
            literal_flush()
            pieces.append(TagNamePiece())
            position += len(CURRENT_ELEMENT)
            continue
        if text[position] == REFERENCE_MARK:
            reference, after = reference_parse(text, position + 1)
            if reference is not None:
                literal_flush()
                pieces.append(reference)
                position = after
                continue
        literal.append(text[position])
        position += 1
    literal_flush()
    return Template(text, tuple(pieces))


def reference_evaluate(piece: ReferencePiece, current: str, lookup: Lookup, scope: Scope) -> str | Absent:
    """The text of one reference, or Absent naming the element that is missing.

    Raises:
        ValueError: the function cannot take this element or value (the message holds no value).
    """
    keyword: str = current if piece.keyword == CURRENT_ELEMENT else piece.keyword
    value: str | None = lookup(keyword)
    if value is None:
        return Absent(keyword)
    if not piece.function:
        return value
    spec: FunctionSpec = FUNCTIONS[piece.function]
    vr: str = scope.vrOf(keyword)
    if spec.sourceVRs and vr not in spec.sourceVRs:
        accepted: str = " or ".join(sorted(spec.sourceVRs))
        raise ValueError(f"%_{spec.name} reads {accepted} elements, and {keyword} is {vr or 'of unknown VR'}")
    seedKeyword: str = spec.seedKeyword(piece.argument)
    seedLookup: Lookup = scope.root if spec.seedScope == "root" and scope.root is not None else lookup
    seed: str | None = seedLookup(seedKeyword) if seedKeyword else None
    try:
        return spec.apply(value, Call(piece.argument, seed, vr, scope.context))
    except ValueError as err:
        raise ValueError(f"%_{spec.name} of {keyword}: {err}") from None


def template_evaluate(
    template: Template, current: str, lookup: Lookup, scope: Scope | None = None
) -> str | Absent:
    """Evaluate a template for the element ``current``.

    Args:
        template: the parsed template.
        current: the keyword of the element being replaced (what ``#tag`` means).
        lookup: keyword to the element's text in the file as read, None when absent.
        scope: the key, the top-level data set and the VRs; without one, no key and dictionary VRs.

    Returns:
        The text, or ``Absent(keyword)`` for the first referenced element the file lacks.

    Raises:
        ValueError: a function cannot take an element or its value (the message holds no value).

    Example:
        >>> template_evaluate(template_parse("%_strmsk|**_PatientID"), "PatientID", {"PatientID": "1CT1"}.get)
        '1C'
    """
    within: Scope = scope if scope is not None else Scope()
    parts: list[str] = []
    for piece in template.pieces:
        if isinstance(piece, TextPiece):
            parts.append(piece.text)
        elif isinstance(piece, TagNamePiece):
            parts.append(current)
        else:
            text: str | Absent = reference_evaluate(piece, current, lookup, within)
            if isinstance(text, Absent):
                return text
            parts.append(text)
    return "".join(parts)


def template_needsKey(template: Template) -> bool:
    """Whether evaluating a template computes with the secret key.

    Example:
        >>> template_needsKey(template_parse("%_hash|8_PatientID")), template_needsKey(template_parse("x"))
        (True, False)
    """
    return any(
        isinstance(piece, ReferencePiece)
        and bool(piece.function)
        and FUNCTIONS[piece.function].keyNeeded(piece.argument)
        for piece in template.pieces
    )
