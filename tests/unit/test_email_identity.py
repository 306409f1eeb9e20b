"""One mailbox, one account: IDNA canonical domains and look-alike (confusable) addresses.

``u@münchen.de`` and ``u@xn--mnchen-3ya.de`` are one mailbox; ``pay@`` and
``\\u0440\\u0430\\u0443@`` (Cyrillic) look the same. Registration must treat each
pair as one identity, while accounts stored before these rules keep signing in.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pywire_auth import (
    LOCAL_PROVIDER,
    Argon2Hasher,
    InvalidEmailError,
    LocalIdP,
    MemoryAuthStore,
    UserExistsError,
    UserRecord,
    normalize_email,
)
from pywire_auth.local.confusables import (
    EMAIL_SKELETON_PROVIDER,
    check_new_email,
    email_skeleton_key,
    is_highly_restrictive,
    skeleton,
)
from pywire_auth.local.normalize import email_lookup_forms
from pywire_auth.types import ProviderLink

PASSWORD = "correct horse battery"
CYRILLIC_PAY = "\u0440\u0430\u0443"  # er, a, u: all Cyrillic, looks like "pay"

# --- internationalized domains ----------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "u@münchen.de",
        "u@xn--mnchen-3ya.de",
        "U@XN--MNCHEN-3YA.DE",
        "u@MÜNCHEN.de",
        "u@mu\u0308nchen.de",  # decomposed ü
        "u@\uff4dünchen.de",  # fullwidth m
    ],
)
def test_idn_spellings_have_one_canonical_form(spelling: str) -> None:
    assert normalize_email(spelling) == "u@münchen.de"


def test_canonical_form_is_idempotent_and_keeps_ascii_domains() -> None:
    assert normalize_email(normalize_email("u@xn--mnchen-3ya.de")) == "u@münchen.de"
    assert normalize_email("u@Example.COM") == "u@example.com"
    assert normalize_email("u@ab--cd.example") == "u@ab--cd.example"  # not an IDN: as before


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("u@xn--abc.com", id="bad-punycode"),
        pytest.param("u@i\u2764.ws", id="emoji-label"),
        pytest.param("u@xn--mnchen-3ya-.de", id="trailing-hyphen-a-label"),
        pytest.param("u@m\u00fcnchen.de.", id="trailing-dot"),
        pytest.param("u@" + "\u00fc" * 60 + ".de", id="a-label-over-63"),
    ],
)
def test_invalid_internationalized_domains_are_refused(address: str) -> None:
    with pytest.raises(InvalidEmailError):
        normalize_email(address)


def test_lookup_forms_cover_both_stored_spellings() -> None:
    assert email_lookup_forms("u@xn--mnchen-3ya.de") == ["u@münchen.de", "u@xn--mnchen-3ya.de"]
    assert email_lookup_forms("U@münchen.de") == ["u@münchen.de", "u@xn--mnchen-3ya.de"]
    assert email_lookup_forms("Ann@Example.com") == ["ann@example.com"]
    with pytest.raises(InvalidEmailError):
        email_lookup_forms("not-an-address")


@pytest.fixture
def store() -> MemoryAuthStore:
    return MemoryAuthStore()


@pytest.fixture
def idp(store: MemoryAuthStore) -> LocalIdP:
    hasher = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)
    return LocalIdP(store=store, secret="3f9a1c7e5b2d4086c1e9a7f3b5d20c84", hasher=hasher)


@pytest.mark.asyncio
async def test_u_label_and_a_label_are_one_account(idp: LocalIdP) -> None:
    user_id = await idp.create_user(email="u@münchen.de", password=PASSWORD)
    with pytest.raises(UserExistsError):
        await idp.create_user(email="u@xn--mnchen-3ya.de", password="another password")
    for spelling in ("u@münchen.de", "u@xn--mnchen-3ya.de"):
        principal = await idp.verify_credentials(email=spelling, password=PASSWORD)
        assert principal is not None
        assert principal.user_id == f"local:{user_id}"


async def _stored_as_before(store: MemoryAuthStore, idp: LocalIdP, email: str) -> str:
    # What 0.4 stored: the address as typed (NFKC, lower-case), no skeleton link.
    user_id = str(uuid.uuid4())
    await store.create_user(
        UserRecord(user_id=user_id, email=email),
        link=ProviderLink(LOCAL_PROVIDER, email, user_id),
        pw_hash=await idp.hasher.hash(PASSWORD),
    )
    return user_id


@pytest.mark.asyncio
@pytest.mark.parametrize("stored", ["u@xn--mnchen-3ya.de", "u@münchen.de"])
async def test_accounts_stored_before_keep_signing_in(
    idp: LocalIdP, store: MemoryAuthStore, stored: str
) -> None:
    user_id = await _stored_as_before(store, idp, stored)
    for spelling in ("u@xn--mnchen-3ya.de", "U@München.de"):
        principal = await idp.verify_credentials(email=spelling, password=PASSWORD)
        assert principal is not None, spelling
        assert principal.user_id == f"local:{user_id}"


@pytest.mark.asyncio
async def test_stored_mixed_script_account_keeps_signing_in(
    idp: LocalIdP, store: MemoryAuthStore
) -> None:
    # Refused for new accounts, but one stored before the rule is not locked out.
    await _stored_as_before(store, idp, "\u0430dmin@example.com")
    assert await idp.verify_credentials(email="\u0430dmin@example.com", password=PASSWORD)


# --- look-alike addresses ---------------------------------------------------------------


def test_skeletons_of_look_alikes_are_equal() -> None:
    assert skeleton("pay@example.com") == skeleton(f"{CYRILLIC_PAY}@example.com")
    assert skeleton("\u0430dmin") == skeleton("admin")
    assert skeleton("mary") == skeleton("rnary")
    assert skeleton("paypal") == skeleton("paypa1")
    assert skeleton("alice") != skeleton("alicf")
    key = email_skeleton_key("pay@example.com")
    assert len(key) == 64
    assert key == email_skeleton_key(f"{CYRILLIC_PAY}@example.com")


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("admin", True),
        ("\u0430dmin", False),  # Cyrillic a + Latin
        ("exa\u0441ple", False),  # Cyrillic es
        ("\u0438\u0432\u0430\u043d", True),  # all Cyrillic
        ("jos\u00e9", True),
        ("\u03b1\u03b2\u03b3", True),  # all Greek
        ("a\u03b2", False),
        ("\u65e5\u672c\u8a9eabc", True),  # Han + Latin (Japanese/Chinese writing)
        ("\u3072\u3089\u304c\u306a\u30ab\u30bf\u30ab\u30ca\u6f22\u5b57", True),  # Jpan
        ("\ud55c\uad6d\uc5b4\u6f22\u5b57", True),  # Hangul + Han (Kore)
        ("\u0430\u6f22", False),  # Cyrillic + Han
        ("user-123", True),
    ],
)
def test_mixed_script_parts(text: str, allowed: bool) -> None:
    assert is_highly_restrictive(text) is allowed


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430dmin@example.com",  # mixed script: refused outright
        "admin@ex\u0430mple.com",  # mixed-script domain label
    ],
)
async def test_mixed_script_registration_is_refused(idp: LocalIdP, look_alike: str) -> None:
    with pytest.raises(InvalidEmailError):
        await idp.create_user(email=look_alike, password=PASSWORD)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("pay@example.com", f"{CYRILLIC_PAY}@example.com"),
        (f"{CYRILLIC_PAY}@example.com", "pay@example.com"),
        ("mary@example.com", "rnary@example.com"),
        ("paypal@example.com", "paypa1@example.com"),
    ],
)
async def test_confusable_registration_is_refused_as_exists(
    idp: LocalIdP, store: MemoryAuthStore, first: str, second: str
) -> None:
    user_id = await idp.create_user(email=first, password=PASSWORD)
    with pytest.raises(UserExistsError) as info:
        await idp.create_user(email=second, password=PASSWORD)
    assert info.value.code == "exists"
    assert await store.get_user_by_link(LOCAL_PROVIDER, normalize_email(second)) is None
    owner = await store.get_user_by_link(EMAIL_SKELETON_PROVIDER, email_skeleton_key(second))
    assert owner is not None
    assert owner.user_id == user_id


@pytest.mark.asyncio
async def test_concurrent_confusable_registrations_have_one_winner(
    idp: LocalIdP, store: MemoryAuthStore
) -> None:
    spellings = ["pay@example.com", f"{CYRILLIC_PAY}@example.com"] * 3
    results = await asyncio.gather(
        *(idp.create_user(email=e, password=PASSWORD) for e in spellings),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1
    assert all(isinstance(r, UserExistsError) for r in results if not isinstance(r, str))


@pytest.mark.asyncio
async def test_deleting_the_user_frees_the_look_alikes(
    idp: LocalIdP, store: MemoryAuthStore
) -> None:
    user_id = await idp.create_user(email="pay@example.com", password=PASSWORD)
    assert await store.delete_user(user_id)
    assert await idp.create_user(email=f"{CYRILLIC_PAY}@example.com", password=PASSWORD)


@pytest.mark.asyncio
async def test_unassigned_characters_in_a_new_email_are_refused(idp: LocalIdP) -> None:
    # On Python 3.11 the address grammar already refuses these; on a newer Python
    # (newer Unicode) only the pinned-version check does, so test it directly too.
    with pytest.raises(InvalidEmailError):
        await idp.create_user(email="ann\U0001e030@example.com", password=PASSWORD)
    nag_mundari = "\U0001e4d0\U0001e4d1\U0001e4d2"  # one script, assigned in Unicode 15.0
    with pytest.raises(InvalidEmailError, match="unassigned"):
        check_new_email(f"{nag_mundari}@example.com")
    check_new_email("\u1e00nn@example.com")  # assigned long ago: passes
