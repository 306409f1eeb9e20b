"""The tokens in mailed links: each rule fails without the line that keeps it."""

from __future__ import annotations

import pytest

from pywire_auth.account.links import LinkTokens
from pywire_auth.exceptions import LinkExpiredError, LinkTokenError

KEY = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def check(tokens: LinkTokens, token: str, state: str | None, purpose: str = "reset") -> str:
    parsed = tokens.parse(token)
    tokens.verify(purpose, parsed, state)
    return parsed.user_id


def test_a_token_works_while_the_state_holds() -> None:
    tokens = LinkTokens(KEY)
    token = tokens.issue("reset", "user-1", state="hash-1", ttl=60)
    assert check(tokens, token, "hash-1") == "user-1"


def test_a_changed_state_kills_the_token() -> None:
    tokens = LinkTokens(KEY)
    token = tokens.issue("reset", "user-1", state="hash-1", ttl=60)
    with pytest.raises(LinkTokenError) as caught:
        check(tokens, token, "hash-2")
    assert caught.value.code == "token_invalid"


def test_a_missing_state_refuses_even_an_empty_one() -> None:
    tokens = LinkTokens(KEY)
    token = tokens.issue("reset", "user-1", state="", ttl=60)
    with pytest.raises(LinkTokenError):
        check(tokens, token, None)


def test_purposes_do_not_mix() -> None:
    tokens = LinkTokens(KEY)
    token = tokens.issue("verify_email", "user-1", state="s", ttl=60)
    with pytest.raises(LinkTokenError):
        check(tokens, token, "s", purpose="reset")


def test_the_user_id_is_bound() -> None:
    tokens = LinkTokens(KEY)
    token = tokens.issue("reset", "user-1", state="s", ttl=60)
    other = tokens.issue("reset", "user-2", state="s", ttl=60)
    forged = other.split(".")[0] + "." + ".".join(token.split(".")[1:])
    with pytest.raises(LinkTokenError):
        check(tokens, forged, "s")


def test_another_key_is_refused() -> None:
    # A leaked database holds the state but not the key.
    token = LinkTokens(b"x" * 32).issue("reset", "user-1", state="s", ttl=60)
    with pytest.raises(LinkTokenError):
        check(LinkTokens(KEY), token, "s")


def test_expiry_is_said_only_of_genuine_tokens() -> None:
    clock = Clock()
    tokens = LinkTokens(KEY, clock=clock)
    token = tokens.issue("reset", "user-1", state="s", ttl=60)
    clock.now += 59
    assert check(tokens, token, "s") == "user-1"
    clock.now += 1
    with pytest.raises(LinkExpiredError) as caught:
        check(tokens, token, "s")
    assert caught.value.code == "token_expired"
    # Moving the expiry forward breaks the MAC: invalid, not "expired" or valid.
    user, expiry, mac = token.split(".")
    with pytest.raises(LinkTokenError) as forged:
        check(tokens, f"{user}.{int(expiry) + 3600}.{mac}", "s")
    assert type(forged.value) is LinkTokenError


def test_carried_data_is_covered_by_the_mac() -> None:
    tokens = LinkTokens(KEY)
    token = tokens.issue("change_email", "user-1", state="s", ttl=60, data="new@example.com")
    parsed = tokens.parse(token)
    assert parsed.data == "new@example.com"
    tokens.verify("change_email", parsed, "s")
    user, _data, expiry, mac = token.split(".")
    other = tokens.issue("change_email", "user-1", state="s", ttl=60, data="evil@example.com")
    swapped = ".".join([user, other.split(".")[1], expiry, mac])
    with pytest.raises(LinkTokenError):
        check(tokens, swapped, "s", purpose="change_email")
    # Dropping the data segment does not turn it into a data-less token either.
    with pytest.raises(LinkTokenError):
        check(tokens, f"{user}.{expiry}.{mac}", "s", purpose="change_email")


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.1.b.c", "dXNlcg.x.AAAA", "!!.1.AAAA", "dXNlcg.1.!!", "x" * 600, "AA.1.AAAA"],
)
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(LinkTokenError):
        check(LinkTokens(KEY), token, "s")
