"""The value functions: md5, strmsk, nospc, name, the keyed hash, uid and dateshift, and the dummies."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from pfdicom_tagSub.functions import (
    FUNCTIONS,
    Call,
    Context,
    dateshift_apply,
    dummy_make,
    hash_apply,
    md5_apply,
    name_apply,
    name_fake,
    nospc_apply,
    strmsk_apply,
    uid_apply,
)
from pfdicom_tagSub.keys import Key


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


# the keyed functions, their values computed here with the standard library from a known key
KEY: bytes = b"test key: 0123456789abcdef"


def hmac_of(message: bytes, key: bytes = KEY) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def keyed(argument: str = "", seed: str | None = None, vr: str = "", shiftRange=(-1095, -1)) -> Call:
    return Call(argument, seed, vr, Context(Key(KEY), shiftRange))


@pytest.mark.parametrize(
    ("value", "count"),
    [("1CT1", "16"), ("MRN000123", "8"), ("", "12"), ("Zoë", "64"), ("1CT1", "")],
)
def test_hash_is_the_first_n_hex_characters_of_hmac_sha256_of_the_utf8_value(value: str, count: str) -> None:
    expected: str = hmac_of(value.encode("utf-8")).hex()
    assert hash_apply(value, keyed(count)) == (expected[: int(count)] if count else expected)


def test_hash_of_a_seven_digit_mrn_differs_with_the_key_and_is_not_its_md5() -> None:
    assert hash_apply("1234567", keyed("16")) != hashlib.md5(b"1234567").hexdigest()[:16]
    other: Call = Call("16", context=Context(Key(b"another key, 16+ bytes")))
    assert hash_apply("1234567", keyed("16")) != hash_apply("1234567", other)


def uid_expected(value: str, root: str = "2.25.") -> str:
    """The SPEC's UID: the root, then 10**(d-1) + H mod 9*10**(d-1), d = 64 - len(root)."""
    digits: int = 64 - len(root)
    number: int = int.from_bytes(hmac_of(value.encode()), "big")
    return root + str(10 ** (digits - 1) + number % (9 * 10 ** (digits - 1)))


@pytest.mark.parametrize("root", ["", "2.25.", "1.2.826.0.1.3680043.10.1234."])
def test_uid_is_the_root_then_one_keyed_decimal_component_filling_64_characters(root: str) -> None:
    value: str = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    uid: str = uid_apply(value, keyed(root))
    assert uid == uid_expected(value, root or "2.25.")
    assert len(uid) == 64 and re.fullmatch(r"[0-9.]+", uid)
    assert all(part == "0" or not part.startswith("0") for part in uid.split("."))


def test_uid_keeps_standard_uids_and_maps_each_value_of_a_multi_valued_element() -> None:
    sopClass: str = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    assert uid_apply(sopClass, keyed()) == sopClass
    assert uid_apply(f"1.2.3\\{sopClass}\\1.2.4", keyed()) == "\\".join(
        [uid_expected("1.2.3"), sopClass, uid_expected("1.2.4")]
    )


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20040229", 365, "20050228"),  # from a leap day
        ("20040301", -1, "20040229"),  # onto a leap day
        ("20050301", -1, "20050228"),
        ("19000228", 1, "19000301"),  # 1900 is no leap year
        ("20000228", 1, "20000229"),  # 2000 is one
        ("20041231", 1, "20050101"),  # year end
        ("20050101", -1, "20041231"),
        ("20240131", 30, "20240301"),  # month ends
        ("20040119", -1095, "20010119"),
        ("2004", -1, "2003"),  # partial: its first day, written at its own precision
        ("2004", 400, "2005"),
        ("200403", -1, "200402"),
        ("", -5, ""),
    ],
)
def test_dateshift_moves_a_date_by_whole_days(value: str, days: int, expected: str) -> None:
    assert dateshift_apply(value, keyed(str(days), vr="DA")) == expected


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20041231235959.123456+0100", 1, "20050101235959.123456+0100"),
        ("20040229120000", -365, "20030301120000"),
        ("200402291200-0500", 1, "200403011200-0500"),
        ("2004-0500", 1, "2004-0500"),
        ("20040119", -1, "20040118"),
    ],
)
def test_dateshift_of_a_datetime_keeps_its_time_and_utc_offset(value: str, days: int, expected: str) -> None:
    assert dateshift_apply(value, keyed(str(days), vr="DT")) == expected


