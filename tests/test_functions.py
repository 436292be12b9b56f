"""The value functions: md5, strmsk, nospc, name."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from pfdicom_tagSub.functions import (
    FUNCTIONS,
    Call,
    md5_apply,
    name_apply,
    name_fake,
    nospc_apply,
    strmsk_apply,
)


@pytest.mark.parametrize(
    ("value", "count", "expected"),
    [
        ("1CT1", "7", "6609f5d"),
        ("1CT1", "", "6609f5d815f5d6ea563b03921765e77c"),
        ("", "8", "d41d8cd9"),
        ("----", "4", "baea"),
        ("Zoë", "6", hashlib.md5("Zoë".encode()).hexdigest()[:6]),
    ],
)
def test_md5_keeps_first_n_hex_characters_of_the_utf8_digest(value: str, count: str, expected: str) -> None:
    assert md5_apply(value, Call(count)) == expected


@pytest.mark.parametrize(
    ("value", "mask", "expected"),
    [
        ("19800315", "******01", "19800301"),
        ("1CT1", "**", "1C"),
        ("20040119", "****0101", "20040101"),
        ("AB", "*x**", "Ax"),
        ("", "******01", ""),
    ],
)
def test_strmsk_keeps_stars_replaces_the_rest_and_stops_at_the_shorter(
    value: str, mask: str, expected: str
) -> None:
    assert strmsk_apply(value, Call(mask)) == expected


@pytest.mark.parametrize(
    ("value", "joiner", "expected"),
    [
        ("T1 axial  (3D) fast", "-", "T1-axial-3D-fast"),
        ("JFK IMAGING CENTER", "-", "JFK-IMAGING-CENTER"),
        ("a  b", "", "ab"),
        ("  (x)  ", "_", "x"),
        ("snake_case stays", "+", "snake_case+stays"),
    ],
)
def test_nospc_joins_words_separated_by_non_word_runs(value: str, joiner: str, expected: str) -> None:
    assert nospc_apply(value, Call(joiner)) == expected


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        ("1CT1", "BROWN^STACY^ANON"),
        ("4MR1", "ANDERSON^DARLENE^ANON"),
        ("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322", "PERKINS^WENDY^ANON"),
    ],
)
def test_name_gives_the_reference_names_for_the_reference_seeds(seed: str, expected: str) -> None:
    assert name_fake(seed) == expected


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        ("P10", "BERRY^ANNA^ANON"),  # Faker says "Dr. Anna Berry"
        ("P27", "KIRK^MARY^ANON"),  # "Mrs. Mary Kirk MD"
        ("P56", "BROOKS^WILLIAM^ANON"),  # "Mr. William Brooks DVM"
        ("P64", "MILLER^SARA^ANON"),  # "Sara Miller MD"
    ],
)
def test_name_drops_titles_and_suffixes(seed: str, expected: str) -> None:
    assert name_fake(seed) == expected


def test_name_is_the_same_for_the_same_seed_in_any_order_and_on_any_thread() -> None:
    seeds: list[str] = [f"P{index}" for index in range(200)]
    forward: list[str] = [name_fake.__wrapped__(seed) for seed in seeds]
    backward: list[str] = [name_fake.__wrapped__(seed) for seed in reversed(seeds)][::-1]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded: list[str] = list(pool.map(name_fake.__wrapped__, seeds))
    assert forward == backward == threaded
    assert len(set(forward)) > 150


@pytest.mark.parametrize(
    ("value", "seed", "expected"),
    [
        ("4MR1", "1CT1", "BROWN^STACY^ANON"),
        ("1CT1", None, "BROWN^STACY^ANON"),
        ("4MR1", None, "ANDERSON^DARLENE^ANON"),
    ],
)
def test_name_is_seeded_by_the_seed_element_else_by_the_value_itself(
    value: str, seed: str | None, expected: str
) -> None:
    assert name_apply(value, Call("PatientID", seed)) == expected


def test_registry_names_the_seven_functions_of_the_language() -> None:
    assert sorted(FUNCTIONS) == ["dateshift", "hash", "md5", "name", "nospc", "strmsk", "uid"]
    assert FUNCTIONS["strmsk"].argumentRequired
