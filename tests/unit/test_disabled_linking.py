"""A disabled account is never signed in to through a provider (its link or linking)."""

from __future__ import annotations

import pytest

from pywire_auth import AccountDisabledError, MemoryAuthStore, ProviderLink, UserRecord
from pywire_auth.providers.linking import resolve_user
from pywire_auth.providers.oidc import ExternalIdentity
from pywire_auth.types import LOCAL_PROVIDER

pytestmark = pytest.mark.asyncio

ANN = UserRecord("u1", "ann@example.com", claims={"email_verified": True})
GOOGLE = ExternalIdentity("google", "g-1", "ann@example.com", email_verified=True)


async def _store(*links: ProviderLink) -> MemoryAuthStore:
    store = MemoryAuthStore()
    await store.create_user(ANN, link=ProviderLink(LOCAL_PROVIDER, ANN.email, ANN.user_id))
    for link in links:
        await store.add_link(link)
    return store


async def test_a_linked_identity_of_a_disabled_account_is_refused() -> None:
    store = await _store(ProviderLink("google", "g-1", "u1"))
    assert await resolve_user(store, GOOGLE, trust_email=True) == "u1"
    await store.update_user("u1", disabled=True)
    with pytest.raises(AccountDisabledError):
        await resolve_user(store, GOOGLE, trust_email=True)


async def test_a_disabled_account_is_not_linked_by_its_email() -> None:
    store = await _store()
    await store.update_user("u1", disabled=True)
    with pytest.raises(AccountDisabledError):
        await resolve_user(store, GOOGLE, trust_email=True)
    assert await store.get_links("u1") == [ProviderLink(LOCAL_PROVIDER, ANN.email, "u1")]
