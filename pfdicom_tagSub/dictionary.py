"""Pure wrappers of pydicom's data dictionary: the one place this project looks a tag up.

Keywords, tags, VRs and VMs, typo suggestions, and the standard UIDs, each answered once per
process and cached, since a tree asks the same questions of every file.

Key components:
    - keyword_of, tag_of: keyword <-> tag ('' / None when there is none)
    - keyword_vr, tag_vr, tag_vm: the dictionary's VR and VM
    - keyword_isKnown, keyword_isRepeating, keyword_suggest: checking a rule's words
    - vr_isText: whether a VR has a text form a template can read or write
    - tag_isSequence: whether the dictionary says SQ
    - keywords_withVR: every keyword of one VR
    - private_creatorTag: the creator element that reserves a private element's block
    - uid_isStandard: whether a UID is one the standard defines (SOP class, transfer syntax, ...)

Typical usage:
    keyword_of(0x00100010)      # 'PatientName'
    keyword_suggest("PatientsName")  # '; did you mean PatientName?'

Dependencies:
    - pydicom.datadict, pydicom.uid
"""

from __future__ import annotations

import difflib
from functools import cache

from pydicom.datadict import (
    dictionary_VM,
    dictionary_VR,
    keyword_dict,
    keyword_for_tag,
    repeater_has_keyword,
    tag_for_keyword,
)
from pydicom.uid import UID_dictionary

SUGGESTIONS_MAX: int = 3
SUGGESTION_CUTOFF: float = 0.7
SUGGESTION_TIE: float = 0.05
NOT_TEXT_VRS: frozenset[str] = frozenset({"SQ", "OB", "OD", "OF", "OL", "OV", "OW", "UN"})
FILE_META_GROUP: int = 0x0002


@cache
def keyword_of(tag: int) -> str:
    """The keyword of a tag, '' for private and unknown tags.

    Example:
        >>> keyword_of(0x00100010), keyword_of(0x00091001)
        ('PatientName', '')
    """
    return str(keyword_for_tag(tag))


@cache
def tag_of(keyword: str) -> int | None:
    """The tag of a keyword, None for words that name no single tag.

    Example:
        >>> hex(tag_of("PatientID"))
        '0x100020'
    """
    return tag_for_keyword(keyword)


def keyword_isKnown(word: str) -> bool:
    """Whether ``word`` is a keyword of the DICOM data dictionary."""
    return bool(word) and word in keyword_dict


def keyword_isRepeating(word: str) -> bool:
    """Whether ``word`` is a repeating-group keyword (``OverlayData``: groups 6000-601E), no single tag."""
    return bool(repeater_has_keyword(word))


def keyword_isFileMeta(word: str) -> bool:
    """Whether a keyword names an element of the file meta group (0002).

    Example:
        >>> keyword_isFileMeta("MediaStorageSOPInstanceUID"), keyword_isFileMeta("SOPInstanceUID")
        (True, False)
    """
    tag: int | None = tag_of(word)
    return tag is not None and tag >> 16 == FILE_META_GROUP


@cache
def tag_vr(tag: int) -> str:
    """The dictionary VR of a tag (``PN``, ``SQ``, ``OB or OW``); '' when the dictionary lacks it."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return ""


@cache
def tag_vm(tag: int) -> str:
    """The dictionary VM of a tag (``1``, ``1-n``, ``2-2n``); '' when the dictionary lacks it."""
    try:
        return str(dictionary_VM(tag))
    except KeyError:
        return ""


def keyword_vr(keyword: str) -> str:
    """The dictionary VR of a keyword; '' for a word that names no single tag.

    Example:
        >>> keyword_vr("PatientName"), keyword_vr("PixelData")
        ('PN', 'OB or OW')
    """
    tag: int | None = tag_of(keyword)
    return "" if tag is None else tag_vr(tag)


def vr_isText(vr: str) -> bool:
    """Whether an element of this (dictionary) VR has a text form a template can use or replace."""
    return not any(part in NOT_TEXT_VRS for part in vr.split(" or "))


@cache
def tag_isSequence(tag: int) -> bool:
    """Whether the data dictionary gives a tag the SQ VR."""
    return bool(keyword_of(tag)) and tag_vr(tag) == "SQ"


@cache
def keywords_withVR(vr: str) -> tuple[str, ...]:
    """Every keyword of the dictionary whose VR is ``vr`` (or one of its ``or`` choices).

    Example:
        >>> "StudyInstanceUID" in keywords_withVR("UI"), "PatientID" in keywords_withVR("UI")
        (True, False)
    """
    return tuple(keyword for keyword, tag in keyword_dict.items() if vr in tag_vr(tag).split(" or "))


def private_creatorTag(tag: int) -> int | None:
    """The tag of the private creator element that reserves a private element's block, or None.

    Example:
        >>> hex(private_creatorTag(0x00091001)), private_creatorTag(0x00090010)
        ('0x90010', None)
    """
    block: int = (tag & 0xFF00) >> 8
    if (tag >> 16) % 2 == 0 or block < 0x10:
        return None
    return (tag & 0xFFFF0000) | block


def uid_isStandard(uid: str) -> bool:
    """Whether a UID is defined by the standard: an SOP class, a transfer syntax, a coding scheme, ...
    (pydicom's UID dictionary). Such a UID identifies no one and is never remapped.

    Example:
        >>> uid_isStandard("1.2.840.10008.5.1.4.1.1.2"), uid_isStandard("1.2.826.0.1.3680043.2.1")
        (True, False)
    """
    return uid in UID_dictionary


def keyword_suggest(word: str) -> str:
    """Up to three close keywords, as a phrase for an error message ('' when none is close).

    Example:
        >>> keyword_suggest("PatientsName")
        '; did you mean PatientName?'
    """
    close: list[str] = difflib.get_close_matches(word, keyword_dict, SUGGESTIONS_MAX, SUGGESTION_CUTOFF)
    if not close:
        return ""
    scores: list[float] = [difflib.SequenceMatcher(None, word, keyword).ratio() for keyword in close]
    # name the runners-up only when they are about as close as the best: one clear answer reads better
    tied: list[str] = [
        keyword for keyword, score in zip(close, scores, strict=True) if score >= scores[0] - SUGGESTION_TIE
    ]
    return "; did you mean " + " or ".join(tied) + "?"
