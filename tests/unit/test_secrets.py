"""The one rule for signing secrets (src/pywire_auth/_secrets.py), for both secrets."""

from __future__ import annotations

import secrets

import pytest

from pywire_auth import ConfigurationError, LocalIdP, MemoryAuthStore
from pywire_auth._secrets import MIN_DISTINCT_CHARS, check_secret, secret_problem
from pywire_auth.sessions import SessionManager

WEAK = {
    "short": "0123456789abcdef",
    "one character": "a" * 32,
    "a short unit repeated": "abcd" * 8,
    "digits repeated": "0123456789" * 4,
    "a longer unit repeated": "s3cr3t-K3y!" * 3,
    "few distinct characters": "aaaaaaaaaaaaaaaaaaaaaaaaabcdefg" + "a",
    "a space": "this is my long and secret pass phrase",
    "a line break": secrets.token_hex(32) + "\n",
    "a tab": secrets.token_hex(16) + "\t" + secrets.token_hex(16),
}


@pytest.mark.parametrize("name", sorted(WEAK))
def test_weak_secrets_are_refused(name: str) -> None:
    assert secret_problem(WEAK[name]) is not None
    with pytest.raises(ConfigurationError) as raised:
        check_secret(WEAK[name], "THE_SECRET")
    message = str(raised.value)
    assert "THE_SECRET" in message
    assert WEAK[name].strip() not in message  # never quoted: messages reach logs


def test_generated_secrets_pass() -> None:
    for _ in range(200):
        for generated in (secrets.token_hex(32), secrets.token_urlsafe(32), secrets.token_hex(16)):
            assert secret_problem(generated) is None, generated
    assert MIN_DISTINCT_CHARS == 8


def test_session_manager_and_idp_share_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryAuthStore()
    for weak in WEAK.values():
        with pytest.raises(ConfigurationError):
            SessionManager(store, weak)
        with pytest.raises(ConfigurationError):
            LocalIdP(secret=weak)
    monkeypatch.setenv("PYWIRE_SESSION_SECRET", "b" * 40)
    with pytest.raises(ConfigurationError, match="PYWIRE_SESSION_SECRET"):
        SessionManager(store)
    monkeypatch.setenv("LOCAL_IDP_SECRET", "b" * 40)
    with pytest.raises(ConfigurationError, match="LOCAL_IDP_SECRET"):
        LocalIdP()
    with pytest.raises(ConfigurationError, match="fallback_secrets"):
        LocalIdP(secret=secrets.token_hex(32), fallback_secrets=["c" * 40])
