"""The admin pages: who gets in, CSRF, each action reaching live pages, pages, escaping."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pywire.auth import AuthEvent, PolicyContext

from pywire_auth import (
    LOCAL_PROVIDER,
    AdminOptions,
    AuthActions,
    ConfigurationError,
    MemoryAuthStore,
    ProviderLink,
    UserDirectory,
    UserRecord,
)
from tests.web.conftest import (
    EVIL,
    ORIGIN,
    PASSWORD,
    AppFactory,
    WebApp,
    post_form,
    register,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio

ADMIN = "/auth/admin"
# Policy, CSRF and action plumbing do not depend on the store: one backend is enough.
memory_only = pytest.mark.parametrize("web_backend", ["memory"], indirect=True)


async def admin_app(app_factory: AppFactory, **options: Any) -> WebApp:
    return await app_factory(admin=AdminOptions(**options))


def actions(web: WebApp) -> AuthActions:
    auth = web.app.state.auth
    assert isinstance(auth, AuthActions)
    return auth


async def signed_in(
    web: WebApp, email: str, *, role: str | None = None
) -> tuple[httpx.AsyncClient, UserRecord]:
    client = web.client()
    assert (await register(client, email)).status_code == 303
    user = await web.user(email)
    assert user is not None
    if role is not None:
        await actions(web).grant(user.user_id, "role", role)
    return client, user


def user_url(user: UserRecord) -> str:
    return f"{ADMIN}/users/{user.user_id}"


def query_of(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 303, (response.status_code, response.text)
    return parse_qs(urlsplit(response.headers["location"]).query)


def assert_admin_headers(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none'
    assert response.headers["x-content-type-options"] == "nosniff"


@asynccontextmanager
async def events_for(web: WebApp, user: UserRecord) -> AsyncIterator[AsyncIterator[AuthEvent]]:
    async with web.app.state.auth_channel.subscribe(f"local:{user.user_id}") as subscription:
        yield subscription


async def next_event(subscription: AsyncIterator[AuthEvent]) -> AuthEvent:
    return await asyncio.wait_for(anext(subscription), 5.0)


# Who gets in ---------------------------------------------------------------------------


@memory_only
async def test_anonymous_visitors_are_sent_to_sign_in(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    _, ann = await signed_in(web, "ann@example.com")
    anonymous = web.client()
    for response in (
        await anonymous.get(ADMIN + "?q=a"),
        await anonymous.get(user_url(ann)),
        await post_form(anonymous, user_url(ann) + "/grant", {"claim": "role", "value": "admin"}),
    ):
        assert response.status_code == 303
        target = urlsplit(response.headers["location"])
        assert target.path == "/login_local"
        assert parse_qs(target.query)["next"][0].startswith(ADMIN)
        assert_admin_headers(response)
    assert (await web.user("ann@example.com")) == ann


@memory_only
async def test_signed_in_users_without_the_claim_get_403(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    client, ann = await signed_in(web, "ann@example.com", role="editor")
    for response in (
        await client.get(ADMIN),
        await client.get(user_url(ann)),
        await post_form(client, user_url(ann) + "/grant", {"claim": "role", "value": "admin"}),
        await post_form(client, user_url(ann) + "/delete", {"confirm": "yes"}),
    ):
        assert response.status_code == 403
        assert_admin_headers(response)
    stored = await web.user("ann@example.com")
    assert stored is not None
    assert stored.claims == {"role": "editor"}


@memory_only
async def test_the_default_policy_is_role_admin(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    client, _ = await signed_in(web, "ann@example.com", role="admin")
    response = await client.get(ADMIN)
    assert response.status_code == 200
    assert_admin_headers(response)
    assert "ann@example.com" in response.text


@memory_only
async def test_an_app_policy_of_that_name_wins(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory, policy="staff")
    engine = web.app.state.auth_engine
    client, _ = await signed_in(web, "ann@example.com", role="staff")
    assert (await client.get(ADMIN)).status_code == 200
    # The app redefines the policy after connect_auth: the pages follow it.
    engine.add_policy("staff", requires_claim=("team", "ops"))
    assert (await client.get(ADMIN)).status_code == 403


@memory_only
@pytest.mark.parametrize("is_async", [False, True])
async def test_a_callable_policy(app_factory: AppFactory, is_async: bool) -> None:
    def ops_only(ctx: PolicyContext) -> bool:
        return str(ctx.principal.claim_value("email")).endswith("@ops.example")

    async def ops_only_async(ctx: PolicyContext) -> bool:
        return ops_only(ctx)

    web = await admin_app(app_factory, policy=ops_only_async if is_async else ops_only)
    ops, _ = await signed_in(web, "eve@ops.example")
    other, _ = await signed_in(web, "bob@example.com", role="admin")
    assert (await ops.get(ADMIN)).status_code == 200
    assert (await other.get(ADMIN)).status_code == 403


@memory_only
async def test_a_store_that_cannot_list_users_is_refused(app_factory: AppFactory) -> None:
    class Unlisted(MemoryAuthStore):
        list_users = None  # type: ignore[assignment]

    with pytest.raises(ConfigurationError, match="UserDirectory"):
        await app_factory(store=Unlisted(), admin=AdminOptions())


# CSRF and methods ----------------------------------------------------------------------


@memory_only
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Sec-Fetch-Site": "cross-site", "Origin": ORIGIN},
        {"Origin": "null"},
        {"Referer": EVIL + "/page"},
    ],
    ids=["origin", "sec-fetch-site", "null-origin", "referer"],
)
async def test_cross_site_actions_are_refused(
    app_factory: AppFactory, headers: dict[str, str]
) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    victim, ann = await signed_in(web, "ann@example.com")
    for action, fields in (
        ("grant", {"claim": "role", "value": "admin"}),
        ("revoke-sessions", {}),
        ("delete", {"confirm": "yes"}),
    ):
        response = await post_form(admin, f"{user_url(ann)}/{action}", fields, headers=headers)
        assert response.status_code == 403, action
    assert await web.user("ann@example.com") == ann
    assert await signed_in_as(victim) == "ann@example.com"


@memory_only
async def test_pages_answer_only_their_methods(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, ann = await signed_in(web, "root@example.com", role="admin")
    assert (await admin.get(user_url(ann) + "/delete")).status_code == 405
    response = await post_form(admin, ADMIN, {})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


# Actions -------------------------------------------------------------------------------


async def test_grant_and_revoke_a_claim_reach_live_pages(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    _, ann = await signed_in(web, "ann@example.com")
    async with events_for(web, ann) as events:
        granted = await post_form(
            admin, user_url(ann) + "/grant", {"claim": "team", "value": "red"}
        )
        assert query_of(granted)["done"] == ["granted"]
        assert_admin_headers(granted)
        event = await next_event(events)
        assert event.kind == "update"
        assert event.principal is not None
        assert event.principal.has_claim("team", "red")
        revoked = await post_form(
            admin, user_url(ann) + "/revoke-claim", {"claim": "team", "value": "red"}
        )
        assert query_of(revoked)["done"] == ["claim_revoked"]
        event = await next_event(events)
        assert event.principal is not None
        assert not event.principal.has_claim("team")
    stored = await web.user("ann@example.com")
    assert stored is not None
    assert "team" not in stored.claims
    page = await admin.get(revoked.headers["location"])
    assert "Claim revoked." in page.text


@memory_only
async def test_json_and_list_claim_values_are_revoked_one_by_one(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    _, ann = await signed_in(web, "ann@example.com")
    await web.store.update_user(ann.user_id, claims={"verified": True, "role": ["a", "b"]})
    page = (await admin.get(user_url(ann))).text
    assert '<input type="hidden" name="value" value="true">' in page
    for fields in ({"claim": "verified", "value": "true"}, {"claim": "role", "value": "a"}):
        response = await post_form(admin, user_url(ann) + "/revoke-claim", fields)
        assert query_of(response)["done"] == ["claim_revoked"], fields
    stored = await web.user("ann@example.com")
    assert stored is not None
    assert stored.claims == {"role": "b"}
    gone = await post_form(admin, user_url(ann) + "/revoke-claim", {"claim": "role", "value": "a"})
    assert query_of(gone)["error"] == ["not_found"]


@memory_only
async def test_bad_claims_are_refused(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    _, ann = await signed_in(web, "ann@example.com")
    for fields, code in (
        ({"claim": "email", "value": "x@evil.example"}, "reserved"),
        ({"claim": "", "value": "x"}, "invalid"),
        ({"claim": "role", "value": ""}, "invalid"),
        ({"claim": "r" * 65, "value": "x"}, "invalid"),
        ({"claim": "role", "value": "a\nb"}, "invalid"),
    ):
        response = await post_form(admin, user_url(ann) + "/grant", fields)
        assert query_of(response)["error"] == [code], fields
    missing = await post_form(
        admin, f"{ADMIN}/users/{uuid.uuid4()}/grant", {"claim": "role", "value": "x"}
    )
    assert query_of(missing)["error"] == ["not_found"]
    assert await web.user("ann@example.com") == ann


async def test_revoking_sessions_signs_the_user_out_everywhere(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    victim, ann = await signed_in(web, "ann@example.com")
    page = await admin.get(user_url(ann))
    assert page.text.count("active</td>") == 1
    async with events_for(web, ann) as events:
        response = await post_form(admin, user_url(ann) + "/revoke-sessions")
        assert query_of(response)["done"] == ["sessions_revoked"]
        assert (await next_event(events)).kind == "revoke"
    assert await signed_in_as(victim) is None
    assert "No sessions." in (await admin.get(user_url(ann))).text


async def test_ending_one_session_signs_out_only_that_browser(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    laptop, ann = await signed_in(web, "ann@example.com")
    phone = web.client()
    await post_form(phone, "/auth/local/login", {"email": "ann@example.com", "password": PASSWORD})
    assert await signed_in_as(phone) == "ann@example.com"
    directory = web.store
    assert isinstance(directory, UserDirectory)
    first, second = await directory.list_user_sessions(ann.user_id)
    page = (await admin.get(user_url(ann))).text
    assert f'name="session" value="{first.session_id}"' in page
    async with events_for(web, ann) as events:
        response = await post_form(
            admin, user_url(ann) + "/revoke-session", {"session": first.session_id}
        )
        assert query_of(response)["done"] == ["session_revoked"]
        # An update, not a revoke: each page checks whether its own session is gone.
        assert (await next_event(events)).kind == "update"
    assert await directory.list_user_sessions(ann.user_id) == [second]
    # Both signed in within the same second: which one is listed first is the id's order.
    signed_in_now = [await signed_in_as(client) for client in (laptop, phone)]
    assert signed_in_now.count(None) == 1
    assert signed_in_now.count("ann@example.com") == 1
    # Another account's session, or one already ended, is not found.
    _, bob = await signed_in(web, "bob@example.com")
    (bobs,) = await directory.list_user_sessions(bob.user_id)
    for session in (first.session_id, bobs.session_id, ""):
        again = await post_form(admin, user_url(ann) + "/revoke-session", {"session": session})
        assert query_of(again)["error"] == ["not_found"]
    assert await directory.list_user_sessions(bob.user_id) == [bobs]


@memory_only
async def test_delete_needs_confirmation_then_removes_the_account(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    victim, ann = await signed_in(web, "ann@example.com")
    unconfirmed = await post_form(admin, user_url(ann) + "/delete", {})
    assert query_of(unconfirmed)["error"] == ["confirm"]
    assert await web.user("ann@example.com") == ann
    async with events_for(web, ann) as events:
        response = await post_form(admin, user_url(ann) + "/delete", {"confirm": "yes"})
        assert urlsplit(response.headers["location"]).path == ADMIN
        assert query_of(response)["done"] == ["deleted"]
        assert (await next_event(events)).kind == "revoke"
    assert await web.user("ann@example.com") is None
    assert await signed_in_as(victim) is None
    assert (await admin.get(user_url(ann))).status_code == 404
    again = await post_form(admin, user_url(ann) + "/delete", {"confirm": "yes"})
    assert query_of(again)["error"] == ["not_found"]


async def test_disable_signs_the_account_out_and_refuses_its_password_until_enabled(
    app_factory: AppFactory,
) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    victim, ann = await signed_in(web, "ann@example.com")
    assert 'action="' + user_url(ann) + '/disable"' in (await admin.get(user_url(ann))).text
    async with events_for(web, ann) as events:
        response = await post_form(admin, user_url(ann) + "/disable", {})
        assert query_of(response)["done"] == ["disabled"]
        assert (await next_event(events)).kind == "revoke"
    assert await signed_in_as(victim) is None
    credentials = {"email": "ann@example.com", "password": PASSWORD}
    refused = await post_form(web.client(), "/auth/local/login", credentials)
    assert query_of(refused)["error"] == ["disabled"]
    page = (await admin.get(user_url(ann))).text
    assert "<td>disabled</td>" in page
    assert 'action="' + user_url(ann) + '/enable"' in page
    enabled = await post_form(admin, user_url(ann) + "/enable", {})
    assert query_of(enabled)["done"] == ["enabled"]
    browser = web.client()
    await post_form(browser, "/auth/local/login", credentials)
    assert await signed_in_as(browser) == "ann@example.com"
    # Cross-site, it changes nothing.
    forged = await post_form(
        admin, user_url(ann) + "/disable", {}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    assert await signed_in_as(browser) == "ann@example.com"


# Pages ---------------------------------------------------------------------------------


async def add_users(web: WebApp, emails: list[str], **fields: Any) -> list[UserRecord]:
    created = []
    for email in emails:
        user = UserRecord(str(uuid.uuid4()), email, **fields)
        await web.store.create_user(user, link=ProviderLink(LOCAL_PROVIDER, email, user.user_id))
        created.append(user)
    return created


def listed_emails(page: str) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'/users/[^"]+">([^<]*)</a>', page)]


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found[1]) if found else None


async def test_accounts_are_listed_in_keyset_pages(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory, page_size=3)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    await add_users(web, [f"user{i}@example.com" for i in range(7)])
    seen: list[str] = []
    url: str | None = ADMIN
    pages = 0
    while url is not None:
        response = await admin.get(url)
        assert response.status_code == 200
        assert_admin_headers(response)
        seen += listed_emails(response.text)
        url = next_link(response.text)
        pages += 1
        assert pages <= 4
    everyone = sorted([f"user{i}@example.com" for i in range(7)] + ["root@example.com"])
    assert seen == everyone
    assert pages == 3


async def test_search_by_email_prefix(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory, page_size=2)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    await add_users(web, ["ann@example.com", "anna@example.com", "annie@example.com", "bob@x.io"])
    first = await admin.get(ADMIN, params={"q": " ANN"})  # normalized like stored emails
    assert listed_emails(first.text) == ["ann@example.com", "anna@example.com"]
    link = next_link(first.text)
    assert link is not None
    assert "q=ann" in link
    second = await admin.get(link)
    assert listed_emails(second.text) == ["annie@example.com"]
    assert next_link(second.text) is None
    assert "First page" in second.text
    nothing = await admin.get(ADMIN, params={"q": "zed"})
    assert "No accounts match." in nothing.text
    bad_cursor = await admin.get(ADMIN, params={"after_email": "a", "after_id": "x" * 65})
    assert bad_cursor.status_code == 200
    assert "not accepted" in bad_cursor.text


HOSTILE_EMAIL = '"><script>alert(1)</script>@evil.example'
HOSTILE_NAME = "<img src=x onerror=alert(2)>"
HOSTILE_CLAIM = "</td><script>alert(3)</script>"


async def test_hostile_emails_names_and_claims_stay_text(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    (user,) = await add_users(
        web, [HOSTILE_EMAIL], name=HOSTILE_NAME, claims={"x<y": HOSTILE_CLAIM}
    )
    listing = (await admin.get(ADMIN)).text
    account = (await admin.get(f"{ADMIN}/users/{user.user_id}")).text
    for page in (listing, account):
        assert "<script>" not in page
        assert "<img" not in page
        assert html.escape(HOSTILE_EMAIL) in page
    assert html.escape(HOSTILE_NAME) in listing
    assert html.escape(HOSTILE_CLAIM) in account
    assert html.escape("x<y") in account
    assert listed_emails(listing) == sorted([HOSTILE_EMAIL, "root@example.com"])


@memory_only
async def test_messages_come_from_codes_not_from_the_url(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, ann = await signed_in(web, "root@example.com", role="admin")
    page = await admin.get(user_url(ann), params={"done": "<b>pwned</b>", "error": "<i>x</i>"})
    assert "pwned" not in page.text
    assert "<i>" not in page.text
    page = await admin.get(user_url(ann), params={"error": "reserved"})
    assert "cannot be set as claims" in page.text


async def test_account_page_shows_links_claims_and_sessions(app_factory: AppFactory) -> None:
    web = await admin_app(app_factory)
    admin, _ = await signed_in(web, "root@example.com", role="admin")
    _, ann = await signed_in(web, "ann@example.com", role="editor")
    await web.store.add_link(ProviderLink("google", "g-123", ann.user_id))
    page = (await admin.get(user_url(ann))).text
    assert "g-123" in page
    assert ">google<" in page
    assert ">local<" in page
    assert ">editor<" in page
    assert page.count("active</td>") == 1
