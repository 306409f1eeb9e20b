"""PasswordPolicy's NIST SP 800-63B checks: common, own email, repetitive, Unicode, reasons.

Each refusal names its ``reason``; the LocalIdP applies the policy to registration,
password change and reset alike.
"""

from __future__ import annotations

import unicodedata

import pytest

from pywire_auth import (
    Argon2Hasher,
    LocalIdP,
    MemoryAuthStore,
    PasswordPolicy,
    WeakPasswordError,
)
from pywire_auth.local._tables import PINNED_UNICODE_VERSION, common_passwords, is_assigned
from pywire_auth.local.passwords import WEAK_PASSWORD_REASONS

EMAIL = "alice.smith@example.com"
GOOD = "correct horse battery"


def reason_of(password: str, *, email: str = "", policy: PasswordPolicy | None = None) -> str:
    with pytest.raises(WeakPasswordError) as info:
        (policy or PasswordPolicy()).normalize(password, email=email)
    assert info.value.code == "weak_password"
    assert info.value.reason in WEAK_PASSWORD_REASONS
    return info.value.reason


# --- common and breached passwords (offline list) ---------------------------------------


@pytest.mark.parametrize(
    "password",
    ["password", "12345678", "Password", "PASSWORD", "qwertyuiop", "iloveyou1", "password "],
)
def test_common_passwords_are_refused(password: str) -> None:
    assert reason_of(password) in ("common", "sequential")


def test_password_and_12345678_are_refused_as_the_issue_says() -> None:
    assert reason_of("password") == "common"
    assert reason_of("12345678") == "sequential"  # checked before the list; in it too
    assert "12345678" in common_passwords()
    assert reason_of("1q2w3e4r5t") == "common"


def test_fullwidth_common_password_is_refused() -> None:
    # NFKC and casefolding run before the look-up: the look-alike keyboard trick fails.
    assert reason_of("".join(chr(ord(ch) + 0xFEE0) for ch in "Password1")) == "common"


def test_shipped_list_is_the_django_list_folded() -> None:
    words = common_passwords()
    assert 19_000 <= len(words) <= 21_000
    assert {"password", "12345678", "qwerty", "iloveyou"} <= words
    assert all(w == unicodedata.normalize("NFKC", w).casefold().strip() for w in words)


def test_common_check_can_be_turned_off() -> None:
    policy = PasswordPolicy(refuse_common=False)
    assert policy.normalize("password") == "password"


def test_uncommon_password_passes() -> None:
    assert PasswordPolicy().normalize(GOOD, email=EMAIL) == GOOD


# --- the user's own address -------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        EMAIL,
        EMAIL.upper(),
        "alice.smith",
        "Alice.Smith",
        "alice.smith2024",
        "!alice.smith!",
        EMAIL + "1",
    ],
)
def test_password_close_to_the_email_is_refused(password: str) -> None:
    assert reason_of(password, email=EMAIL) == "contains_email"


def test_password_merely_containing_the_local_part_passes() -> None:
    # What is left after cutting out "alice.smith" is itself long enough.
    policy = PasswordPolicy()
    assert policy.normalize("alice.smith likes long walks", email=EMAIL)
    assert policy.normalize("alice.smith", email="bob@example.com") == "alice.smith"


def test_short_local_parts_are_not_cut_out() -> None:
    assert PasswordPolicy().normalize("a tiny address", email="a@b.example")


# --- repetitive and sequential ----------------------------------------------------------


@pytest.mark.parametrize("password", ["aaaaaaaa", "abababab", "abcabcabc", "xyzwxyzw", " " * 9])
def test_repetitive_passwords_are_refused(password: str) -> None:
    assert reason_of(password, policy=PasswordPolicy(refuse_common=False)) == "repetitive"


@pytest.mark.parametrize("password", ["abcdefgh", "87654321", "lmnopqrstu", "ZYXWVUTSR"])
def test_sequential_passwords_are_refused(password: str) -> None:
    assert reason_of(password, policy=PasswordPolicy(refuse_common=False)) == "sequential"


def test_repetition_of_a_long_unit_passes() -> None:
    # Five-character units are past the trivial: "horse" x2 is allowed by this rule.
    assert PasswordPolicy().normalize("hxrsehxrse") == "hxrsehxrse"


def test_repetitive_check_can_be_turned_off() -> None:
    policy = PasswordPolicy(refuse_common=False, refuse_repetitive=False)
    assert policy.normalize("aaaaaaaa") == "aaaaaaaa"


