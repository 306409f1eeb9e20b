"""Identity claims follow the provider at each sign-in; our authorization claims stay ours.

Against the real test provider (its ``/test/account`` hook changes an account
between two sign-ins, on a private instance so no other test sees it) and
against GitHub's recorded answers (the picture and the password-account rules).
"""

from __future__ import annotations

import copy
import html

import httpx
import pytest

from pywire_auth import LOCAL_PROVIDER, ProviderLink, UserRecord
from tests.providers.conftest import ALICE, AppFactory, Browser, OidcApp, OwnProvider, make_provider
from tests.providers.test_oauth2_presets import (
    GITHUB_EMAILS,
    GITHUB_USER,
    Recorded,
    github,
    github_sign_in,
)

pytestmark = pytest.mark.asyncio

ALICE_SUB = "alice-0001"


async def change_account(provider: OwnProvider, **fields: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{provider.issuer}/test/account", data={"sub": ALICE_SUB, **fields}
        )
        response.raise_for_status()


async def shown_name(browser: Browser) -> str:
    text = (await browser.app.get("/profile")).text
    start = text.index("Signed in as ") + len("Signed in as ")
    return html.unescape(text[start : text.index("<", start)])


async def grant_role(web: OidcApp, user: UserRecord) -> None:
    await web.idp.store.update_user(user.user_id, claims={**user.claims, "role": "admin"})


async def test_claims_follow_the_real_provider_between_sign_ins(
    own_provider: OwnProvider, oidc_app_factory: AppFactory
) -> None:
    web = await oidc_app_factory(make_provider(own_provider.issuer))
    store = web.idp.store
    first = web.browser()
    assert (await first.sign_in(ALICE)).headers["location"] == "/profile"
    assert await shown_name(first) == "Alice Liddell"
    user = await store.get_user_by_link("oidc", ALICE_SUB)
    assert user is not None
    await grant_role(web, user)

    # The provider now says another name and another verified address.
    await change_account(own_provider, name="Alice Pleasance Liddell", email="alice@wonder.example")
    second = web.browser()
    assert (await second.sign_in(ALICE)).headers["location"] == "/profile"
    assert await shown_name(second) == "Alice Pleasance Liddell"
    assert await second.signed_in_as() == "alice@wonder.example"
    after = await store.get_user_by_link("oidc", ALICE_SUB)
    assert after is not None
    assert after.user_id == user.user_id
    assert (after.name, after.email) == ("Alice Pleasance Liddell", "alice@wonder.example")
    assert after.claims["role"] == "admin"  # ours, kept
    [link] = await store.get_links(user.user_id)
    assert link.claims["name"] == "Alice Pleasance Liddell"
    assert link.claims["email"] == "alice@wonder.example"

    # An address the provider no longer vouches for is not taken over.
    await change_account(own_provider, email="mallory@example.com", email_verified="false")
    third = web.browser()
    assert (await third.sign_in(ALICE)).headers["location"] == "/profile"
    latest = await store.get_user_by_link("oidc", ALICE_SUB)
    assert latest is not None
    assert latest.email == "alice@wonder.example"
    [link] = await store.get_links(user.user_id)
    assert (link.claims["email"], link.claims["email_verified"]) == ("mallory@example.com", False)


async def test_github_refresh_keeps_our_claims_and_a_password_accounts_email(
    oidc_app_factory: AppFactory,
) -> None:
    recorded = Recorded(copy.deepcopy(GITHUB_USER), copy.deepcopy(GITHUB_EMAILS))
    web = await oidc_app_factory(github(recorded))
    store = web.idp.store
    # A password account (verified email, a role) that linked GitHub earlier.
    owner = UserRecord(
        "u-1", "ann@example.com", "Ann", claims={"role": "editor", "email_verified": True}
    )
    await store.create_user(owner, link=ProviderLink(LOCAL_PROVIDER, owner.email, owner.user_id))
    await store.add_link(ProviderLink("github", "583231", owner.user_id, {"name": "old"}))

    browser = web.browser()
    assert await github_sign_in(browser, recorded) is None
    assert await shown_name(browser) == "The Octocat"
    user = await store.get_user(owner.user_id)
    assert user is not None
    # Its address is its password sign-in name: GitHub's does not replace it.
    assert user.email == "ann@example.com"
    assert dict(user.claims) == {
        "role": "editor",
        "email_verified": True,
        "picture": "https://avatars.githubusercontent.com/u/583231?v=4",
    }
    links = {link.provider: link for link in await store.get_links(owner.user_id)}
    assert links["github"].claims["email"] == "octocat@github.com"

    # GitHub now sends claims that must not reach the user: an unverified
    # primary email that says email_verified, a script URL as the picture.
    recorded.me = {**GITHUB_USER, "name": "Mona", "avatar_url": "javascript:alert(1)"}
    recorded.emails = [{"email": "ann@example.com", "verified": False, "primary": True}]
    assert await github_sign_in(web.browser(), recorded) is None
    user = await store.get_user(owner.user_id)
    assert user is not None
    assert user.name == "Mona"
    assert dict(user.claims) == {"role": "editor", "email_verified": True}
    links = {link.provider: link for link in await store.get_links(owner.user_id)}
    assert links["github"].claims["email_verified"] is False


async def test_new_email_taken_by_a_password_account_is_not_copied(
    oidc_app_factory: AppFactory,
) -> None:
    recorded = Recorded(copy.deepcopy(GITHUB_USER), copy.deepcopy(GITHUB_EMAILS))
    web = await oidc_app_factory(github(recorded))
    store = web.idp.store
    assert await github_sign_in(web.browser(), recorded) is None
    other = UserRecord("u-2", "bob@example.com")
    await store.create_user(other, link=ProviderLink(LOCAL_PROVIDER, other.email, "u-2"))
    recorded.emails = [{"email": "Bob@example.com", "verified": True, "primary": True}]
    assert await github_sign_in(web.browser(), recorded) is None
    user = await store.get_user_by_link("github", "583231")
    assert user is not None
    assert user.email == "octocat@github.com"
    # With a free address, a GitHub-only account follows GitHub's.
    recorded.emails = [{"email": "mona@github.com", "verified": True, "primary": True}]
    assert await github_sign_in(web.browser(), recorded) is None
    user = await store.get_user_by_link("github", "583231")
    assert user is not None
    assert user.email == "mona@github.com"
