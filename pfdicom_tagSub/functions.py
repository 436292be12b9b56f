"""The value functions of the rule language: ``md5``, ``strmsk``, ``nospc``, ``name``.

Each function takes the text of an element and a ``Call`` (the argument written after ``|``, and
the text of the seed element when the argument names one) and returns text. They are pure: the
same input gives the same output in every run, process and thread. ``name`` draws from Faker,
with a freshly seeded generator per seed, never Faker's shared state.

What a function's argument means is said here, in its ``FunctionSpec``, and nowhere else: the
template parser checks arguments by their kind, and the evaluator resolves a seed keyword for
any function whose spec says its argument is one.

Key components:
    - Call: what a function is given besides the value
    - FunctionSpec: a function's name, what its argument is, and the callable
    - FUNCTIONS: the registry the template parser checks names against
    - md5_apply, strmsk_apply, nospc_apply: the text functions
    - name_fake: the seeded fake person name ``LAST^FIRST^ANON``

Typical usage:
    FUNCTIONS["md5"].apply("1CT1", Call("7"))  # '6609f5d'

Dependencies:
    - Faker, imported on the first ``name`` call only (it is slow to import)
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

ArgumentKind = Literal["count", "mask", "joiner", "seed"]

FAKER_LOCALE: str = "en_US"
PERSON_PROVIDER: str = "faker.providers.person"
NAME_SUFFIX: str = "ANON"
NAME_CACHE_SIZE: int = 65536
NON_WORD = re.compile(r"\W+")


@dataclass(frozen=True)
class Call:
    """What a function is given besides the value.

    Attributes:
        argument: the text after ``|``, as checked by the parser ('' when none).
        seed: the text of the seed element, for a function whose argument is a seed keyword;
            None when there is no seed keyword or the file lacks that element.
    """

    argument: str = ""
    seed: str | None = None


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
    """

    name: str
    argument: ArgumentKind
    argumentRequired: bool
    apply: Callable[[str, Call], str]
    preload: Callable[[], object] | None = None

    def seedKeyword(self, argument: str) -> str:
        """The keyword whose text seeds this call ('' when the argument names none)."""
        return argument if self.argument == "seed" else ""


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


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("md5", "count", False, md5_apply),
        FunctionSpec("strmsk", "mask", True, strmsk_apply),
        FunctionSpec("nospc", "joiner", False, nospc_apply),
        FunctionSpec("name", "seed", False, name_apply, preload=faker_get),
    )
}