# --- length counted on what was typed ---------------------------------------------------


def test_one_character_that_nfkc_makes_18_is_too_short() -> None:
    assert len(unicodedata.normalize("NFKC", "\ufdfa")) == 18
    assert reason_of("\ufdfa") == "too_short"
    assert reason_of("\ufdfa" * 7) == "too_short"
    assert PasswordPolicy().normalize("\ufdfa" * 8) == unicodedata.normalize("NFKC", "\ufdfa") * 8


def test_expansion_past_the_hashing_cap_is_too_long() -> None:
    # 256 typed characters, 4608 after NFKC: sign-in would never hash it, so refuse.
    assert reason_of("\ufdfa" * 256) == "too_long"
    assert reason_of("\ufdfa" * 256, policy=PasswordPolicy(max_length=300)) == "too_long"


# --- unassigned code points -------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        pytest.param("\u0378", id="never-assigned"),
        pytest.param("\U0001e030", id="assigned-in-15.0"),  # MODIFIER LETTER CYRILLIC SMALL A
        pytest.param("\U0001fae8", id="emoji-assigned-in-15.0"),  # SHAKING FACE
        pytest.param("\U000e0080", id="unassigned-tag-area"),
    ],
)
def test_code_points_unassigned_in_the_pinned_version_are_refused(char: str) -> None:
    assert reason_of(GOOD + char) == "unassigned_character"


def test_assigned_characters_including_emoji_pass() -> None:
    password = "sch\u00f6ne gr\u00fc\u00dfe \U0001f600\u4e2d\u6587"
    assert PasswordPolicy().normalize(password) == password


def test_pinned_table_matches_its_unicode_version() -> None:
    # On the interpreter of the pinned version, the table is its unicodedata exactly;
    # elsewhere (a newer Unicode) the table stays a subset of what is assigned.
    same = unicodedata.unidata_version == PINNED_UNICODE_VERSION
    for cp in range(0x110000):
        assigned = unicodedata.category(chr(cp)) != "Cn"
        if same:
            assert is_assigned(chr(cp)) == assigned, hex(cp)
        elif is_assigned(chr(cp)):
            assert assigned, hex(cp)


# --- the policy in the identity provider ------------------------------------------------


@pytest.fixture
def idp() -> LocalIdP:
    return LocalIdP(
        store=MemoryAuthStore(),
        secret="3f9a1c7e5b2d4086c1e9a7f3b5d20c84",
        hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),
    )


@pytest.mark.asyncio
async def test_create_user_refuses_common_password_and_stores_nothing(idp: LocalIdP) -> None:
    with pytest.raises(WeakPasswordError) as info:
        await idp.create_user(email=EMAIL, password="password")
    assert info.value.reason == "common"
    assert await idp.verify_credentials(email=EMAIL, password="password") is None
    assert await idp.create_user(email=EMAIL, password=GOOD)


@pytest.mark.asyncio
async def test_create_user_refuses_the_email_as_password(idp: LocalIdP) -> None:
    with pytest.raises(WeakPasswordError) as info:
        await idp.create_user(email=" Alice.Smith@Example.com ", password="Alice.Smith@example.com")
    assert info.value.reason == "contains_email"


@pytest.mark.asyncio
async def test_change_and_reset_use_the_policy_with_the_users_email(idp: LocalIdP) -> None:
    user_id = await idp.create_user(email=EMAIL, password=GOOD)
    for new in ("alice.smith!", "12345678", "aaaaaaaaaaaa"):
        with pytest.raises(WeakPasswordError):
            await idp.change_password(user_id=user_id, old_password=GOOD, new_password=new)
        with pytest.raises(WeakPasswordError):
            await idp.reset_password(user_id=user_id, new_password=new)
    assert await idp.verify_credentials(email=EMAIL, password=GOOD) is not None


@pytest.mark.asyncio
async def test_custom_policy_reaches_every_path() -> None:
    idp = LocalIdP(
        secret="3f9a1c7e5b2d4086c1e9a7f3b5d20c84",
        hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),
        password_policy=PasswordPolicy(min_length=4, refuse_common=False),
    )
    user_id = await idp.create_user(email=EMAIL, password="password")
    assert await idp.change_password(user_id=user_id, old_password="password", new_password="qwer")
    await idp.reset_password(user_id=user_id, new_password="1234abcd")
    assert await idp.verify_credentials(email=EMAIL, password="1234abcd") is not None