def test_dateshift_moves_each_value_of_a_multi_valued_element() -> None:
    assert dateshift_apply("20040119\\20040301", keyed("-1", vr="DA")) == "20040118\\20040229"


@pytest.mark.parametrize("shiftRange", [(-1095, -1), (-30, -10), (5, 5)])
def test_dateshift_seeded_by_a_keyword_moves_by_the_keyed_offset_within_the_range(shiftRange) -> None:
    low, high = shiftRange
    for patientID in ("MRN000123", "MRN000456", "1CT1", ""):
        number: int = int.from_bytes(hmac_of(b"dateshift\0" + patientID.encode()), "big")
        offset: int = low + number % (high - low + 1)
        moved = dateshift_apply("20040119", keyed("PatientID", patientID, "DA", shiftRange))
        assert moved == (datetime.date(2004, 1, 19) + datetime.timedelta(offset)).strftime("%Y%m%d")
        assert low <= offset <= high


@pytest.mark.parametrize(
    ("value", "vr", "why"),
    [
        ("2004-01-19", "DA", "not a date"),
        ("20041301", "DA", "not a valid date"),
        ("00010101", "DA", "outside the years 1 to 9999"),
        ("T20040119", "DT", "not a date"),
    ],
)
def test_dateshift_refuses_what_is_no_date_without_quoting_it(value: str, vr: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        dateshift_apply(value, keyed("-1", vr=vr))
    assert value not in str(caught.value)


def test_keyed_functions_refuse_to_run_without_a_key() -> None:
    with pytest.raises(ValueError, match="no secret key"):
        hash_apply("1CT1", Call("8"))


# the README's table of dummies, one row per VR
README_DUMMIES: dict[str, str] = {
    "AE": "ANONYMIZED", "AS": "000D", "CS": "ANONYMIZED", "DA": "19000101", "DS": "0",
    "DT": "19000101000000", "FD": "0", "FL": "0", "IS": "0", "LO": "ANONYMIZED", "LT": "ANONYMIZED",
    "PN": "ANONYMIZED", "SH": "ANONYMIZED", "SL": "0", "SS": "0", "ST": "ANONYMIZED", "SV": "0",
    "TM": "000000", "UC": "ANONYMIZED", "UL": "0", "UR": "ANONYMIZED", "US": "0", "UT": "ANONYMIZED",
    "UV": "0",
}  # fmt: skip


@pytest.mark.parametrize(("vr", "dummy"), sorted(README_DUMMIES.items()))
def test_dummy_is_the_readme_value_of_the_vr(vr: str, dummy: str) -> None:
    assert dummy_make(vr, "1", "anything", Context()) == dummy


def test_dummy_gives_as_many_values_as_the_element_had_and_its_vm_asks() -> None:
    assert (
        dummy_make("CS", "1-n", "ORIGINAL\\PRIMARY\\AXIAL", Context()) == "ANONYMIZED\\ANONYMIZED\\ANONYMIZED"
    )
    assert dummy_make("DS", "3", "", Context()) == "0\\0\\0"
    assert dummy_make("DS", "2-2n", "1\\2\\3", Context()) == "0\\0"
    assert dummy_make("SH", "1", "a\\b", Context()) == "ANONYMIZED"  # a file with too many values
    assert dummy_make("LT", "1", "a\\b", Context()) == "ANONYMIZED"


def test_dummy_of_a_uid_is_its_keyed_remapping() -> None:
    assert dummy_make("UI", "1", "1.2.3", Context(Key(KEY))) == uid_expected("1.2.3")


@pytest.mark.parametrize("vr", ["SQ", "OB", "OW", "UN", "AT"])
def test_dummy_is_refused_where_the_vr_has_none(vr: str) -> None:
    with pytest.raises(ValueError, match=f"no dummy value for {vr}"):
        dummy_make(vr, "1", None, Context())
