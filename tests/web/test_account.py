"""The account routes end to end, against a real SMTP server on loopback.

Every route that mails is followed the way a user would: read the message the
server received, open its link, post the page's form.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from pywire_auth import MemoryAuthStore
from pywire_auth.account.links import LinkTokens
from pywire_auth.mail import SMTPMailer
from pywire_auth.sessions import SessionManager
from tests.web._smtp import SMTPServer, html_of, link_in, text_of, token_of
from tests.web.conftest import (
    PASSWORD,
    SESSION_SECRET,
    AppFactory,
    WebApp,
    assert_cookie_cleared,
    error_code,
    location,
    login,
    post_form,
    register,
    session_cookie_value,
    signed_in_as,
    token,
)

pytestmark = pytest.mark.asyncio

BASE = "https://shop.example.com"
SENDER = "Shop <no-reply@shop.example.com>"
FORGOT = "/auth/local/forgot-password"
RESET = "/auth/local/reset-password"
VERIFY_REQUEST = "/auth/local/verify-email/request"
VERIFY = "/auth/local/verify-email"
CHANGE = "/auth/local/change-password"
DELETE = "/auth/local/delete-account"
CHANGE_EMAIL = "/auth/local/change-email"
NEW_PASSWORD = "a brand new passphrase"
ANN = "ann@example.com"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def web(app_factory: AppFactory, smtp: SMTPServer) -> WebApp:
    """The app with an SMTP mailer and a configured public base URL."""
    return await app_factory(mailer=SMTPMailer.from_url(smtp.url, sender=SENDER), base_url=BASE)


def path_of(link: str) -> str:
    """The link as a request to the app under test (its host is the public one)."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def forgot(client: httpx.AsyncClient, email: str, **headers: str) -> httpx.Response:
    sent = {"Origin": "http://testserver", **headers}
    return await post_form(
        client, FORGOT, {"email": email, "next": "/forgot_password?sent=1"}, headers=sent
    )


async def reset_link(web: WebApp, smtp: SMTPServer, email: str = ANN) -> str:
    response = await forgot(web.client(), email)
    assert location(response) == "/forgot_password?sent=1"
    return link_in(smtp.last_to(email))


