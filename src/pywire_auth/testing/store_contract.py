"""The AuthStore contract: one suite, run against every backend."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from pywire_auth.exceptions import (
    InvalidInputError,
    LastSignInMethodError,
    UserExistsError,
    UserNotFoundError,
)
from pywire_auth.protocols import AuthStore, SessionStore, UserDirectory
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink, SessionRecord, UserRecord

__all__ = ["AuthStoreContract"]


def _user(email: str = "ann@example.com", **fields: Any) -> UserRecord:
    return UserRecord(user_id=str(uuid.uuid4()), email=email, **fields)


def _local(user: UserRecord, subject: str | None = None) -> ProviderLink:
    return ProviderLink(LOCAL_PROVIDER, subject or user.email, user.user_id)


class AuthStoreContract:
    """Behaviour every :class:`~pywire_auth.AuthStore` must show.

    Subclasses provide an async ``store`` fixture yielding an empty store. A store
    that also keeps sessions (a :class:`~pywire_auth.SessionStore`) is checked for
    those too.
    """

    pytestmark = pytest.mark.asyncio

    async def test_store_satisfies_protocol(self, store: AuthStore) -> None:
        assert isinstance(store, AuthStore)

    async def test_created_user_round_trips(self, store: AuthStore) -> None:
        user = _user(
            name="Zoë 🚀",
            claims={"role": ["admin", "editor"], "email_verified": True},
            extras={"plan": {"tier": "pro", "seats": 3}, "note": None},
        )
        await store.create_user(user, link=_local(user), pw_hash="$argon2id$fake")
        assert await store.get_user(user.user_id) == user
        assert await store.get_user_by_link(LOCAL_PROVIDER, user.email) == user
        login = await store.get_login(LOCAL_PROVIDER, user.email)
        assert login is not None
        assert login.user == user
        assert login.pw_hash == "$argon2id$fake"
        assert await store.get_password_hash(user.user_id) == "$argon2id$fake"

    async def test_lookups_of_unknown_return_none(self, store: AuthStore) -> None:
        assert await store.get_user("missing") is None
        assert await store.get_user_by_link(LOCAL_PROVIDER, "nobody@example.com") is None
        assert await store.get_login(LOCAL_PROVIDER, "nobody@example.com") is None
        assert await store.get_password_hash("missing") is None
        assert await store.get_links("missing") == []

    async def test_user_without_password(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user))
        login = await store.get_login(LOCAL_PROVIDER, user.email)
        assert login is not None
        assert login.pw_hash is None
        assert await store.get_password_hash(user.user_id) is None

    async def test_duplicate_link_is_refused_and_writes_nothing(self, store: AuthStore) -> None:
        first, second = _user(), _user()
        await store.create_user(first, link=_local(first), pw_hash="h1")
        with pytest.raises(UserExistsError):
            await store.create_user(second, link=_local(second), pw_hash="h2")
        assert await store.get_user(second.user_id) is None
        assert await store.get_password_hash(second.user_id) is None
        login = await store.get_login(LOCAL_PROVIDER, first.email)
        assert login is not None
        assert (login.user.user_id, login.pw_hash) == (first.user_id, "h1")

    async def test_duplicate_user_id_is_refused_and_writes_no_link(self, store: AuthStore) -> None:
        first = _user()
        await store.create_user(first, link=_local(first))
        clash = UserRecord(user_id=first.user_id, email="other@example.com")
        with pytest.raises(UserExistsError):
            await store.create_user(clash, link=_local(clash))
        assert await store.get_user_by_link(LOCAL_PROVIDER, "other@example.com") is None

    async def test_link_must_belong_to_new_user(self, store: AuthStore) -> None:
        user = _user()
        with pytest.raises(InvalidInputError):
            await store.create_user(user, link=ProviderLink(LOCAL_PROVIDER, user.email, "x"))
        assert await store.get_user(user.user_id) is None

    async def test_concurrent_registrations_have_one_winner(self, store: AuthStore) -> None:
        contenders = [_user("race@example.com") for _ in range(20)]
        results = await asyncio.gather(
            *(store.create_user(u, link=_local(u), pw_hash=u.user_id) for u in contenders),
            return_exceptions=True,
        )
        winners = [u for u, r in zip(contenders, results, strict=True) if r is None]
        losers = [u for u, r in zip(contenders, results, strict=True) if r is not None]
        assert len(winners) == 1
        assert all(isinstance(r, UserExistsError) for r in results if r is not None)
        for loser in losers:
            assert await store.get_user(loser.user_id) is None
            assert await store.get_password_hash(loser.user_id) is None
        login = await store.get_login(LOCAL_PROVIDER, "race@example.com")
        assert login is not None
        assert login.pw_hash == winners[0].user_id

    async def test_extra_links_are_written_with_the_user(self, store: AuthStore) -> None:
        user = _user()
        marker = ProviderLink("local-skeleton", "k" * 64, user.user_id)
        await store.create_user(user, link=_local(user), pw_hash="h", extra_links=[marker])
        assert await store.get_user_by_link("local-skeleton", "k" * 64) == user
        links = await store.get_links(user.user_id)
        assert [(x.provider, x.subject) for x in links] == [
            (LOCAL_PROVIDER, user.email),
            ("local-skeleton", "k" * 64),
        ]

    async def test_taken_extra_link_refuses_the_whole_registration(self, store: AuthStore) -> None:
        first, second = _user("a@example.com"), _user("b@example.com")
        await store.create_user(
            first,
            link=_local(first),
            pw_hash="h1",
            extra_links=[ProviderLink("local-skeleton", "same", first.user_id)],
        )
        with pytest.raises(UserExistsError):
            await store.create_user(
                second,
                link=_local(second),
                pw_hash="h2",
                extra_links=[ProviderLink("local-skeleton", "same", second.user_id)],
            )
        # Nothing of the refused registration was written: no user, hash or link.
        assert await store.get_user(second.user_id) is None
        assert await store.get_password_hash(second.user_id) is None
        assert await store.get_user_by_link(LOCAL_PROVIDER, second.email) is None
        owner = await store.get_user_by_link("local-skeleton", "same")
        assert owner is not None
        assert owner.user_id == first.user_id

    async def test_extra_links_must_be_valid_and_distinct(self, store: AuthStore) -> None:
        user = _user()
        for extra in (
            [ProviderLink("local-skeleton", "s", "someone-else")],
            [ProviderLink("local-skeleton", "", user.user_id)],
            [ProviderLink(LOCAL_PROVIDER, user.email, user.user_id)],
            [ProviderLink("x", "1", user.user_id), ProviderLink("x", "1", user.user_id)],
        ):
            with pytest.raises(InvalidInputError):
                await store.create_user(user, link=_local(user), extra_links=extra)
            assert await store.get_user(user.user_id) is None

    async def test_concurrent_registrations_racing_for_an_extra_link(
        self, store: AuthStore
    ) -> None:
        # Different emails, one shared reserved identity: the store's unique key,
        # not a read before the write, must let exactly one through.
        contenders = [_user(f"racer{i}@example.com") for i in range(12)]
        results = await asyncio.gather(
            *(
                store.create_user(
                    u,
                    link=_local(u),
                    pw_hash=u.user_id,
                    extra_links=[ProviderLink("local-skeleton", "contested", u.user_id)],
                )
                for u in contenders
            ),
            return_exceptions=True,
        )
        winners = [u for u, r in zip(contenders, results, strict=True) if r is None]
        assert len(winners) == 1
        assert all(isinstance(r, UserExistsError) for r in results if r is not None)
        for loser in contenders:
            if loser is not winners[0]:
                assert await store.get_user(loser.user_id) is None
                assert await store.get_user_by_link(LOCAL_PROVIDER, loser.email) is None
        owner = await store.get_user_by_link("local-skeleton", "contested")
        assert owner is not None
        assert owner.user_id == winners[0].user_id

    async def test_set_password_hash_unconditionally(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user), pw_hash="old")
        assert await store.set_password_hash(user.user_id, "new") is True
        assert await store.get_password_hash(user.user_id) == "new"

    async def test_set_password_hash_creates_missing_credential(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user))
        assert await store.set_password_hash(user.user_id, "first") is True
        assert await store.get_password_hash(user.user_id) == "first"

    async def test_set_password_hash_compare_and_set(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user), pw_hash="v1")
        assert await store.set_password_hash(user.user_id, "v2", expected="v1") is True
        # A stale writer (say, a rehash computed from v1) must lose to v2.
        assert await store.set_password_hash(user.user_id, "v1-rehashed", expected="v1") is False
        assert await store.get_password_hash(user.user_id) == "v2"

    async def test_compare_and_set_is_case_sensitive(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user), pw_hash="AbC")
        assert await store.set_password_hash(user.user_id, "x", expected="abc") is False
        assert await store.get_password_hash(user.user_id) == "AbC"

    async def test_set_password_hash_for_unknown_user(self, store: AuthStore) -> None:
        assert await store.set_password_hash("missing", "h") is False
        assert await store.set_password_hash("missing", "h", expected="g") is False
        assert await store.get_password_hash("missing") is None

    async def test_update_user(self, store: AuthStore) -> None:
        user = _user(name="Ann", claims={"role": "viewer"}, extras={"a": 1})
        await store.create_user(user, link=_local(user))
        updated = await store.update_user(user.user_id, claims={"role": "editor"})
        assert updated is not None
        assert (updated.name, dict(updated.claims), dict(updated.extras)) == (
            "Ann",
            {"role": "editor"},
            {"a": 1},
        )
        assert await store.get_user(user.user_id) == updated
        renamed = await store.update_user(user.user_id, name="Annie", extras={})
        assert renamed is not None
        assert (renamed.name, dict(renamed.extras)) == ("Annie", {})
        assert await store.update_user("missing", name="x") is None

    async def test_disabled_flag_round_trips_through_every_lookup(self, store: AuthStore) -> None:
        user = _user(claims={"role": "viewer"})
        await store.create_user(user, link=_local(user), pw_hash="$argon2id$fake")
        assert (await store.get_user(user.user_id)).disabled is False  # type: ignore[union-attr]
        disabled = await store.update_user(user.user_id, disabled=True)
        assert disabled == UserRecord(
            user.user_id, user.email, claims={"role": "viewer"}, disabled=True
        )
        assert await store.get_user(user.user_id) == disabled
        login = await store.get_login(LOCAL_PROVIDER, user.email)
        assert login is not None
        assert (login.user, login.pw_hash) == (disabled, "$argon2id$fake")
        if isinstance(store, SessionStore):
            record = SessionRecord("d" * 64, user.user_id, 1, 2)
            await store.create_session(record)
            assert await store.get_session_user("d" * 64) == (record, disabled)
        # Other updates leave the flag alone; False lets the user in again.
        renamed = await store.update_user(user.user_id, name="Ann")
        assert renamed is not None
        assert renamed.disabled is True
        enabled = await store.update_user(user.user_id, disabled=False)
        assert enabled is not None
        assert enabled.disabled is False
        assert await store.get_user(user.user_id) == enabled
        born_disabled = _user("bo@example.com", disabled=True)
        await store.create_user(born_disabled, link=_local(born_disabled))
        assert await store.get_user(born_disabled.user_id) == born_disabled

    async def test_links(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user))
        google = ProviderLink("google", "g-123", user.user_id, {"hd": "example.com"})
        await store.add_link(google)
        assert await store.get_user_by_link("google", "g-123") == user
        links = await store.get_links(user.user_id)
        assert [(x.provider, x.subject) for x in links] == [
            ("google", "g-123"),
            (LOCAL_PROVIDER, user.email),
        ]
        assert dict(links[0].claims) == {"hd": "example.com"}

    async def test_link_is_never_repointed(self, store: AuthStore) -> None:
        owner, other = _user(), _user("other@example.com")
        await store.create_user(owner, link=_local(owner))
        await store.create_user(other, link=_local(other))
        await store.add_link(ProviderLink("github", "42", owner.user_id))
        with pytest.raises(UserExistsError):
            await store.add_link(ProviderLink("github", "42", other.user_id))
        with pytest.raises(UserExistsError):
            await store.add_link(ProviderLink(LOCAL_PROVIDER, owner.email, other.user_id))
        found = await store.get_user_by_link("github", "42")
        assert found is not None
        assert found.user_id == owner.user_id

    async def test_remove_link_keeps_the_password_way_in(self, store: AuthStore) -> None:
        user, other = _user(), _user("other@example.com")
        await store.create_user(user, link=_local(user), pw_hash="$argon2id$fake")
        await store.create_user(other, link=_local(other))
        await store.add_link(ProviderLink("google", "g-1", user.user_id))
        # Someone else's link, or one that does not exist, is not removed.
        assert await store.remove_link(other.user_id, "google", "g-1") is False
        assert await store.remove_link(user.user_id, "google", "missing") is False
        assert await store.remove_link(user.user_id, "google", "g-1") is True
        assert await store.get_user_by_link("google", "g-1") is None
        assert [link.provider for link in await store.get_links(user.user_id)] == [LOCAL_PROVIDER]
        assert await store.remove_link(user.user_id, "google", "g-1") is False

    async def test_remove_link_refuses_the_last_way_in(self, store: AuthStore) -> None:
        # No password; the local email link and its look-alike reservation are
        # no way in by themselves.
        user = _user()
        await store.create_user(
            user,
            link=_local(user),
            extra_links=[
                ProviderLink("local-skeleton", "k" * 64, user.user_id),
                ProviderLink("google", "g-1", user.user_id),
                ProviderLink("github", "42", user.user_id),
            ],
        )
        assert await store.remove_link(user.user_id, "github", "42") is True
        with pytest.raises(LastSignInMethodError):
            await store.remove_link(user.user_id, "google", "g-1")
        found = await store.get_user_by_link("google", "g-1")
        assert found is not None
        assert found.user_id == user.user_id

    async def test_concurrent_unlinks_leave_a_way_in(self, store: AuthStore) -> None:
        # Write skew: each unlink sees the others' links as the remaining way in;
        # run at once, without the store serializing them, all would delete.
        user = _user()
        links = [ProviderLink(f"idp{i}", str(i), user.user_id) for i in range(8)]
        await store.create_user(user, link=links[0], extra_links=links[1:])
        results = await asyncio.gather(
            *(store.remove_link(user.user_id, x.provider, x.subject) for x in links),
            return_exceptions=True,
        )
        assert results.count(True) == len(links) - 1
        assert [type(r) for r in results if r is not True] == [LastSignInMethodError]
        assert len(await store.get_links(user.user_id)) == 1

    async def test_add_link_to_unknown_user(self, store: AuthStore) -> None:
        with pytest.raises(UserNotFoundError):
            await store.add_link(ProviderLink("github", "7", "missing"))
        assert await store.get_user_by_link("github", "7") is None

    async def test_refresh_identity_replaces_link_claims_and_merges_user_claims(
        self, store: AuthStore
    ) -> None:
        user = _user(name="Ann", claims={"role": "admin", "picture": "https://old"})
        await store.create_user(user, link=_local(user))
        await store.add_link(ProviderLink("google", "g-1", user.user_id, {"name": "Ann"}))
        fresh = {"name": "Annie", "email": "annie@example.com", "email_verified": True}
        updated = await store.refresh_identity(
            ProviderLink("google", "g-1", user.user_id, fresh),
            name="Annie",
            claims={"picture": "https://new"},
        )
        assert updated is not None
        assert updated.name == "Annie"
        # Keys not named (authorization claims) keep their stored values.
        assert dict(updated.claims) == {"role": "admin", "picture": "https://new"}
        assert await store.get_user(user.user_id) == updated
        links = {x.provider: x for x in await store.get_links(user.user_id)}
        assert dict(links["google"].claims) == fresh
        assert dict(links[LOCAL_PROVIDER].claims) == {}
        # None removes a key; name=None keeps the name.
        again = await store.refresh_identity(
            ProviderLink("google", "g-1", user.user_id, {}), claims={"picture": None}
        )
        assert again is not None
        assert (again.name, dict(again.claims)) == ("Annie", {"role": "admin"})

    async def test_refresh_identity_never_touches_another_users_link(
        self, store: AuthStore
    ) -> None:
        owner, other = _user(name="Owner"), _user("other@example.com", name="Other")
        await store.create_user(owner, link=_local(owner))
        await store.create_user(other, link=_local(other))
        await store.add_link(ProviderLink("github", "42", owner.user_id, {"name": "Owner"}))
        hijack = ProviderLink("github", "42", other.user_id, {"name": "Mallory"})
        assert await store.refresh_identity(hijack, name="Mallory", claims={"x": 1}) is None
        assert (
            await store.refresh_identity(
                ProviderLink("github", "43", owner.user_id), name="Mallory"
            )
            is None
        )
        assert await store.get_user(other.user_id) == other
        assert await store.get_user(owner.user_id) == owner
        links = await store.get_links(owner.user_id)
        assert dict(links[0].claims) == {"name": "Owner"}

    async def test_concurrent_refreshes_lose_no_claim(self, store: AuthStore) -> None:
        # Each refresh merges its own key: a read-modify-write without a lock
        # would let one overwrite another's (and so a role granted meanwhile).
        user = _user(claims={"role": "admin"})
        await store.create_user(user, link=_local(user))
        await store.add_link(ProviderLink("google", "g-1", user.user_id))
        await asyncio.gather(
            *(
                store.refresh_identity(
                    ProviderLink("google", "g-1", user.user_id), claims={f"k{i}": i}
                )
                for i in range(8)
            )
        )
        stored = await store.get_user(user.user_id)
        assert stored is not None
        assert dict(stored.claims) == {"role": "admin", **{f"k{i}": i for i in range(8)}}

    async def test_refresh_identity_refuses_bad_values(self, store: AuthStore) -> None:
        user = _user(name="Ann")
        await store.create_user(user, link=_local(user))
        await store.add_link(ProviderLink("google", "g-1", user.user_id))
        with pytest.raises(InvalidInputError):
            await store.refresh_identity(ProviderLink("google", "g-1", user.user_id), name="x\x00")
        with pytest.raises(InvalidInputError):
            await store.refresh_identity(
                ProviderLink("google", "g-1", user.user_id, {"bad": object()})
            )
        assert await store.get_user(user.user_id) == user

    async def test_change_email_swaps_links_at_once(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user), pw_hash="h")
        await store.add_link(ProviderLink("google", "g-1", user.user_id))
        new = ProviderLink(LOCAL_PROVIDER, "ann@new.example", user.user_id)
        changed = await store.change_email(
            user.user_id,
            "ann@new.example",
            expected="ann@example.com",
            remove=[(LOCAL_PROVIDER, "ann@example.com")],
            add=[new],
        )
        assert changed is True
        stored = await store.get_user(user.user_id)
        assert stored is not None
        assert stored.email == "ann@new.example"
        assert await store.get_user_by_link(LOCAL_PROVIDER, "ann@example.com") is None
        login = await store.get_login(LOCAL_PROVIDER, "ann@new.example")
        assert login is not None
        assert (login.user.user_id, login.pw_hash) == (user.user_id, "h")
        assert await store.get_user_by_link("google", "g-1") is not None  # untouched

    async def test_change_email_is_a_compare_and_set(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user))
        new = ProviderLink(LOCAL_PROVIDER, "ann@new.example", user.user_id)
        stale = await store.change_email(
            user.user_id, "ann@new.example", expected="old@example.com", add=[new]
        )
        assert stale is False
        missing = await store.change_email("missing", "x@example.com", expected="", add=[])
        assert missing is False
        assert await store.get_user_by_link(LOCAL_PROVIDER, "ann@new.example") is None
        stored = await store.get_user(user.user_id)
        assert stored is not None
        assert stored.email == "ann@example.com"

    async def test_change_email_to_a_taken_identity_changes_nothing(self, store: AuthStore) -> None:
        ann, bob = _user(), _user("bob@example.com")
        await store.create_user(ann, link=_local(ann))
        await store.create_user(bob, link=_local(bob))
        with pytest.raises(UserExistsError):
            await store.change_email(
                ann.user_id,
                "bob@example.com",
                expected="ann@example.com",
                remove=[(LOCAL_PROVIDER, "ann@example.com")],
                add=[ProviderLink(LOCAL_PROVIDER, "bob@example.com", ann.user_id)],
            )
        stored = await store.get_user(ann.user_id)
        assert stored is not None
        assert stored.email == "ann@example.com"
        login = await store.get_login(LOCAL_PROVIDER, "ann@example.com")
        assert login is not None
        assert login.user.user_id == ann.user_id
        bob_login = await store.get_login(LOCAL_PROVIDER, "bob@example.com")
        assert bob_login is not None
        assert bob_login.user.user_id == bob.user_id

    async def test_delete_user_removes_everything(self, store: AuthStore) -> None:
        user = _user()
        await store.create_user(user, link=_local(user), pw_hash="h")
        await store.add_link(ProviderLink("google", "g-1", user.user_id))
        assert await store.delete_user(user.user_id) is True
        assert await store.get_user(user.user_id) is None
        assert await store.get_password_hash(user.user_id) is None
        assert await store.get_links(user.user_id) == []
        assert await store.get_user_by_link("google", "g-1") is None
        assert await store.delete_user(user.user_id) is False
        again = _user()
        await store.create_user(again, link=_local(again), pw_hash="h2")
        assert await store.get_user_by_link(LOCAL_PROVIDER, again.email) == again

    async def test_identities_compare_exactly(self, store: AuthStore) -> None:
        # Normalization is the identity provider's job; the store must not fold
        # case or accents on its own (MySQL's default collations do).
        for subject in (
            "ann@example.com",
            "Ann@example.com",
            "ánn@example.com",
            "ann@example.com ",
        ):
            user = _user(subject)
            await store.create_user(user, link=_local(user, subject))
        for subject in (
            "ann@example.com",
            "Ann@example.com",
            "ánn@example.com",
            "ann@example.com ",
        ):
            found = await store.get_user_by_link(LOCAL_PROVIDER, subject)
            assert found is not None
            assert found.email == subject

    async def test_returned_records_are_copies(self, store: AuthStore) -> None:
        user = _user(claims={"roles": ["a"]})
        await store.create_user(user, link=_local(user))
        fetched = await store.get_user(user.user_id)
        assert fetched is not None
        fetched.claims["roles"].append("b")
        again = await store.get_user(user.user_id)
        assert again is not None
        assert again.claims["roles"] == ["a"]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("subject", "nul\x00@example.com"),
            ("subject", "x" * 256),
            ("provider", ""),
            ("name", "x" * 256),
            ("claims", {"bad": object()}),
            ("claims", {"nan": float("nan")}),
            ("claims", {"nul": "a\x00b"}),
            ("extras", {"big": "x" * 70_000}),
        ],
    )
    async def test_bad_values_are_refused_before_writing(
        self, store: AuthStore, field: str, value: Any
    ) -> None:
        user = _user()
        link = _local(user)
        if field in ("subject", "provider"):
            link = ProviderLink(
                value if field == "provider" else LOCAL_PROVIDER,
                value if field == "subject" else user.email,
                user.user_id,
            )
        else:
            user = UserRecord(user_id=user.user_id, email=user.email, **{field: value})
        with pytest.raises(InvalidInputError):
            await store.create_user(user, link=link, pw_hash="h")
        assert await store.get_user(user.user_id) is None

    async def test_longest_allowed_values_fit(self, store: AuthStore) -> None:
        user = _user("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61, name="n" * 255)
        await store.create_user(user, link=_local(user, "s" * 255), pw_hash="h" * 512)
        assert await store.get_user_by_link(LOCAL_PROVIDER, "s" * 255) == user
        assert await store.get_password_hash(user.user_id) == "h" * 512

    @staticmethod
    def _sessions(store: AuthStore) -> SessionStore:
        if not isinstance(store, SessionStore):
            pytest.skip("this store keeps no sessions")
        return store

    async def test_sessions_round_trip(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        user = _user()
        await store.create_user(user, link=_local(user))
        record = SessionRecord("a" * 64, user.user_id, 1_700_000_000, 1_700_086_400)
        await sessions.create_session(record)
        assert await sessions.get_session("a" * 64) == record
        assert await sessions.get_session("b" * 64) is None
        assert await sessions.get_session_user("a" * 64) == (record, user)
        assert await sessions.get_session_user("b" * 64) is None
        assert await sessions.touch_session("a" * 64, 1_800_000_000) is True
        touched = await sessions.get_session("a" * 64)
        assert touched is not None
        assert touched.expires_at == 1_800_000_000
        assert await sessions.touch_session("b" * 64, 1) is False
        assert await sessions.delete_session("a" * 64) is True
        assert await sessions.delete_session("a" * 64) is False
        assert await sessions.get_session("a" * 64) is None

    async def test_session_needs_existing_user(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        with pytest.raises(UserNotFoundError):
            await sessions.create_session(SessionRecord("c" * 64, "missing", 1, 2))
        assert await sessions.get_session("c" * 64) is None

    async def test_session_ids_are_unique(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        first, second = _user(), _user("b@example.com")
        for user in (first, second):
            await store.create_user(user, link=_local(user))
        await sessions.create_session(SessionRecord("d" * 64, first.user_id, 1, 2))
        with pytest.raises(InvalidInputError):
            await sessions.create_session(SessionRecord("d" * 64, second.user_id, 1, 2))
        found = await sessions.get_session("d" * 64)
        assert found is not None
        assert found.user_id == first.user_id

    async def test_ending_all_sessions_of_a_user(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        ann, bob = _user(), _user("bob@example.com")
        for user in (ann, bob):
            await store.create_user(user, link=_local(user))
        for i, user in enumerate((ann, ann, ann, bob)):
            await sessions.create_session(SessionRecord(f"{i}" * 64, user.user_id, 1, 10))
        assert await sessions.delete_user_sessions(ann.user_id) == 3
        assert [await sessions.get_session(f"{i}" * 64) for i in range(3)] == [None] * 3
        assert await sessions.get_session("3" * 64) is not None
        assert await sessions.delete_user_sessions(ann.user_id) == 0

    async def test_deleting_a_users_sessions_can_keep_one(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        ann, bob = _user(), _user("bob@example.com")
        for user in (ann, bob):
            await store.create_user(user, link=_local(user))
        for i, user in enumerate((ann, ann, ann, bob)):
            await sessions.create_session(SessionRecord(f"{i}" * 64, user.user_id, 1, 10))
        assert await sessions.delete_user_sessions(ann.user_id, keep="1" * 64) == 2
        assert await sessions.get_session("1" * 64) is not None
        assert await sessions.get_session("0" * 64) is None
        assert await sessions.get_session("2" * 64) is None
        assert await sessions.delete_user_sessions(ann.user_id, keep="3" * 64) == 1
        assert await sessions.get_session("3" * 64) is not None

    async def test_expired_sessions_are_purged(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        user = _user()
        await store.create_user(user, link=_local(user))
        await sessions.create_session(SessionRecord("e" * 64, user.user_id, 1, 100))
        await sessions.create_session(SessionRecord("f" * 64, user.user_id, 1, 300))
        assert await sessions.delete_expired_sessions(200) == 1
        assert await sessions.get_session("e" * 64) is None
        assert await sessions.get_session("f" * 64) is not None

    async def test_expired_sessions_are_purged_in_batches(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        user = _user()
        await store.create_user(user, link=_local(user))
        expired = [f"x{i:02d}".ljust(64, "0") for i in range(7)]
        for i, session_id in enumerate(expired):
            await sessions.create_session(SessionRecord(session_id, user.user_id, 1, 100 + i))
        # Expiring exactly at ``now`` is not "before now"; later ones are alive.
        await sessions.create_session(SessionRecord("y" * 64, user.user_id, 1, 200))
        await sessions.create_session(SessionRecord("z" * 64, user.user_id, 1, 300))
        assert [await sessions.delete_expired_sessions(200, limit=3) for _ in range(4)] == [
            3,
            3,
            1,
            0,
        ]
        assert [await sessions.get_session(sid) for sid in expired] == [None] * 7
        assert await sessions.get_session("y" * 64) is not None
        assert await sessions.get_session("z" * 64) is not None
        assert await sessions.delete_expired_sessions(301, limit=500) == 2

    @pytest.mark.parametrize("limit", [0, -1])
    async def test_expired_session_batches_need_a_positive_limit(
        self, store: AuthStore, limit: int
    ) -> None:
        sessions = self._sessions(store)
        user = _user()
        await store.create_user(user, link=_local(user))
        await sessions.create_session(SessionRecord("h" * 64, user.user_id, 1, 100))
        with pytest.raises(InvalidInputError):
            await sessions.delete_expired_sessions(200, limit=limit)
        assert await sessions.get_session("h" * 64) is not None

    async def test_deleting_a_user_ends_their_sessions(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        user = _user()
        await store.create_user(user, link=_local(user))
        await sessions.create_session(SessionRecord("g" * 64, user.user_id, 1, 100))
        assert await store.delete_user(user.user_id) is True
        assert await sessions.get_session("g" * 64) is None
        assert await sessions.get_session_user("g" * 64) is None

    @staticmethod
    def _directory(store: AuthStore) -> UserDirectory:
        if not isinstance(store, UserDirectory):
            pytest.skip("this store lists no users")
        return store

    async def test_users_are_listed_in_keyset_pages(self, store: AuthStore) -> None:
        directory = self._directory(store)
        # Two users share an email (an OIDC account without one): user_id breaks the tie.
        emails = ["carl@x.io", "ann@x.io", "", "bob@x.io", "", "ann@y.io", "Ann@x.io", "é@x.io"]
        created = [_user(email) for email in emails]
        for i, user in enumerate(created):
            await store.create_user(user, link=_local(user, f"subject-{i}"))
        expected = sorted(created, key=lambda u: (u.email, u.user_id))
        pages: list[list[UserRecord]] = []
        after: tuple[str, str] | None = None
        while True:
            page = await directory.list_users(after=after, limit=3)
            if not page:
                break
            pages.append(page)
            after = (page[-1].email, page[-1].user_id)
        assert [len(p) for p in pages] == [3, 3, 2]
        assert [u for p in pages for u in p] == expected
        assert await directory.list_users(limit=1000) == expected

    async def test_users_are_found_by_exact_email_prefix(self, store: AuthStore) -> None:
        directory = self._directory(store)
        emails = ["ann@x.io", "anna@x.io", "Ann@x.io", "an@x.io", "ann", "bob@x.io"]
        emails.append("ann\U0010ffff")  # the largest code point: no upper bound exists
        for i, email in enumerate(emails):
            user = _user(email)
            await store.create_user(user, link=_local(user, f"subject-{i}"))

        async def found(prefix: str, **more: Any) -> list[str]:
            return [u.email for u in await directory.list_users(email_prefix=prefix, **more)]

        assert await found("ann") == ["ann", "ann@x.io", "anna@x.io", "ann\U0010ffff"]
        assert await found("ann@") == ["ann@x.io"]
        # Case counts (stored emails are normalized; the prefix is compared as given).
        assert await found("Ann") == ["Ann@x.io"]
        assert await found("ann", limit=2) == ["ann", "ann@x.io"]
        page = await directory.list_users(email_prefix="ann", limit=2)
        assert await found("ann", after=(page[-1].email, page[-1].user_id)) == [
            "anna@x.io",
            "ann\U0010ffff",
        ]
        assert await found("\U0010ffff") == []
        assert await found("zzz") == []
        # LIKE wildcards are plain characters.
        assert await found("an%") == []
        assert await found("an_") == []

    @pytest.mark.parametrize(
        "arguments",
        [
            {"limit": 0},
            {"limit": 1001},
            {"limit": True},
            {"email_prefix": "a" * 255},
            {"email_prefix": "a\x00"},
            {"after": ("a@x.io", "")},
        ],
    )
    async def test_bad_listing_arguments_are_refused(
        self, store: AuthStore, arguments: dict[str, Any]
    ) -> None:
        directory = self._directory(store)
        with pytest.raises(InvalidInputError):
            await directory.list_users(**arguments)

    async def test_sessions_of_a_user_are_listed(self, store: AuthStore) -> None:
        sessions = self._sessions(store)
        directory = self._directory(store)
        ann, bob = _user(), _user("bob@example.com")
        for user in (ann, bob):
            await store.create_user(user, link=_local(user))
        records = [
            SessionRecord("2" * 64, ann.user_id, 20, 30),
            SessionRecord("1" * 64, ann.user_id, 20, 40),
            SessionRecord("0" * 64, ann.user_id, 10, 5),  # expired: still listed
            SessionRecord("3" * 64, bob.user_id, 1, 50),
        ]
        for record in records:
            await sessions.create_session(record)
        assert await directory.list_user_sessions(ann.user_id) == [
            records[2],
            records[1],
            records[0],
        ]
        assert await directory.list_user_sessions("nobody") == []

    async def test_close_is_idempotent(self, store: AuthStore) -> None:
        await store.close()
        await store.close()
