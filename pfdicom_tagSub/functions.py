"""The value functions of the rule language (``md5``, ``strmsk``, ``nospc``, ``name``, and the keyed
``hash``, ``uid``, ``dateshift``) and the dummy values of ``%_dummy``.

Each function takes the text of an element and a ``Call`` (the argument written after ``|``, the
text of the seed element when the argument names one, the VR of the element read, and the run's
``Context``: the secret key and the date-shift range) and returns text. They are pure: the same
input gives the same output in every run, process, thread and machine. ``name`` draws from
Faker, with a freshly seeded generator per seed, never Faker's shared state. The keyed functions
use HMAC-SHA256 under the run's key, so that nobody without the key can recompute a pseudonym.

What a function's argument means, which VRs it reads, where its seed is read and whether it needs
the key are said here, in its ``FunctionSpec``, and nowhere else: the template parser checks
arguments by their kind, and the evaluator resolves seeds for any function whose spec says so.
A function that cannot take a value raises ValueError with a message that holds no value.

Key components:
    - Context, Call: what every call of a run shares, and what one call is given besides the value
    - FunctionSpec: a function's name, what its argument is, and the callable
    - FUNCTIONS: the registry the template parser checks names against
    - md5_apply, strmsk_apply, nospc_apply: the text functions
    - name_fake: the seeded fake person name ``LAST^FIRST^ANON``
    - hash_apply, uid_remap, dateshift_apply: the keyed functions
    - dummy_make: the ``%_dummy`` value of a VR

Typical usage:
    FUNCTIONS["md5"].apply("1CT1", Call("7"))  # '6609f5d'

Dependencies:
    - Faker, imported on the first ``name`` call only (it is slow to import)
    - pfdicom_tagSub.keys (the key), dictionary (the standard UIDs), values (VMs)
"""

from __future__ import annotations

import datetime
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pfdicom_tagSub.dictionary import uid_isStandard
from pfdicom_tagSub.keys import Key
from pfdicom_tagSub.values import vm_allows, vm_minimum

ArgumentKind = Literal["count", "mask", "joiner", "seed", "root", "shift"]
SeedScope = Literal["chain", "root"]

FAKER_LOCALE: str = "en_US"
PERSON_PROVIDER: str = "faker.providers.person"
NAME_SUFFIX: str = "ANON"
NAME_CACHE_SIZE: int = 65536
NON_WORD = re.compile(r"\W+")
DAYS = re.compile(r"[+-]?[0-9]+")
UID_ROOT: str = "2.25."
UID_LENGTH_MAX: int = 64
UID_DIGITS_MIN: int = 20
DATE_DA = re.compile(r"([0-9]{4})([0-9]{2})?([0-9]{2})?")
DATE_DT = re.compile(r"([0-9]{4})([0-9]{2})?([0-9]{2})?(.*)", re.DOTALL)
DATESHIFT_DOMAIN: bytes = b"dateshift\0"
DUMMY_TEXT: str = "ANONYMIZED"
DUMMY_TEXT_VRS: dict[str, int] = {
    "AE": 16, "CS": 16, "LO": 64, "LT": 10240, "PN": 64, "SH": 16, "ST": 1024, "UC": 64, "UR": 64, "UT": 64
}  # fmt: skip
DUMMY_FIXED: dict[str, str] = {
    "AS": "000D", "DA": "19000101", "DT": "19000101000000", "TM": "000000", "DS": "0", "IS": "0",
    "US": "0", "SS": "0", "UL": "0", "SL": "0", "UV": "0", "SV": "0", "FL": "0", "FD": "0",
}  # fmt: skip
SINGLE_VALUE_VRS: frozenset[str] = frozenset({"LT", "ST", "UT", "UR"})


@dataclass(frozen=True)
class Context:
    """What every function call of a run shares.

    Attributes:
        key: the secret key; None when no rule of the run needs one.
        dateShiftRange: the days a seeded ``dateshift`` may move a date by, inclusive.
    """

    key: Key | None = None
    dateShiftRange: tuple[int, int] = (-1095, -1)

    def keyRequire(self) -> Key:
        """The key, which a keyed function cannot run without.

        Raises:
            ValueError: the run loaded no key.
        """
        if self.key is None:
            raise ValueError("no secret key was loaded for this run")
        return self.key