async def reset(
    client: httpx.AsyncClient, token_value: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await post_form(
        client, RESET, {"token": token_value, "password": password, "next": "/profile"}
    )


# Forgot and reset --------------------------------------------------------------


async def test_forgot_mail_link_reset_signs_in_and_ends_every_other_session(
    web: WebApp, smtp: SMTPServer
) -> None:
    laptop, phone = web.client(), web.client(address=("10.0.0.2", 1))
    await register(laptop, ANN)
    await login(phone, ANN)
    assert await signed_in_as(phone) == ANN

    link = await reset_link(web, smtp)
    message = smtp.last_to(ANN)
    assert message["From"] == SENDER
    assert link.startswith(f"{BASE}/reset_password?token=")
    assert link in html_of(message) or link.replace("&", "&amp;") in html_of(message)
    assert "30 minutes" in text_of(message)

    stranger = web.client(address=("10.0.0.3", 1))
    page = await stranger.get(path_of(link))
    assert page.status_code == 200
    # The page carries the token in its URL: it must not leak in a Referer.
    assert page.headers["referrer-policy"] == "no-referrer"
    assert token_of(link) in page.text  # the form's hidden field

    response = await reset(stranger, token_of(link))
    assert location(response) == "/profile"
    assert session_cookie_value(response)
    assert await signed_in_as(stranger) == ANN
    assert await signed_in_as(laptop) is None
    assert await signed_in_as(phone) is None
    assert error_code(await login(web.client(), ANN, PASSWORD)) == "invalid"
    assert location(await login(web.client(), ANN, NEW_PASSWORD)) == "/"


async def test_a_reset_link_works_once(web: WebApp, smtp: SMTPServer) -> None:
    await register(web.client(), ANN)
    value = token_of(await reset_link(web, smtp))
    assert location(await reset(web.client(), value)) == "/profile"
    again = await reset(web.client(), value, "yet another passphrase")
    assert error_code(again) == "token_invalid"
    assert await web.idp.verify_credentials(email=ANN, password=NEW_PASSWORD) is not None


async def test_a_password_change_kills_outstanding_reset_links(
    web: WebApp, smtp: SMTPServer
) -> None:
    browser = web.client()
    await register(browser, ANN)
    value = token_of(await reset_link(web, smtp))
    changed = await post_form(
        browser, CHANGE, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert location(changed) == "/"
    assert error_code(await reset(web.client(), value, "attacker passphrase!")) == "token_invalid"
    assert await web.idp.verify_credentials(email=ANN, password=NEW_PASSWORD) is not None


async def test_a_link_for_one_user_cannot_act_on_another(web: WebApp, smtp: SMTPServer) -> None:
    await register(web.client(), ANN)
    await register(web.client(), "bob@example.com")
    ann = token_of(await reset_link(web, smtp, ANN))
    bob = token_of(await reset_link(web, smtp, "bob@example.com"))
    # Ann's MAC with Bob's user id: the MAC binds the user it was made for.
    forged = ".".join([bob.split(".")[0], *ann.split(".")[1:]])
    assert error_code(await reset(web.client(), forged)) == "token_invalid"
    assert await web.idp.verify_credentials(email="bob@example.com", password=PASSWORD)


async def test_a_database_leak_yields_no_link(web: WebApp) -> None:
    """The state the MAC covers is in the database; the key (from the secret) is not."""
    await register(web.client(), ANN)
    user = await web.user(ANN)
    assert user is not None
    pw_hash = await web.store.get_password_hash(user.user_id)
    assert pw_hash is not None
    guessed_key = LinkTokens(b"not the server's secret, but 32+ bytes long")
    forged = guessed_key.issue("reset", user.user_id, state=pw_hash, ttl=600)
    assert error_code(await reset(web.client(), forged)) == "token_invalid"


async def test_an_expired_link_says_so(web: WebApp) -> None:
    await register(web.client(), ANN)
    user = await web.user(ANN)
    assert user is not None
    pw_hash = await web.store.get_password_hash(user.user_id)
    key = SessionManager(MemoryAuthStore(), SESSION_SECRET).derive_key("account-link")
    past = LinkTokens(key, clock=lambda: time.time() - 3600)
    stale = past.issue("reset", user.user_id, state=pw_hash or "", ttl=1800)
    assert error_code(await reset(web.client(), stale)) == "token_expired"


async def test_a_weak_new_password_keeps_the_link_usable(web: WebApp, smtp: SMTPServer) -> None:
    await register(web.client(), ANN)
    value = token_of(await reset_link(web, smtp))
    weak = await post_form(
        web.client(),
        RESET,
        {"token": value, "password": "short", "error_next": f"/reset_password?token={value}"},
    )
    assert error_code(weak) == "weak_password"
    assert token_of(location(weak)) == value
    assert location(await reset(web.client(), value)) == "/profile"


# Enumeration, throttling, host header ---------------------------------------------


async def test_unknown_email_gets_the_same_answer_and_no_mail(
    web: WebApp, smtp: SMTPServer
) -> None:
    await register(web.client(), ANN)
    smtp.messages.clear()  # the sign-up's verification mail
    known = await forgot(web.client(), ANN)
    unknown = await forgot(web.client(), "nobody@example.com")
    assert (known.status_code, location(known)) == (unknown.status_code, location(unknown))
    assert known.headers.get_list("set-cookie") == unknown.headers.get_list("set-cookie") == []
    assert [m["To"] for m in smtp.messages] == [ANN]


@pytest.mark.parametrize("exists", [True, False])
async def test_forgot_is_throttled_per_email_alike_for_unknown_ones(
    web: WebApp, smtp: SMTPServer, exists: bool
) -> None:
    email = ANN if exists else "nobody@example.com"
    if exists:
        await register(web.client(), ANN)
        smtp.messages.clear()  # the sign-up's verification mail
    # Three a hour per address (the default), each asked from another client address.
    for n in range(3):
        client = web.client(address=(f"10.1.0.{n}", 1))
        assert location(await forgot(client, email)) == "/forgot_password?sent=1"
    fourth = await forgot(web.client(address=("10.1.0.9", 1)), email)
    assert error_code(fourth) == "throttled"
    assert len(smtp.messages) == (3 if exists else 0)


async def test_forgot_is_throttled_per_client_address(web: WebApp, smtp: SMTPServer) -> None:
    client = web.client(address=("10.2.0.1", 1))
    for n in range(10):
        assert location(await forgot(client, f"user{n}@example.com")).endswith("sent=1")
    assert error_code(await forgot(client, "user10@example.com")) == "throttled"


async def test_links_use_the_base_url_whatever_the_host_header(
    web: WebApp, smtp: SMTPServer
) -> None:
    await register(web.client(), ANN)
    poisoned = await forgot(
        web.client(),
        ANN,
        Host="evil.example",
        Origin="http://evil.example",
        **{"X-Forwarded-Host": "evil.example"},
    )
    assert location(poisoned) == "/forgot_password?sent=1"
    link = link_in(smtp.last_to(ANN))
    assert link.startswith(f"{BASE}/reset_password?token=")
    assert "evil" not in text_of(smtp.last_to(ANN)) + html_of(smtp.last_to(ANN))


async def test_without_a_base_url_mailing_routes_are_unavailable(
    app_factory: AppFactory, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYWIRE_AUTH_BASE_URL", raising=False)
    monkeypatch.delenv("PYWIRE_DEV_MODE", raising=False)
    web = await app_factory(mailer=SMTPMailer.from_url(smtp.url, sender=SENDER))
    await register(web.client(), ANN)
    assert error_code(await forgot(web.client(), ANN)) == "unavailable"
    assert error_code(await forgot(web.client(), "nobody@example.com")) == "unavailable"
    assert smtp.messages == []


async def test_dev_mode_builds_links_from_a_loopback_host_only(
    app_factory: AppFactory, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYWIRE_AUTH_BASE_URL", raising=False)
    monkeypatch.setenv("PYWIRE_DEV_MODE", "1")
    web = await app_factory(mailer=SMTPMailer.from_url(smtp.url, sender=SENDER))
    await register(web.client(), ANN)
    local = web.client(base_url="http://localhost:3000")
    assert location(await forgot(local, ANN, Origin="http://localhost:3000")).endswith("sent=1")
    assert link_in(smtp.last_to(ANN)).startswith("http://localhost:3000/reset_password?token=")
    evil = await forgot(web.client(), ANN, Host="evil.example", Origin="http://evil.example")
    assert error_code(evil) == "unavailable"
    assert len(smtp.messages) == 1


async def test_without_a_mailer_mailing_routes_are_unavailable(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYWIRE_AUTH_SMTP_URL", raising=False)
    monkeypatch.delenv("PYWIRE_DEV_MODE", raising=False)
    web = await app_factory(base_url=BASE)
    browser = web.client()
    await register(browser, ANN)
    assert error_code(await forgot(web.client(), ANN)) == "unavailable"
    assert error_code(await post_form(browser, VERIFY_REQUEST, {})) == "unavailable"


# Verify email ----------------------------------------------------------------------


async def verification_link(browser: httpx.AsyncClient, smtp: SMTPServer) -> str:
    response = await post_form(browser, VERIFY_REQUEST, {"next": "/profile"})
    assert location(response) == "/profile"
    return link_in(smtp.last_to(ANN))


async def test_verify_email_by_mail_sets_the_claim_live(web: WebApp, smtp: SMTPServer) -> None:
    browser = web.client()
    await register(browser, ANN)
    link = await verification_link(browser, smtp)
    assert link.startswith(f"{BASE}/verify_email?token=")
    assert "email_verified" not in (await token(browser)).json()["decoded"]

    page = await web.client().get(path_of(link))
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    # The page's button posts the token; a plain GET of the route works too.
    done = await post_form(web.client(), VERIFY, {"token": token_of(link)})
    assert location(done) == "/verify_email?verified=1"
    assert done.headers["referrer-policy"] == "no-referrer"
    user = await web.user(ANN)
    assert user is not None
    assert user.claims["email_verified"] is True
    # The signed-in browser sees the claim on its next request (no sign-in again).
    assert (await token(browser)).json()["decoded"]["email_verified"] is True

    again = await web.client().get(f"{VERIFY}?token={token_of(link)}")
    assert location(again) == "/verify_email?error=token_invalid"


async def test_verify_email_by_get(web: WebApp, smtp: SMTPServer) -> None:
    browser = web.client()
    await register(browser, ANN)
    value = token_of(await verification_link(browser, smtp))
    assert (await web.client().head(f"{VERIFY}?token={value}")).status_code == 405
    user = await web.user(ANN)
    assert user is not None
    assert "email_verified" not in user.claims
    done = await web.client().get(f"{VERIFY}?token={value}")
    assert location(done) == "/verify_email?verified=1"
    user = await web.user(ANN)
    assert user is not None
    assert user.claims["email_verified"] is True


async def test_a_verification_link_cannot_be_forged_for_another_user(
    web: WebApp, smtp: SMTPServer
) -> None:
    browser = web.client()
    await register(browser, ANN)
    await register(web.client(), "bob@example.com")
    bob = await web.user("bob@example.com")
    assert bob is not None
    ann_token = token_of(await verification_link(browser, smtp))
    # Ann's MAC and expiry under Bob's user id.
    bob_id = base64.urlsafe_b64encode(bob.user_id.encode()).rstrip(b"=").decode()
    forged = ".".join([bob_id, *ann_token.split(".")[1:]])
    response = await web.client().get(f"{VERIFY}?token={forged}")
    assert location(response) == "/verify_email?error=token_invalid"
    assert "email_verified" not in ((await web.user("bob@example.com")) or bob).claims


async def test_requesting_verification_needs_a_session(web: WebApp, smtp: SMTPServer) -> None:
    assert error_code(await post_form(web.client(), VERIFY_REQUEST, {})) == "invalid"
    assert smtp.messages == []


async def test_mail_server_down_is_unavailable_and_changes_nothing(
    web: WebApp, smtp: SMTPServer
) -> None:
    browser = web.client()
    await register(browser, ANN)
    smtp.messages.clear()  # the sign-up's verification mail
    smtp.stop()
    assert error_code(await post_form(browser, VERIFY_REQUEST, {})) == "unavailable"
    # forgot-password mails after answering: the same answer as for unknown emails.
    assert location(await forgot(web.client(), ANN)).endswith("sent=1")
    smtp.start()
    assert smtp.messages == []
    # The outage cost no throttle count: the next request is mailed.
    assert location(await post_form(browser, VERIFY_REQUEST, {"next": "/"})) == "/"
    assert len(smtp.messages) == 1


# Change password ---------------------------------------------------------------------


async def test_change_password_rotates_the_session_and_ends_the_others(
    web: WebApp, smtp: SMTPServer
) -> None:
    laptop, phone = web.client(), web.client(address=("10.0.0.2", 1))
    first = session_cookie_value(await register(laptop, ANN))
    await login(phone, ANN)
    response = await post_form(
        laptop,
        CHANGE,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "next": "/profile"},
    )
    assert location(response) == "/profile"
    rotated = session_cookie_value(response)
    assert rotated
    assert rotated != first
    assert await signed_in_as(laptop) == ANN
    assert await signed_in_as(phone) is None
    assert await web.idp.verify_credentials(email=ANN, password=NEW_PASSWORD) is not None
    assert "password was changed" in smtp.last_to(ANN)["Subject"]


async def test_change_password_refuses_a_wrong_current_password(web: WebApp) -> None:
    browser = web.client()
    await register(browser, ANN)
    wrong = await post_form(
        browser, CHANGE, {"current_password": "not my password", "new_password": NEW_PASSWORD}
    )
    assert error_code(wrong) == "wrong_password"
    assert await signed_in_as(browser) == ANN
    assert await web.idp.verify_credentials(email=ANN, password=PASSWORD) is not None


async def test_change_password_checks_policy_and_needs_a_session(web: WebApp) -> None:
    browser = web.client()
    await register(browser, ANN)
    weak = await post_form(browser, CHANGE, {"current_password": PASSWORD, "new_password": "x"})
    assert error_code(weak) == "weak_password"
    anonymous = await post_form(
        web.client(), CHANGE, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert error_code(anonymous) == "invalid"


async def test_change_password_guesses_are_throttled(web: WebApp) -> None:
    browser = web.client()
    await register(browser, ANN)
    for _ in range(10):
        wrong = await post_form(
            browser, CHANGE, {"current_password": "guess guess", "new_password": NEW_PASSWORD}
        )
        assert error_code(wrong) == "wrong_password"
    right = await post_form(
        browser, CHANGE, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert error_code(right) == "throttled"


async def test_account_routes_refuse_cross_site_posts(web: WebApp, smtp: SMTPServer) -> None:
    await register(web.client(), ANN)
    smtp.messages.clear()  # the sign-up's verification mail
    for path in (FORGOT, RESET, VERIFY_REQUEST, CHANGE, VERIFY, DELETE, CHANGE_EMAIL):
        response = await post_form(
            web.client(), path, {"email": ANN}, headers={"Origin": "http://evil.example"}
        )
        assert response.status_code == 403, path
    assert smtp.messages == []


# Registration and deletion -------------------------------------------------------------


async def test_registration_mails_the_first_verification_link(
    web: WebApp, smtp: SMTPServer
) -> None:
    await register(web.client(), ANN)
    message = smtp.last_to(ANN)
    assert message["Subject"].startswith("Confirm your email address")
    done = await web.client().get(f"{VERIFY}?token={token_of(link_in(message))}")
    assert location(done) == "/verify_email?verified=1"
    user = await web.user(ANN)
    assert user is not None
    assert user.claims["email_verified"] is True


async def test_delete_account_removes_everything_and_signs_out_everywhere(
    web: WebApp, smtp: SMTPServer
) -> None:
    laptop, phone = web.client(), web.client(address=("10.0.0.2", 1))
    await register(laptop, ANN)
    await login(phone, ANN)
    await register(web.client(), "bob@example.com")
    wrong = await post_form(laptop, DELETE, {"password": "not my password"})
    assert error_code(wrong) == "wrong_password"
    assert await web.user(ANN) is not None

    response = await post_form(laptop, DELETE, {"password": PASSWORD, "next": "/register"})
    assert location(response) == "/register"
    assert_cookie_cleared(response)
    assert await web.user(ANN) is None
    assert await web.user_count() == 1
    assert await signed_in_as(phone) is None
    assert error_code(await login(web.client(), ANN)) == "invalid"
    assert smtp.last_to(ANN)["Subject"].endswith("account was deleted")
    # The address is free again.
    assert location(await register(web.client(), ANN)) == "/"


async def test_delete_account_needs_a_session_and_the_password(web: WebApp) -> None:
    assert error_code(await post_form(web.client(), DELETE, {"password": PASSWORD})) == "invalid"
    browser = web.client()
    await register(browser, ANN)
    assert error_code(await post_form(browser, DELETE, {})) == "missing"
    assert await signed_in_as(browser) == ANN


async def test_example_pages_render(web: WebApp) -> None:
    browser = web.client()
    await register(browser, ANN)
    account = await browser.get("/account")
    assert account.status_code == 200
    for action in (VERIFY_REQUEST, CHANGE, DELETE, CHANGE_EMAIL):
        assert f'action="{action}"' in account.text
    forgot_page = await web.client().get("/forgot_password?sent=1")
    assert forgot_page.status_code == 200
    assert 'id="sent"' in forgot_page.text
    assert f'action="{FORGOT}"' in forgot_page.text
    assert (await web.client().get("/account")).status_code == 303  # signed out: to log in


# Change email ----------------------------------------------------------------------------

NEW_EMAIL = "ann@new.example"


async def ask_change(
    browser: httpx.AsyncClient, email: str = NEW_EMAIL, **fields: str
) -> httpx.Response:
    data = {"password": PASSWORD, "email": email, "next": "/account", **fields}
    return await post_form(browser, CHANGE_EMAIL, data)


async def test_change_email_by_a_link_to_the_new_address(web: WebApp, smtp: SMTPServer) -> None:
    laptop = web.client()
    await register(laptop, ANN)
    old_verification = token_of(link_in(smtp.last_to(ANN)))  # mailed at sign-up
    assert location(await ask_change(laptop)) == "/account"
    message = smtp.last_to(NEW_EMAIL)
    assert message["Subject"].startswith("Confirm your new email address")
    link = link_in(message)
    assert link.startswith(f"{BASE}/verify_email?token=")
    # Nothing changes until the link is used.
    user = await web.user(ANN)
    assert user is not None
    assert await web.user(NEW_EMAIL) is None

    done = await post_form(web.client(), VERIFY, {"token": token_of(link)})
    assert location(done) == "/verify_email?verified=1"
    moved = await web.user(NEW_EMAIL)
    assert moved is not None
    assert moved.user_id == user.user_id
    assert moved.claims["email_verified"] is True
    assert await web.user(ANN) is None
    assert location(await login(web.client(), NEW_EMAIL)) == "/"
    assert error_code(await login(web.client(), ANN)) == "invalid"
    # The signed-in browser sees its new address at once; the old one got a notice.
    assert (await token(laptop)).json()["decoded"]["email"] == NEW_EMAIL
    assert smtp.last_to(ANN)["Subject"].endswith("email address was changed")
    # The link worked once, and links for the old address are dead.
    again = await post_form(web.client(), VERIFY, {"token": token_of(link)})
    assert location(again) == "/verify_email?error=token_invalid"
    stale = await web.client().get(f"{VERIFY}?token={old_verification}")
    assert location(stale) == "/verify_email?error=token_invalid"


async def test_change_email_needs_the_password(web: WebApp, smtp: SMTPServer) -> None:
    browser = web.client()
    await register(browser, ANN)
    smtp.messages.clear()
    assert error_code(await ask_change(browser, password="not my password")) == "wrong_password"
    assert error_code(await ask_change(web.client())) == "invalid"  # not signed in
    assert smtp.messages == []


async def test_change_email_refuses_taken_and_bad_addresses(web: WebApp, smtp: SMTPServer) -> None:
    browser = web.client()
    await register(browser, ANN)
    await register(web.client(), "bob@example.com")
    smtp.messages.clear()
    assert error_code(await ask_change(browser, "BOB@example.com")) == "exists"
    assert error_code(await ask_change(browser, "not an address")) == "invalid_email"
    assert error_code(await ask_change(browser, ANN)) == "invalid"
    assert smtp.messages == []


async def test_an_address_taken_before_the_link_is_used_changes_nothing(
    web: WebApp, smtp: SMTPServer
) -> None:
    browser = web.client()
    await register(browser, ANN)
    assert location(await ask_change(browser)) == "/account"
    value = token_of(link_in(smtp.last_to(NEW_EMAIL)))
    await register(web.client(), NEW_EMAIL)
    response = await post_form(web.client(), VERIFY, {"token": value})
    assert location(response) == "/verify_email?error=exists"
    user = await web.user(ANN)
    assert user is not None
    assert "email_verified" not in user.claims
    assert location(await login(web.client(), ANN)) == "/"
