"""The audit log over HTTP: one structured record per security event, no secrets in any.

Every record is read back from the ``pywire_auth.audit`` logger with the fields
the routes pass via ``extra=`` (see ``pywire_auth/audit.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pywire_auth import RateLimit, ThrottlePolicy, WeakPasswordError
from pywire_auth.audit import AUDIT_LOGGER
from pywire_auth.local.device import DEVICE_COOKIE
from tests.web.conftest import (
    COOKIE,
    OUTAGE_BACKENDS,
    PASSWORD,
    AppFactory,
    Outage,
    WebApp,
    error_code,
    location,
    login,
    register,
    revoke,
    session_cookie_value,
    set_cookies,
    token,
)

pytestmark = pytest.mark.asyncio

FIELDS = ("event", "outcome", "user_id", "email_hash", "client", "reason")
EMAIL = "Zebulon.Audit@Example.com"
WRONG = "wrong horse battery staple"


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # Every logger at INFO (SQLAlchemy's statements included: their parameters
    # are hidden) and ours at DEBUG, so that the secrecy test sees all of it.
    # DEBUG records of SQLAlchemy (result rows) and aiosqlite (parameters) do
    # quote emails and hashes: SECURITY.md says never to enable them in production.
    with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, "pywire_auth"):
        yield caplog


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {name: getattr(r, name) for name in FIELDS}
        for r in caplog.records
        if r.name == AUDIT_LOGGER
    ]


def hash_of(web: WebApp, email: str) -> str:
    return str(web.app.state.auth.audit_email_hash(email))


async def user_id(web: WebApp, email: str) -> str:
    user = await web.user(email)
    assert user is not None
    return user.user_id


async def test_sign_up_success(web: WebApp, audit_log: pytest.LogCaptureFixture) -> None:
    assert location(await register(web.client(address=("192.0.2.7", 1)), EMAIL)) == "/"
    assert events(audit_log) == [
        {
            "event": "sign_up",
            "outcome": "success",
            "user_id": await user_id(web, EMAIL),
            "email_hash": hash_of(web, EMAIL),
            "client": "192.0.2.7",
            "reason": None,
        }
    ]


async def test_sign_up_failures_name_their_reason(
    web: WebApp, audit_log: pytest.LogCaptureFixture
) -> None:
    await register(web.client(), EMAIL)
    audit_log.clear()
    assert error_code(await register(web.client(), EMAIL.lower())) == "exists"
    assert error_code(await register(web.client(), "bob@example.com", "short")) == "weak_password"
    assert [(e["event"], e["outcome"], e["reason"], e["user_id"]) for e in events(audit_log)] == [
        ("sign_up", "failure", "exists", None),
        ("sign_up", "failure", "weak_password", None),
    ]
    assert events(audit_log)[0]["email_hash"] == hash_of(web, EMAIL)


async def test_sign_in_success_and_failure(
    web: WebApp, audit_log: pytest.LogCaptureFixture
) -> None:
    await register(web.client(), EMAIL)
    uid = await user_id(web, EMAIL)
    audit_log.clear()
    client = web.client(address=("2001:db8::1", 1))
    assert error_code(await login(client, EMAIL, WRONG)) == "invalid"
    assert error_code(await login(client, "nobody@example.com")) == "invalid"
    assert location(await login(client, EMAIL.upper())) == "/"
    got = events(audit_log)
    assert [(e["event"], e["outcome"], e["reason"], e["user_id"]) for e in got] == [
        ("sign_in", "failure", "invalid", None),
        ("sign_in", "failure", "invalid", None),
        ("sign_in", "success", None, uid),
    ]
    # The hash names the account whatever the spelling; unknown emails get one too.
    assert [e["email_hash"] for e in got] == [
        hash_of(web, EMAIL),
        hash_of(web, "nobody@example.com"),
        hash_of(web, EMAIL),
    ]
    # The address as the throttle counts it: an IPv6 client by its /64.
    assert {e["client"] for e in got} == {"2001:db8::/64"}


async def test_missing_fields_are_a_failure_without_email(
    web: WebApp, audit_log: pytest.LogCaptureFixture
) -> None:
    assert error_code(await login(web.client(), "", "")) == "missing"
    assert [(e["event"], e["reason"], e["email_hash"]) for e in events(audit_log)] == [
        ("sign_in", "missing", None)
    ]


async def test_throttling_is_recorded(
    app_factory: AppFactory, audit_log: pytest.LogCaptureFixture
) -> None:
    web = await app_factory(
        throttle_policy=ThrottlePolicy(
            failures_per_address=RateLimit(2, 60), registrations_per_address=RateLimit(1, 60)
        )
    )
    client = web.client()
    await register(client, EMAIL)
    assert error_code(await register(client, "bob@example.com")) == "throttled"
    for _ in range(2):
        await login(web.client(), EMAIL, WRONG)
    assert error_code(await login(web.client(), EMAIL, WRONG)) == "throttled"
    throttled = [e for e in events(audit_log) if e["outcome"] == "throttled"]
    assert [(e["event"], e["reason"]) for e in throttled] == [
        ("sign_up", "throttled"),
        ("sign_in", "throttled"),
    ]
    assert throttled[1]["email_hash"] == hash_of(web, EMAIL)
    assert {e["client"] for e in throttled} == {"127.0.0.1"}
    levels = {r.levelname for r in audit_log.records if getattr(r, "outcome", "") == "throttled"}
    assert levels == {"WARNING"}


async def test_revoke_and_sign_out(web: WebApp, audit_log: pytest.LogCaptureFixture) -> None:
    browser = web.client()
    await register(browser, EMAIL)
    uid = await user_id(web, EMAIL)
    audit_log.clear()
    await revoke(browser)
    await revoke(browser)  # the cookie is gone: nothing left to revoke
    assert events(audit_log) == [
        {
            "event": "revoke",
            "outcome": "success",
            "user_id": uid,
            "email_hash": None,
            "client": "127.0.0.1",
            "reason": None,
        },
        {
            "event": "sign_out",
            "outcome": "success",
            "user_id": None,
            "email_hash": None,
            "client": "127.0.0.1",
            "reason": "no_session",
        },
    ]


@OUTAGE_BACKENDS
async def test_a_revocation_the_store_could_not_make_is_a_failure(
    app_factory: AppFactory, outage: Outage, audit_log: pytest.LogCaptureFixture
) -> None:
    web = await app_factory(store=outage.store)
    browser = web.client()
    await register(browser, EMAIL)
    audit_log.clear()
    outage.down()
    assert error_code(await revoke(browser)) == "unavailable"
    outage.up()
    assert [(e["event"], e["outcome"], e["reason"]) for e in events(audit_log)] == [
        ("revoke", "failure", "unavailable")
    ]


async def test_server_side_revocations(web: WebApp, audit_log: pytest.LogCaptureFixture) -> None:
    browser = web.client()
    response = await register(browser, EMAIL)
    uid = await user_id(web, EMAIL)
    cookie = session_cookie_value(response)
    sessions = web.app.state.auth._state.sessions
    session = sessions.token_from_cookie_header(f"{COOKIE}={cookie}")
    assert session
    audit_log.clear()
    await web.app.state.auth.revoke_session(session)
    await web.app.state.auth.revoke_sessions(uid)
    assert [(e["event"], e["outcome"], e["user_id"]) for e in events(audit_log)] == [
        ("sign_out", "success", uid),
        ("revoke", "success", uid),
    ]


async def test_password_change_and_reset(web: WebApp, audit_log: pytest.LogCaptureFixture) -> None:
    await register(web.client(), EMAIL)
    uid = await user_id(web, EMAIL)
    audit_log.clear()
    new = "a brand new passphrase"
    assert not await web.idp.change_password(user_id=uid, old_password=WRONG, new_password=new)
    with pytest.raises(WeakPasswordError):
        await web.idp.change_password(user_id=uid, old_password=PASSWORD, new_password="short")
    assert await web.idp.change_password(user_id=uid, old_password=PASSWORD, new_password=new)
    await web.idp.reset_password(user_id=f"local:{uid}", new_password=PASSWORD)
    assert [(e["event"], e["outcome"], e["reason"], e["user_id"]) for e in events(audit_log)] == [
        ("password_change", "failure", "invalid", uid),
        ("password_change", "failure", "weak_password", uid),
        ("password_change", "success", None, uid),
        ("password_reset", "success", None, uid),
    ]


def _everything_in(record: logging.LogRecord) -> str:
    # The message, its arguments, every extra field and any formatted traceback.
    parts = [record.getMessage(), repr(record.args), repr(vars(record))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


async def test_no_secret_reaches_any_log_record(
    web: WebApp, audit_log: pytest.LogCaptureFixture
) -> None:
    browser = web.client()
    secrets: set[str] = {PASSWORD, WRONG, EMAIL, EMAIL.lower(), "zebulon"}
    response = await register(browser, EMAIL)
    secrets.update(c.split(";", 1)[0].split("=", 1)[1] for c in set_cookies(response))
    await revoke(browser)
    assert error_code(await login(browser, EMAIL, WRONG)) == "invalid"
    response = await login(browser, EMAIL)
    for header in set_cookies(response):
        name, _, value = header.split(";", 1)[0].partition("=")
        assert name in (COOKIE, DEVICE_COOKIE)
        secrets.add(value)
    jwt = (await token(browser)).json()["token"]
    secrets.update([jwt, *jwt.split(".")])
    assert error_code(await login(web.client(), EMAIL.upper(), WRONG)) == "invalid"
    await revoke(browser)
    await web.idp.change_password(
        user_id=await user_id(web, EMAIL), old_password=PASSWORD, new_password=WRONG
    )
    secrets.discard("")
    # The cycle was recorded (an empty log would pass the check below vacuously).
    assert [e["event"] for e in events(audit_log)] == [
        "sign_up",
        "revoke",
        "sign_in",
        "sign_in",
        "sign_in",
        "revoke",
        "password_change",
    ]
    for record in audit_log.records:
        text = _everything_in(record).lower()
        leaked = sorted(s for s in secrets if s.lower() in text)
        assert not leaked, (record.name, record.getMessage(), leaked)


async def test_records_have_every_field_even_when_empty(
    web: WebApp, audit_log: pytest.LogCaptureFixture, browser: httpx.AsyncClient
) -> None:
    await revoke(browser)
    (record,) = [r for r in audit_log.records if r.name == AUDIT_LOGGER]
    assert all(hasattr(record, name) for name in FIELDS)
    message = "event=sign_out outcome=success client=127.0.0.1 reason=no_session"
    assert record.getMessage() == message
