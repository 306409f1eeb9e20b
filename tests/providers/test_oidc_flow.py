"""The whole external sign-in over HTTP, against a real OpenID Connect provider."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from pywire_auth import ERROR_CODES, LOCAL_PROVIDER, normalize_email
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from tests.providers.conftest import (
    ALICE,
    BOB,
    CAROL,
    AppFactory,
    OidcApp,
    OwnProvider,
    error_of,
    make_provider,
)
from tests.web.conftest import COOKIE, PASSWORD

pytestmark = pytest.mark.asyncio


async def test_first_sign_in_creates_user_and_link(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    url = await browser.start_login("/profile")
    query = parse_qs(urlsplit(url).query)
    # PKCE S256, state and nonce on every login.
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"][0]
    assert query["nonce"][0]
    response = await browser.callback(await browser.at_provider(url, ALICE))
    assert response.status_code == 303
    assert response.headers["location"] == "/profile"
    assert await browser.signed_in_as() == ALICE
    user = await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001")
    assert user is not None
    assert user.email == ALICE
    links = await oidc_app.idp.store.get_links(user.user_id)
    assert [(link.provider, link.subject) for link in links] == [("oidc", "alice-0001")]
    assert links[0].claims["email_verified"] is True


async def test_second_sign_in_finds_the_link(oidc_app: OidcApp) -> None:
    first = oidc_app.browser()
    await first.sign_in(ALICE)
    user = await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001")
    second = oidc_app.browser()
    response = await second.sign_in(ALICE, "/")
    assert response.headers["location"] == "/"
    assert await second.signed_in_as() == ALICE
    again = await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001")
    assert user is not None
    assert again is not None
    assert again.user_id == user.user_id
    assert len(oidc_app.idp.store._users) == 1  # type: ignore[attr-defined]


async def test_sign_in_rotates_an_existing_session(oidc_app: OidcApp) -> None:
    # Session fixation: a session id planted before sign-in is not the one after it.
    browser = oidc_app.browser()
    await browser.sign_in(ALICE)
    before = browser.app.cookies[COOKIE]
    await browser.sign_in(ALICE)
    assert browser.app.cookies[COOKIE] != before
    assert await browser.signed_in_as() == ALICE


async def test_unsafe_next_is_replaced(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    response = await browser.sign_in(ALICE, "//evil.example/")
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("state", [None, "", "wrong-state"])
async def test_state_missing_or_wrong_signs_no_one_in(oidc_app: OidcApp, state: str | None) -> None:
    browser = oidc_app.browser()
    url = await browser.at_provider(await browser.start_login(), ALICE)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if state is None:
        del query["state"]
    else:
        query["state"] = state
    response = await browser.app.get("/auth/oidc/callback?" + urlencode(query))
    assert error_of(response) == "provider"
    assert await browser.signed_in_as() is None


async def test_replayed_callback_is_refused(oidc_app: OidcApp) -> None:
    # An attacker who copied both the callback URL and the pending-login cookie
    # (for example from a shared computer) cannot use them a second time.
    browser = oidc_app.browser()
    url = await browser.at_provider(await browser.start_login(), ALICE)
    pending = dict(browser.app.cookies)
    assert (await browser.callback(url)).headers["location"] == "/profile"
    replay = oidc_app.browser()
    for name, value in pending.items():
        replay.app.cookies.set(name, value)
    response = await replay.callback(url)
    assert error_of(response) == "provider"
    assert await replay.signed_in_as() is None


async def test_callback_in_another_browser_signs_no_one_in(oidc_app: OidcApp) -> None:
    # Login CSRF: the attacker signs in at the provider and makes the victim's
    # browser open the callback, hoping the victim ends up in the attacker's account.
    attacker = oidc_app.browser()
    url = await attacker.at_provider(await attacker.start_login(), CAROL)
    victim = oidc_app.browser()
    response = await victim.callback(url)
    assert error_of(response) == "provider"
    assert await victim.signed_in_as() is None
    # The attacker's own browser could still finish: the refusal was the binding.
    assert (await attacker.callback(url)).headers["location"] == "/profile"


async def test_user_cancels(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    url = await browser.at_provider(await browser.start_login(), None, cancel=True)
    assert parse_qs(urlsplit(url).query)["error"] == ["access_denied"]
    response = await browser.callback(url)
    assert error_of(response) == "cancelled"
    assert await browser.signed_in_as() is None


async def test_mix_up_iss_in_the_authorization_response_is_refused(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    url = await browser.at_provider(await browser.start_login(), ALICE)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["iss"] == oidc_app.provider.issuer  # the provider sends RFC 9207 iss
    for iss in ("http://127.0.0.1:1", None):
        tampered = dict(query)
        if iss is None:
            del tampered["iss"]  # it announced the parameter, so it must be there
        else:
            tampered["iss"] = iss
        replay = await browser.app.get("/auth/oidc/callback?" + urlencode(tampered))
        assert error_of(replay) == "provider"
    assert await browser.signed_in_as() is None


async def test_every_error_code_is_in_the_vocabulary() -> None:
    assert {"cancelled", "provider", "unavailable", "link_required"} <= ERROR_CODES


# Linking to existing accounts ---------------------------------------------------


async def test_existing_unverified_local_account_needs_linking(
    issuer: str, oidc_app_factory: AppFactory
) -> None:
    # Pre-hijacking: someone registered alice's address with their own password.
    web = await oidc_app_factory(make_provider(issuer, trust_email=True))
    await web.idp.create_user(email=ALICE, password=PASSWORD)
    browser = web.browser()
    response = await browser.sign_in(ALICE)
    assert error_of(response) == "link_required"
    assert await browser.signed_in_as() is None
    assert await web.idp.store.get_user_by_link("oidc", "alice-0001") is None


async def test_verified_accounts_link_when_the_provider_is_trusted(
    issuer: str, oidc_app_factory: AppFactory
) -> None:
    web = await oidc_app_factory(make_provider(issuer, trust_email=True))
    await web.idp.create_user(email=CAROL, password=PASSWORD)
    local = await web.idp.store.get_user_by_link(LOCAL_PROVIDER, normalize_email(CAROL))
    assert local is not None
    await web.idp.store.update_user(local.user_id, claims={"email_verified": True})
    browser = web.browser()
    response = await browser.sign_in(CAROL)
    assert response.headers["location"] == "/profile"
    assert await browser.signed_in_as() == CAROL
    linked = await web.idp.store.get_user_by_link("oidc", "carol-0003")
    assert linked is not None
    assert linked.user_id == local.user_id


@pytest.mark.parametrize(("trusted", "email"), [(False, CAROL), (True, BOB)])
async def test_no_auto_link_without_trust_or_provider_verification(
    issuer: str, oidc_app_factory: AppFactory, trusted: bool, email: str
) -> None:
    web = await oidc_app_factory(make_provider(issuer, trust_email=trusted))
    await web.idp.create_user(email=email, password=PASSWORD)
    local = await web.idp.store.get_user_by_link(LOCAL_PROVIDER, normalize_email(email))
    assert local is not None
    await web.idp.store.update_user(local.user_id, claims={"email_verified": True})
    browser = web.browser()
    assert error_of(await browser.sign_in(email)) == "link_required"
    assert await browser.signed_in_as() is None


async def test_unverified_provider_email_is_not_kept(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    assert (await browser.sign_in(BOB)).headers["location"] == "/profile"
    user = await oidc_app.idp.store.get_user_by_link("oidc", "bob-0002")
    assert user is not None
    assert user.email == ""


# Breaking the provider --------------------------------------------------------------


async def test_provider_down_at_callback(
    own_provider: OwnProvider, oidc_app_factory: AppFactory
) -> None:
    web = await oidc_app_factory(make_provider(own_provider.issuer, timeout=3.0))
    browser = web.browser()
    url = await browser.at_provider(await browser.start_login(), ALICE)
    await own_provider.stop()
    response = await browser.callback(url)
    assert error_of(response) == "unavailable"
    assert await browser.signed_in_as() is None


async def test_provider_down_at_login(
    own_provider: OwnProvider, oidc_app_factory: AppFactory
) -> None:
    web = await oidc_app_factory(make_provider(own_provider.issuer, timeout=3.0))
    await own_provider.stop()
    response = await web.browser().app.get("/auth/oidc/login")
    assert error_of(response) == "unavailable"


async def test_key_rotation_without_restart(
    own_provider: OwnProvider, oidc_app_factory: AppFactory
) -> None:
    web = await oidc_app_factory(make_provider(own_provider.issuer, jwks_refetch_interval=0))
    first = web.browser()
    assert (await first.sign_in(ALICE)).headers["location"] == "/profile"
    await own_provider.rotate_keys()
    second = web.browser()
    assert (await second.sign_in(ALICE)).headers["location"] == "/profile"
    assert await second.signed_in_as() == ALICE


# On every SQL backend, with its default (SQL) throttle burning states -------------


async def test_sign_in_and_replay_on_sql_stores(
    issuer: str, oidc_app_factory: AppFactory, sql_url: str
) -> None:
    store = SQLAlchemyAuthStore(sql_url)
    await store.create_tables()
    web = await oidc_app_factory(make_provider(issuer), store=store)
    browser = web.browser()
    url = await browser.at_provider(await browser.start_login(), ALICE)
    pending = dict(browser.app.cookies)
    assert (await browser.callback(url)).headers["location"] == "/profile"
    assert await browser.signed_in_as() == ALICE
    # A second worker process: same secret and database, its own memory.
    other_worker = await oidc_app_factory(make_provider(issuer), store=SQLAlchemyAuthStore(sql_url))
    replay = other_worker.browser()
    for name, value in pending.items():
        replay.app.cookies.set(name, value)
    assert error_of(await replay.callback(url)) == "provider"
    again = other_worker.browser()
    assert (await again.sign_in(ALICE)).headers["location"] == "/profile"
    assert await again.signed_in_as() == ALICE
