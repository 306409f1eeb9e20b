"""``next``/``error_next`` in a form route's URL (``action="/auth/local/login?next=/x"``).

The form field wins when both are present; the query's value goes through the same
same-site check (open redirects) as the form's.
"""

from __future__ import annotations

import io

import pytest
import pytest_asyncio

from pywire_auth import MemoryAuthStore
from pywire_auth.account.links import LinkTokens
from pywire_auth.account.routes import _verify_state
from pywire_auth.mail import ConsoleMailer
from pywire_auth.sessions import SessionManager
from tests.web.conftest import (
    LOGIN,
    REGISTER,
    REVOKE,
    SESSION_SECRET,
    AppFactory,
    Outage,
    WebApp,
    assert_cookie_cleared,
    error_code,
    location,
    post_form,
    redirect_path,
    register,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("web_backend", ["memory"])]

ANN = "ann@example.com"
PASSWORD = "correct horse battery"
#: Every form route of the local IdP and the account routes.
ACCOUNT_FORMS = (
    "/auth/local/forgot-password",
    "/auth/local/reset-password",
    "/auth/local/verify-email/request",
    "/auth/local/change-password",
    "/auth/local/delete-account",
    "/auth/local/change-email",
)


@pytest_asyncio.fixture
async def web(app_factory: AppFactory) -> WebApp:
    return await app_factory(mailer=ConsoleMailer(io.StringIO()), base_url="http://testserver")


async def test_login_follows_next_from_the_query(web: WebApp) -> None:
    await register(web.client(), ANN)
    response = await post_form(
        web.client(), LOGIN + "?next=/dashboard", {"email": ANN, "password": PASSWORD}
    )
    assert location(response) == "/dashboard"


async def test_register_follows_next_from_the_query(web: WebApp) -> None:
    response = await post_form(
        web.client(), REGISTER + "?next=/welcome", {"email": ANN, "password": PASSWORD}
    )
    assert location(response) == "/welcome"


async def test_the_form_field_wins_over_the_query(web: WebApp) -> None:
    await register(web.client(), ANN)
    response = await post_form(
        web.client(),
        LOGIN + "?next=/from-query",
        {"email": ANN, "password": PASSWORD, "next": "/from-form"},
    )
    assert location(response) == "/from-form"


async def test_a_blank_form_field_leaves_the_query_in_charge(web: WebApp) -> None:
    # A template's hidden ``<input name="next" value="">`` must not hide the URL's.
    await register(web.client(), ANN)
    response = await post_form(
        web.client(), LOGIN + "?next=/dashboard", {"email": ANN, "password": PASSWORD, "next": ""}
    )
    assert location(response) == "/dashboard"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "/\\evil.example"])
async def test_next_from_the_query_cannot_leave_the_site(web: WebApp, target: str) -> None:
    await register(web.client(), ANN)
    response = await web.client().post(
        LOGIN,
        params={"next": target},
        data={"email": ANN, "password": PASSWORD},
        headers={"Origin": "http://testserver"},
    )
    assert location(response) == "/"


async def test_error_next_from_the_query_on_failure(web: WebApp) -> None:
    response = await post_form(
        web.client(), LOGIN + "?error_next=/signin", {"email": ANN, "password": "wrong"}
    )
    assert redirect_path(response) == "/signin"
    assert error_code(response) == "invalid"


async def test_error_next_from_the_query_cannot_leave_the_site(web: WebApp) -> None:
    response = await web.client().post(
        LOGIN,
        params={"error_next": "//evil.example/"},
        data={"email": ANN, "password": "wrong"},
        headers={"Origin": "http://testserver"},
    )
    assert redirect_path(response) == "/login_local"


async def test_error_next_from_the_query_when_the_body_is_refused(web: WebApp) -> None:
    response = await web.client().post(
        LOGIN + "?error_next=/signin",
        content=b"not a form",
        headers={"Origin": "http://testserver", "Content-Type": "text/plain"},
    )
    assert redirect_path(response) == "/signin"


async def test_revoke_follows_next_from_the_query(web: WebApp) -> None:
    browser = web.client()
    await register(browser, ANN)
    response = await post_form(browser, REVOKE + "?next=/bye")
    assert location(response) == "/bye"


@pytest.mark.parametrize("path", ACCOUNT_FORMS)
async def test_account_forms_take_error_next_from_the_query(web: WebApp, path: str) -> None:
    # Anonymous, or with a bad token: each fails, and lands where the URL says.
    response = await post_form(web.client(), path + "?error_next=/oops", {"token": "bad"})
    assert redirect_path(response) == "/oops", path


async def test_forgot_password_follows_next_from_the_query(web: WebApp) -> None:
    await register(web.client(), ANN)
    response = await post_form(
        web.client(), "/auth/local/forgot-password?next=/sent", {"email": ANN}
    )
    assert location(response) == "/sent"


async def test_verify_email_post_follows_next_from_the_query(web: WebApp) -> None:
    await register(web.client(), ANN)
    user = await web.user(ANN)
    assert user is not None
    key = SessionManager(MemoryAuthStore(), SESSION_SECRET).derive_key("account-link")
    link = LinkTokens(key).issue("verify_email", user.user_id, state=_verify_state(user), ttl=600)
    response = await post_form(web.client(), "/auth/local/verify-email?next=/done", {"token": link})
    assert location(response) == "/done"


async def test_a_failed_revoke_honours_error_next(app_factory: AppFactory, outage: Outage) -> None:
    # docs/web.md, the revoke route's failure column: store down -> ?error=unavailable
    # at error_next (from the form or the URL), this browser signed out regardless.
    web = await app_factory(store=outage.store)
    form_user, query_user = web.client(), web.client()
    await register(form_user, ANN)
    await register(query_user, "bob@example.com")
    outage.down()
    by_form = await post_form(form_user, REVOKE, {"error_next": "/sessions"})
    by_query = await post_form(query_user, REVOKE + "?error_next=/sessions")
    outage.up()
    for response in (by_form, by_query):
        assert redirect_path(response) == "/sessions"
        assert error_code(response) == "unavailable"
        assert_cookie_cleared(response)