@dataclass(frozen=True)
class Call:
    """What a function is given besides the value.

    Attributes:
        argument: the text after ``|``, as checked by the parser ('' when none).
        seed: the text of the seed element, for a function whose argument is a seed keyword;
            None when there is no seed keyword or the file lacks that element.
        vr: the VR of the element read ('' when unknown).
        context: the run's key and settings.
    """

    argument: str = ""
    seed: str | None = None
    vr: str = ""
    context: Context = field(default_factory=Context)


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the rule language.

    Attributes:
        name: how rules spell it, ``%_<name>|arg_Keyword``.
        argument: what the argument is: a character count, a mask, a joiner, a seed keyword.
        argumentRequired: the function cannot run without its argument.
        apply: ``(value, call) -> text``.
        preload: loads what the function needs once per process (a parent calls it before
            forking workers, so that they share it); None when it needs nothing.
        keyed: it computes with the secret key (``shift``: only when seeded by a keyword).
        sourceVRs: the VRs of the elements it can read; empty for any.
        seedScope: where the seed keyword is read: the data set chain of the element
            (innermost first), or the top-level data set alone (the file's patient).
    """

    name: str
    argument: ArgumentKind
    argumentRequired: bool
    apply: Callable[[str, Call], str]
    preload: Callable[[], object] | None = None
    keyed: bool = False
    sourceVRs: frozenset[str] = frozenset()
    seedScope: SeedScope = "chain"

    def seedKeyword(self, argument: str) -> str:
        """The keyword whose text seeds this call ('' when the argument names none)."""
        if self.argument == "seed" or (self.argument == "shift" and not DAYS.fullmatch(argument)):
            return argument
        return ""

    def keyNeeded(self, argument: str) -> bool:
        """Whether a call with this argument computes with the secret key."""
        return self.keyed and (self.argument != "shift" or bool(self.seedKeyword(argument)))


def md5_apply(value: str, call: Call) -> str:
    """The first N hex characters of md5(value as UTF-8), N the argument; all 32 without one.

    Example:
        >>> md5_apply("1CT1", Call("7"))
        '6609f5d'
    """
    digest: str = hashlib.md5(value.encode("utf-8")).hexdigest()
    return digest[: int(call.argument)] if call.argument else digest


def strmsk_apply(value: str, call: Call) -> str:
    """Mask a value character by character: ``*`` keeps, any other character of the mask replaces.

    The result is as long as the shorter of value and mask.

    Example:
        >>> strmsk_apply("19800315", Call("******01"))
        '19800301'
    """
    return "".join(
        kept if masked == "*" else masked for kept, masked in zip(value, call.argument, strict=False)
    )


def nospc_apply(value: str, call: Call) -> str:
    """Collapse runs of non-word characters to single spaces, then join the words with the argument.

    Example:
        >>> nospc_apply("T1 axial  (3D) fast", Call("-"))
        'T1-axial-3D-fast'
    """
    return call.argument.join(NON_WORD.sub(" ", value).split())


_local: threading.local = threading.local()


def faker_get() -> Any:
    """This thread's Faker, built once; each name reseeds it, so no state carries over.

    Only the person provider is loaded: ``name()`` draws from it alone, so the names are those
    of a full ``Faker(locale)``; building the two dozen others cost each process about 25 ms.
    """
    fake: Any = getattr(_local, "fake", None)
    if fake is None:
        from faker import Faker

        fake = Faker(FAKER_LOCALE, providers=[PERSON_PROVIDER])
        _local.fake = fake
        _local.titles = titles_collect(fake)
    return fake


def titles_collect(fake: Any) -> frozenset[str]:
    """Every prefix and suffix the locale's person provider may put around a name."""
    titles: set[str] = set()
    for provider in fake.providers:
        if "person" not in type(provider).__module__:
            continue
        for attribute in dir(provider):
            if attribute.startswith(("prefixes_", "suffixes_")):
                titles.update(getattr(provider, attribute))
    return frozenset(titles)


@lru_cache(maxsize=NAME_CACHE_SIZE)
def name_fake(seedText: str) -> str:
    """A fake person name, ``LAST^FIRST^ANON``, fixed by the seed text.

    The seed is ``int.from_bytes(seedText as UTF-8, "little")``, given to a freshly seeded
    Faker whose ``name()`` is taken; titles and suffixes (``Dr.``, ``MD``, ...) are dropped.

    Example:
        >>> name_fake("1CT1")
        'BROWN^STACY^ANON'
    """
    fake: Any = faker_get()
    fake.seed_instance(int.from_bytes(seedText.encode("utf-8"), "little"))
    words: list[str] = [word for word in fake.name().split() if word not in _local.titles]
    return f"{words[-1].upper()}^{words[0].upper()}^{NAME_SUFFIX}"


def name_apply(value: str, call: Call) -> str:
    """The ``name`` function: seeded by the seed element's text, else by the element's own value.

    Example:
        >>> name_apply("CompressedSamples^CT1", Call("PatientID", seed="1CT1"))
        'BROWN^STACY^ANON'
    """
    return name_fake(value if call.seed is None else call.seed)


def hash_apply(value: str, call: Call) -> str:
    """The first N hex characters of HMAC-SHA256(key, value as UTF-8), N the argument; all 64 without.

    Example:
        >>> hash_apply("1CT1", Call("16", context=Context(Key(b"0123456789abcdef"))))
        'f5ddb316c77ac213'
    """
    digest: str = call.context.keyRequire().hmac(value.encode("utf-8")).hex()
    return digest[: int(call.argument)] if call.argument else digest


def uidRoot_check(root: str) -> str:
    """Why a ``%_uid`` root is not usable ('' when it is): it must be a UID prefix ending with a dot
    that leaves room for a hash of at least 20 digits.

    Example:
        >>> uidRoot_check("2.25."), uidRoot_check("1.2.03."), uidRoot_check("2.25")
        ('', 'component 03 has a leading zero', 'must end with a dot')
    """
    if not root.endswith("."):
        return "must end with a dot"
    for component in root[:-1].split("."):
        if not component.isdigit() or not component.isascii():
            return "must be digits and dots, without empty components"
        if len(component) > 1 and component.startswith("0"):
            return f"component {component} has a leading zero"
    if len(root) > UID_LENGTH_MAX - UID_DIGITS_MIN:
        return f"is {len(root)} characters: at most {UID_LENGTH_MAX - UID_DIGITS_MIN} leave the hash room"
    return ""


def uid_remap(value: str, root: str, key: Key) -> str:
    """One UID's keyed replacement: the root, then one component filling the UID to 64 characters.

    The component is ``10**(d-1) + H mod (9 * 10**(d-1))``, with d = 64 - len(root) digits and H
    the HMAC-SHA256 of the value as a big-endian integer: d digits, never a leading zero. A UID
    of the standard's dictionary (an SOP class, a transfer syntax) and an empty value are kept.

    Example:
        >>> uid = uid_remap("1.2.3.4", "2.25.", Key(b"0123456789abcdef"))
        >>> len(uid), uid.startswith("2.25.") and uid[5] != "0"
        (64, True)
        >>> uid_remap("1.2.840.10008.5.1.4.1.1.2", "2.25.", Key(b"0123456789abcdef"))
        '1.2.840.10008.5.1.4.1.1.2'
    """
    if not value or uid_isStandard(value):
        return value
    digits: int = UID_LENGTH_MAX - len(root)
    lowest: int = 10 ** (digits - 1)
    number: int = int.from_bytes(key.hmac(value.encode("utf-8")), "big")
    return root + str(lowest + number % (9 * lowest))


def uid_apply(value: str, call: Call) -> str:
    """The ``uid`` function: each value of a (multi-valued) UI element remapped by ``uid_remap``."""
    key: Key = call.context.keyRequire()
    root: str = call.argument or UID_ROOT
    return "\\".join(uid_remap(part, root, key) for part in value.split("\\"))


def dateshift_days(call: Call) -> int:
    """The days a ``dateshift`` call moves by: its integer argument, or the offset of its seed.

    A seed gives ``MIN + H mod (MAX - MIN + 1)``, H the big-endian HMAC-SHA256 of the seed's text
    behind a label of its own (so that no other keyed value of the same text reveals it); an
    absent seed element counts as an empty value.
    """
    if DAYS.fullmatch(call.argument):
        return int(call.argument)
    low, high = call.context.dateShiftRange
    digest: bytes = call.context.keyRequire().hmac(DATESHIFT_DOMAIN + (call.seed or "").encode("utf-8"))
    return low + int.from_bytes(digest, "big") % (high - low + 1)


def date_move(text: str, days: int, vr: str) -> str:
    """One DA or DT value moved by whole days; a partial date (``2004``, ``200401``) moves as its
    first day and is written at its own precision; a DT keeps its time and UTC offset.

    Example:
        >>> date_move("20040229", 365, "DA"), date_move("200401", -1, "DA")
        ('20050228', '200312')
        >>> date_move("20041231235959.5+0100", 1, "DT")
        '20050101235959.5+0100'
    """
    if not text:
        return text
    match: re.Match[str] | None = (DATE_DA if vr == "DA" else DATE_DT).fullmatch(text)
    if match is None:
        raise ValueError(f"a {vr} value is not a date (YYYYMMDD)")
    year, month, day = match.group(1), match.group(2) or "", match.group(3) or ""
    try:
        moved: datetime.date = datetime.date(int(year), int(month or 1), int(day or 1))
        moved += datetime.timedelta(days=days)
    except ValueError:
        raise ValueError(f"a {vr} value is not a valid date") from None
    except OverflowError:
        raise ValueError("the moved date falls outside the years 1 to 9999") from None
    written: str = f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"[: len(year + month + day)]
    return written + (match.group(4) if vr == "DT" else "")


def dateshift_apply(value: str, call: Call) -> str:
    r"""The ``dateshift`` function: each value of a DA or DT element moved by the call's days.

    Example:
        >>> dateshift_apply("20040119\\20040301", Call("-1", vr="DA"))
        '20040118\\20040229'
    """
    days: int = dateshift_days(call)
    return "\\".join(date_move(part, days, call.vr) for part in value.split("\\"))


def dummy_make(vr: str, vm: str, old: str | None, context: Context) -> str:
    r"""The ``%_dummy`` value of an element: the same for every file, valid for its VR.

    Text VRs get ``ANONYMIZED`` cut to the VR's length; dates, times, ages and numbers a fixed
    value; a UI is remapped as ``%_uid`` does (so that references stay whole). As many values as
    the element had, and as many as its dictionary VM (``vm``, '' when unknown) asks at least.

    Raises:
        ValueError: the VR has no dummy (a sequence, binary data, an attribute tag).

    Example:
        >>> dummy_make("CS", "1-n", "ORIGINAL\\PRIMARY", Context()), dummy_make("DS", "3", "", Context())
        ('ANONYMIZED\\ANONYMIZED', '0\\0\\0')
    """
    if vr == "UI":
        return uid_apply(old or "", Call(vr=vr, context=context))
    single: str | None = DUMMY_FIXED.get(vr)
    if single is None and vr in DUMMY_TEXT_VRS:
        single = DUMMY_TEXT[: DUMMY_TEXT_VRS[vr]]
    if single is None:
        raise ValueError(f"there is no dummy value for {vr}")
    count: int = max(len(old.split("\\")) if old else 0, vm_minimum(vm))
    if vr in SINGLE_VALUE_VRS or not vm_allows(vm, count):
        count = vm_minimum(vm) if vr not in SINGLE_VALUE_VRS else 1
    return "\\".join([single] * count)


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("md5", "count", False, md5_apply),
        FunctionSpec("strmsk", "mask", True, strmsk_apply),
        FunctionSpec("nospc", "joiner", False, nospc_apply),
        FunctionSpec("name", "seed", False, name_apply, preload=faker_get),
        FunctionSpec("hash", "count", False, hash_apply, keyed=True),
        FunctionSpec("uid", "root", False, uid_apply, keyed=True, sourceVRs=frozenset({"UI"})),
        FunctionSpec(
            "dateshift",
            "shift",
            True,
            dateshift_apply,
            keyed=True,
            sourceVRs=frozenset({"DA", "DT"}),
            seedScope="root",
        ),
    )
}
