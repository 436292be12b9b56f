"""Worker processes and the lean paths taken for speed give what one plain process gives."""

from __future__ import annotations

from faker import Faker
from faker.providers.person.en_US import Provider as PersonProvider

from pfdicom_tagSub.functions import name_fake


def test_names_are_those_of_a_full_faker_for_a_thousand_seeds() -> None:
    full = Faker("en_US")
    # the titles and suffixes en_US names may carry, read from Faker's own provider
    titles: set[str] = {
        title
        for attribute in dir(PersonProvider)
        if attribute.startswith(("prefixes_", "suffixes_"))
        for title in getattr(PersonProvider, attribute)
    }
    for number in range(1000):
        seed: str = f"{number * 7919:x}"
        full.seed_instance(int.from_bytes(seed.encode("utf-8"), "little"))
        words: list[str] = [word for word in full.name().split() if word not in titles]
        assert name_fake(seed) == f"{words[-1].upper()}^{words[0].upper()}^ANON", seed
