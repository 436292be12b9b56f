"""De-identified values computed without the package: hashlib, and a Faker seeded as SPEC.md says.

The container and ChRIS tests check what the tool wrote against these, so a wrong value cannot pass
by agreeing with itself.
"""

from __future__ import annotations

import hashlib
import re

from faker import Faker

# what Faker's en_US person provider may put around a name: "Dr.", "Mrs.", "Jr.", "MD", "DDS", "III", ...
TITLE = re.compile(r"[A-Z][A-Za-z]*\.|MD|DDS|DVM|PhD|I{1,3}|IV|V")


def md5_expected(value: str, count: int) -> str:
    """The first ``count`` hex characters of md5(value as UTF-8)."""
    return hashlib.md5(value.encode("utf-8")).hexdigest()[:count]


def name_expected(seed: str) -> str:
    """``LAST^FIRST^ANON`` from a fresh Faker seeded with ``int.from_bytes(seed as UTF-8, 'little')``."""
    fake = Faker("en_US")
    fake.seed_instance(int.from_bytes(seed.encode("utf-8"), "little"))
    words = [word for word in fake.name().split() if not TITLE.fullmatch(word)]
    return f"{words[-1]}^{words[0]}^ANON".upper()
