"""sources.py: the rule sources and the profile are loaded once, and a run must be given one of them."""

from __future__ import annotations

import pytest

from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.models import TagSubOptions
from pfdicom_tagSub.sources import profile_load, rules_required


def test_no_profile_loads_none_and_a_blank_one_is_none_too() -> None:
    assert profile_load(TagSubOptions(), userRules=False, version="9.9.9") is None
    assert profile_load(TagSubOptions(profile="  "), userRules=False, version="9.9.9") is None


def test_a_profile_loads_with_its_options_and_says_whether_rules_come_with_it() -> None:
    profile = profile_load(TagSubOptions(profile=" basic,retainUIDs "), userRules=True, version="9.9.9")
    assert profile is not None and (profile.text, profile.options) == ("basic,retainUIDs", ("retainUIDs",))
    method = next(stamp.text for stamp in profile.stamps if stamp.keyword == "DeidentificationMethod")
    assert method.split("\\") == [
        "pfdicom_tagSub 9.9.9: PS3.15 E.1-1 Basic",
        "retainUIDs",
        "with user rules (-T/-F/-n)",
    ]


def test_a_profile_that_would_stop_at_the_top_level_is_refused() -> None:
    with pytest.raises(UsageError, match="every depth"):
        profile_load(TagSubOptions(profile="basic", topLevelOnly=True), userRules=False, version="9.9.9")


@pytest.mark.parametrize(
    "options",
    [TagSubOptions(profile="basic"), TagSubOptions(removePrivateTags=True)],
    ids=["profile", "removePrivateTags"],
)
def test_a_profile_or_private_removal_alone_is_something_to_de_identify(options: TagSubOptions) -> None:
    rules_required(options, {})


def test_a_blank_profile_alone_is_nothing_to_de_identify() -> None:
    with pytest.raises(UsageError, match="nothing to de-identify"):
        rules_required(TagSubOptions(profile=" "), {})
