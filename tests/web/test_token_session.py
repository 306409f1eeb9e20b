"""Tokens from POST /auth/local/token live only as long as their session and user.

The ``sid`` claim is the stored session id (SHA-256 of the cookie token, never the
token); verify-token answers ``{"valid": false}`` once that session ended or the user
is gone, and returns the token's claims verbatim. ``LocalIdP.verify_id_token`` stays
stateless.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time

import httpx
import pytest

from pywire_auth import ReservedClaimError, SessionConfig
from tests.web.conftest import (
    VERIFY,
    AppFactory,
    FlakyStore,
    WebApp,
    login,
    register,
    revoke,
    session_cookie_value,
    token,
)

pytestmark = pytest.mark.asyncio


async def _verify(client: httpx.AsyncClient, jwt: str) -> dict[str, object]:
    response = await client.post(VERIFY, json={"token": jwt})
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


async def _signed_in(web: WebApp, email: str = "ann@example.com") -> tuple[httpx.AsyncClient, str]:
    client = web.client()
    cookie = session_cookie_value(await register(client, email))
    assert cookie is not None
    return client, cookie


def _payload(jwt: str) -> dict[str, object]:
    body = jwt.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


async def test_token_carries_the_stored_session_id_never_the_cookie(web: WebApp) -> None:
    client, cookie = await _signed_in(web)
    body = (await token(client)).json()
    session_token = cookie.partition(".")[0]  # the cookie is "<token>.<signature>"
    expected = hashlib.sha256(session_token.encode()).hexdigest()
    assert body["decoded"]["sid"] == expected
    assert await web.store.get_session(expected) is not None  # type: ignore[attr-defined]
    raw = json.dumps(_payload(body["token"]))
    assert session_token not in raw
    assert cookie not in raw
    assert (await _verify(web.client(), body["token"]))["valid"] is True


async def test_token_is_invalid_after_revoke(web: WebApp) -> None:
    client, _ = await _signed_in(web)
    jwt = (await token(client)).json()["token"]
    await revoke(client)
    assert await _verify(web.client(), jwt) == {"valid": False}
    # Python's check is stateless, as documented.
    assert web.idp.verify_id_token(jwt) is not None


async def test_token_is_invalid_after_that_session_signs_out(web: WebApp) -> None:
    client, cookie = await _signed_in(web)
    other, _ = await _signed_in(web, "bob@example.com")
    jwt = (await token(client)).json()["token"]
    kept = (await token(other)).json()["token"]
    await web.app.state.auth.revoke_session(cookie.partition(".")[0])
    assert await _verify(web.client(), jwt) == {"valid": False}
    assert (await _verify(web.client(), kept))["valid"] is True


async def test_token_is_invalid_after_a_new_sign_in_replaces_its_session(web: WebApp) -> None:
    client, _ = await _signed_in(web)
    jwt = (await token(client)).json()["token"]
    await login(client, "ann@example.com")  # the old session is deleted (fixation defence)
    assert await _verify(web.client(), jwt) == {"valid": False}
    assert (await _verify(web.client(), (await token(client)).json()["token"]))["valid"] is True


async def test_token_is_invalid_once_its_session_expired(web: WebApp) -> None:
    client, _ = await _signed_in(web)
    jwt = (await token(client)).json()["token"]
    sid = str(_payload(jwt)["sid"])
    # Expired but not yet pruned: the row is there, its time is up.
    assert await web.store.touch_session(sid, int(time.time()) - 1)  # type: ignore[attr-defined]
    assert await _verify(web.client(), jwt) == {"valid": False}


async def test_token_is_invalid_once_the_user_is_deleted(web: WebApp) -> None:
    client, _ = await _signed_in(web)
    jwt = (await token(client)).json()["token"]
    user = await web.user("ann@example.com")
    assert user is not None
    assert await web.store.delete_user(user.user_id)
    assert await _verify(web.client(), jwt) == {"valid": False}


async def test_a_session_of_another_user_does_not_vouch_for_a_token(web: WebApp) -> None:
    client, _ = await _signed_in(web)
    ann_sid = str((await token(client)).json()["decoded"]["sid"])
    await _signed_in(web, "bob@example.com")
    bob = await web.user("bob@example.com")
    assert bob is not None
    forged = web.idp.issue_id_token(user_id=bob.user_id, session_id=ann_sid)
    assert await _verify(web.client(), forged) == {"valid": False}


async def test_decoded_claims_are_the_tokens_verbatim(web: WebApp) -> None:
    client, _ = await _signed_in(web)
    user = await web.user("ann@example.com")
    assert user is not None
    await web.app.state.auth.update_claims(user.user_id, {"role": "editor", "plan": "pro"})
    issued = (await token(client)).json()
    # The stored claims change after issue; the answer is still what the token says.
    await web.app.state.auth.update_claims(user.user_id, {"role": "admin", "plan": None})
    answer = await _verify(web.client(), issued["token"])
    assert answer == {"valid": True, "decoded": _payload(issued["token"])}
    assert answer["decoded"] == issued["decoded"]
    decoded = answer["decoded"]
    assert isinstance(decoded, dict)
    assert decoded["role"] == "editor"
    assert decoded["plan"] == "pro"


async def test_a_stored_sid_claim_cannot_replace_the_session(web: WebApp) -> None:
    client, _ = await _signed_in(web)
    user = await web.user("ann@example.com")
    assert user is not None
    await web.app.state.auth.update_claims(user.user_id, {"sid": "planted"})
    decoded = (await token(client)).json()["decoded"]
    assert decoded["sid"] != "planted"


async def test_sessionless_tokens_need_their_user(web: WebApp) -> None:
    await _signed_in(web)
    user = await web.user("ann@example.com")
    assert user is not None
    invite = web.idp.issue_id_token(user_id=user.user_id, claims={"purpose": "invite"})
    assert (await _verify(web.client(), invite))["valid"] is True
    stranger = web.idp.issue_id_token(user_id="no-such-user")
    assert await _verify(web.client(), stranger) == {"valid": False}


@pytest.mark.parametrize("sid", [42, "", None, ["x"]], ids=["int", "empty", "null", "list"])
async def test_a_malformed_sid_is_invalid(web: WebApp, sid: object) -> None:
    await _signed_in(web)
    user = await web.user("ann@example.com")
    assert user is not None
    forged = web.idp.tokens.issue(user.user_id, claims={"sid": sid})
    assert await _verify(web.client(), forged) == {"valid": False}


async def test_sid_is_not_a_free_claim(web: WebApp) -> None:
    with pytest.raises(ReservedClaimError):
        web.idp.issue_id_token(user_id="u", claims={"sid": "x"})


async def test_a_store_outage_is_never_valid(app_factory: AppFactory) -> None:
    store = FlakyStore()
    web = await app_factory(store=store, session_config=SessionConfig(cache_ttl=0))
    client, _ = await _signed_in(web)
    jwt = (await token(client)).json()["token"]
    store.down = True
    response = await web.client().post(VERIFY, json={"token": jwt})
    assert response.status_code == 503
    assert response.json() == {"valid": False, "error": "unavailable"}
    store.down = False
    assert (await _verify(web.client(), jwt))["valid"] is True
