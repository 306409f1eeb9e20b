"""TokenIssuer: signing, verification and the JWT attacks it must refuse.

Invalid tokens are crafted here with joserfc (or by hand) from the same secret and
key id, so each test isolates exactly one defect instead of waiting for expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import OctKey

from pywire_auth import (
    ConfigurationError,
    FallbackSecret,
    InvalidInputError,
    ReservedClaimError,
    TokenIssuer,
)

SECRET = "k" * 40
OTHER_SECRET = "o" * 40
ISSUER = "pywire-auth-local"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def header_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[0]))


def sign(
    payload: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    alg: str = "HS256",
    header: dict[str, Any] | None = None,
) -> str:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return jws.serialize_compact(
        header if header is not None else {"alg": alg, "typ": "JWT"},
        body,
        OctKey.import_key(secret.encode()),
        algorithms=[alg],
    )


def sign_by_hand(header: dict[str, Any], payload: dict[str, Any], secret: str = SECRET) -> str:
    """HS256 over any header, even one joserfc itself would refuse to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def good_payload(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": ISSUER,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": "j1",
    }
    for key, value in overrides.items():
        if value is ...:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(SECRET)


def crafted(issuer: TokenIssuer, payload: dict[str, Any] | bytes, **kwargs: Any) -> str:
    header = {"alg": kwargs.pop("alg", "HS256"), "typ": "JWT", "kid": issuer.kid}
    return sign(payload, alg=header["alg"], header=header, **kwargs)


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "s" * 31, b"s" * 31, "é" * 15 + "x"])
def test_short_secret_is_a_configuration_error(secret: str | bytes) -> None:
    with pytest.raises(ConfigurationError):
        TokenIssuer(secret)


def test_secret_length_is_counted_in_bytes() -> None:
    # 16 two-byte characters are 32 bytes: long enough.
    assert TokenIssuer("é" * 16).kid
    assert TokenIssuer(b"3f9a1c7e5b2d4086c1e9a7f3b5d20c84").kid


def test_short_fallback_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        TokenIssuer(SECRET, fallback_secrets=["short"])


@pytest.mark.parametrize(
    "kwargs", [{"issuer": ""}, {"default_ttl": 0}, {"default_ttl": -5}, {"leeway": -1}]
)
def test_bad_settings_are_configuration_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        TokenIssuer(SECRET, **kwargs)


def test_repr_does_not_leak_secret() -> None:
    issuer = TokenIssuer(SECRET, fallback_secrets=[OTHER_SECRET])
    text = repr(issuer)
    assert SECRET not in text
    assert OTHER_SECRET not in text
    assert "k" * 32 not in text
    assert issuer.kid in text


def test_kid_does_not_contain_secret() -> None:
    issuer = TokenIssuer(SECRET)
    assert SECRET[:8] not in issuer.kid
    assert issuer.kid != TokenIssuer(OTHER_SECRET).kid
    assert issuer.kid == TokenIssuer(SECRET, issuer="other").kid


# --- issue / verify ---------------------------------------------------------------------


def test_roundtrip(issuer: TokenIssuer) -> None:
    before = int(time.time())
    token = issuer.issue("user-1", claims={"role": "admin", "n": 3}, ttl=600)
    claims = issuer.verify(token)
    assert claims is not None
    assert claims["sub"] == "user-1"
    assert claims["role"] == "admin"
    assert claims["n"] == 3
    assert claims["iss"] == ISSUER
    assert claims["aud"] == ISSUER
    assert claims["exp"] - claims["iat"] == 600
    assert claims["nbf"] == claims["iat"]
    assert claims["iat"] >= before
    assert isinstance(claims["jti"], str)
    assert claims["jti"]


def test_issued_header_pins_alg_and_kid(issuer: TokenIssuer) -> None:
    header = header_of(issuer.issue("user-1"))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}


def test_each_token_has_a_fresh_jti(issuer: TokenIssuer) -> None:
    first = issuer.verify(issuer.issue("u"))
    second = issuer.verify(issuer.issue("u"))
    assert first is not None
    assert second is not None
    assert first["jti"] != second["jti"]


def test_default_ttl_is_used(issuer: TokenIssuer) -> None:
    claims = TokenIssuer(SECRET, default_ttl=123).verify(
        TokenIssuer(SECRET, default_ttl=123).issue("u")
    )
    assert claims is not None
    assert claims["exp"] - claims["iat"] == 123
    default = issuer.verify(issuer.issue("u"))
    assert default is not None
    assert default["exp"] - default["iat"] == 900


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"])
def test_reserved_claims_cannot_be_set(issuer: TokenIssuer, claim: str) -> None:
    with pytest.raises(ReservedClaimError):
        issuer.issue("user-1", claims={claim: "forged", "role": "x"})


@pytest.mark.parametrize("ttl", [0, -1, True, False, 1.5, 600.0, "600"])
def test_bad_ttl_is_invalid_input(issuer: TokenIssuer, ttl: Any) -> None:
    with pytest.raises(InvalidInputError):
        issuer.issue("user-1", ttl=ttl)


@pytest.mark.parametrize("subject", ["", None, 7])
def test_bad_subject_is_invalid_input(issuer: TokenIssuer, subject: Any) -> None:
    with pytest.raises(InvalidInputError):
        issuer.issue(subject)


@pytest.mark.parametrize("claims", [{"x": object()}, {"x": float("nan")}, {"x": {1, 2}}])
def test_non_json_claims_are_invalid_input(issuer: TokenIssuer, claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        issuer.issue("user-1", claims=claims)


def test_default_audience_is_the_issuer() -> None:
    issuer = TokenIssuer(SECRET, issuer="my-app", audience="")
    assert issuer.audience == "my-app"
    claims = issuer.verify(issuer.issue("u"))
    assert claims is not None
    assert claims["aud"] == "my-app"


def test_configured_audience() -> None:
    issuer = TokenIssuer(SECRET, audience="api")
    claims = issuer.verify(issuer.issue("u"))
    assert claims is not None
    assert claims["aud"] == "api"
    # Same secret, same issuer, but a verifier for another audience refuses it.
    assert TokenIssuer(SECRET).verify(issuer.issue("u")) is None


def test_audience_parameter_on_issue_and_verify(issuer: TokenIssuer) -> None:
    token = issuer.issue("u", audience="billing")
    assert issuer.verify(token) is None
    assert issuer.verify(token, audience="other") is None
    claims = issuer.verify(token, audience="billing")
    assert claims is not None
    assert claims["aud"] == "billing"
    # And a default-audience token is not valid for another audience.
    assert issuer.verify(issuer.issue("u"), audience="billing") is None


def test_token_for_other_issuer_is_refused() -> None:
    token = TokenIssuer(SECRET, issuer="a", audience="shared").issue("u")
    assert TokenIssuer(SECRET, issuer="b", audience="shared").verify(token) is None
    assert TokenIssuer(SECRET, issuer="a", audience="shared").verify(token) is not None


# --- crafted claims ---------------------------------------------------------------------


def test_crafted_valid_token_verifies(issuer: TokenIssuer) -> None:
    # Guards every crafted-token test below: the crafting itself is right.
    claims = issuer.verify(crafted(issuer, good_payload()))
    assert claims is not None
    assert claims["sub"] == "user-1"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": int(time.time()) - 10}, id="expired"),
        pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
        pytest.param({"exp": ...}, id="no-exp"),
        pytest.param({"exp": True}, id="exp-true"),
        pytest.param({"exp": "9999999999"}, id="exp-string"),
        pytest.param({"exp": None}, id="exp-null"),
        pytest.param({"nbf": None}, id="nbf-null"),
        pytest.param({"nbf": False}, id="nbf-bool"),
        pytest.param({"iat": "now"}, id="iat-string"),
        pytest.param({"iss": "someone-else"}, id="wrong-iss"),
        pytest.param({"iss": ...}, id="no-iss"),
        pytest.param({"aud": "someone-else"}, id="wrong-aud"),
        pytest.param({"aud": ...}, id="no-aud"),
        pytest.param({"aud": ["a", "b"]}, id="aud-list-without-ours"),
        pytest.param({"sub": ...}, id="no-sub"),
        pytest.param({"sub": 42}, id="sub-not-string"),
    ],
)
def test_crafted_invalid_claims_are_refused(issuer: TokenIssuer, overrides: dict[str, Any]) -> None:
    assert issuer.verify(crafted(issuer, good_payload(**overrides))) is None


def test_aud_list_containing_ours_is_valid(issuer: TokenIssuer) -> None:
    claims = issuer.verify(crafted(issuer, good_payload(aud=["other", ISSUER])))
    assert claims is not None
    assert claims["aud"] == ["other", ISSUER]


def test_nbf_and_iat_are_optional(issuer: TokenIssuer) -> None:
    assert issuer.verify(crafted(issuer, good_payload(nbf=..., iat=...))) is not None


@pytest.mark.parametrize("body", [b"[]", b'"a string"', b"42", b"null", b"not json", b"\xff\xfe"])
def test_crafted_non_object_payload_is_refused(issuer: TokenIssuer, body: bytes) -> None:
    assert issuer.verify(crafted(issuer, body)) is None


def test_leeway_accepts_recently_expired() -> None:
    lenient = TokenIssuer(SECRET, leeway=3600)
    token = crafted(lenient, good_payload(exp=int(time.time()) - 60))
    assert lenient.verify(token) is not None
    assert TokenIssuer(SECRET).verify(token) is None


# --- signature and algorithm attacks ---------------------------------------------------


def test_alg_none_is_refused(issuer: TokenIssuer) -> None:
    for header in ({"alg": "none"}, {"alg": "none", "kid": issuer.kid}, {"alg": "None"}):
        token = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(good_payload()).encode())}."
        )
        assert issuer.verify(token) is None


def test_alg_none_with_real_signature_is_refused(issuer: TokenIssuer) -> None:
    # The header says none but the signature is a real HS256 one: still refused.
    valid = crafted(issuer, good_payload())
    _, payload, signature = valid.split(".")
    header = b64url(json.dumps({"alg": "none", "kid": issuer.kid}).encode())
    assert issuer.verify(f"{header}.{payload}.{signature}") is None


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_hmac_algorithms_with_same_secret_are_refused(issuer: TokenIssuer, alg: str) -> None:
    token = crafted(issuer, good_payload(), alg=alg)
    assert header_of(token)["alg"] == alg
    assert issuer.verify(token) is None


def test_tampered_payload_is_refused(issuer: TokenIssuer) -> None:
    token = issuer.issue("user-1", claims={"role": "user"})
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["role"] = "admin"
    forged_payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    assert forged_payload != payload
    assert issuer.verify(f"{header}.{forged_payload}.{signature}") is None
    assert issuer.verify(token) is not None


def test_tampered_signature_is_refused(issuer: TokenIssuer) -> None:
    token = issuer.issue("user-1")
    header, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[0] ^= 1
    assert issuer.verify(f"{header}.{payload}.{b64url(bytes(raw))}") is None
    assert issuer.verify(f"{header}.{payload}.") is None


def test_token_from_another_secret_is_refused(issuer: TokenIssuer) -> None:
    other = TokenIssuer(OTHER_SECRET)
    assert issuer.verify(other.issue("user-1")) is None
    # Even when the forger copies our kid into the header.
    forged = sign(good_payload(), secret=OTHER_SECRET, header={"alg": "HS256", "kid": issuer.kid})
    assert issuer.verify(forged) is None


def test_unknown_kid_is_refused(issuer: TokenIssuer) -> None:
    token = sign(good_payload(), header={"alg": "HS256", "typ": "JWT", "kid": "0123456789abcdef"})
    assert issuer.verify(token) is None


@pytest.mark.parametrize("kid", [None, 7, ["x"], {"k": "v"}])
def test_non_string_kid_is_refused(issuer: TokenIssuer, kid: Any) -> None:
    assert issuer.verify(sign_by_hand({"alg": "HS256", "kid": kid}, good_payload())) is None
    # The hand-signing itself is right: the same token with our kid verifies.
    assert issuer.verify(sign_by_hand({"alg": "HS256", "kid": issuer.kid}, good_payload()))


def test_missing_kid_uses_the_signing_key(issuer: TokenIssuer) -> None:
    token = sign(good_payload(), header={"alg": "HS256", "typ": "JWT"})
    assert "kid" not in header_of(token)
    claims = issuer.verify(token)
    assert claims is not None
    assert claims["sub"] == "user-1"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "...",
        "e30.e30.",
        "e30.e30.e30",
        "W10.e30.",
        "bnVsbA.e30.",
        "\u00e9\u00e9.\u00e9.\u00e9",
        "eyJhbGciOiJIUzI1NiJ9.%%%.abc",
        "x" * 10_000,
        "." * 10_000,
        "eyJhbGciOiJIUzI1NiJ9." + "A" * 10_000 + ".sig",
    ],
)
def test_garbage_strings_give_none(issuer: TokenIssuer, token: str) -> None:
    assert issuer.verify(token) is None


@pytest.mark.parametrize("token", [None, 123, b"a.b.c", ["a.b.c"], {"t": 1}])
def test_non_strings_give_none(issuer: TokenIssuer, token: Any) -> None:
    assert issuer.verify(token) is None


def test_oversized_otherwise_valid_token_is_refused(issuer: TokenIssuer) -> None:
    token = issuer.issue("user-1", claims={"blob": "b" * 9000})
    assert len(token) > 8192
    assert issuer.verify(token) is None
    small = issuer.issue("user-1", claims={"blob": "b" * 100})
    assert issuer.verify(small) is not None


def test_verify_never_raises_on_mutations(issuer: TokenIssuer) -> None:
    # Deterministic mutations of a valid token: flip, drop and insert characters.
    token = issuer.issue("user-1", claims={"role": "admin"})
    alphabet = "A_-.=+/ \x00é"
    for index in range(0, len(token), 3):
        for char in alphabet:
            mutated = token[:index] + char + token[index + 1 :]
            result = issuer.verify(mutated)
            if mutated != token:
                assert result is None or result["sub"] == "user-1"
        assert issuer.verify(token[:index] + token[index + 1 :]) is None


# --- key rotation ----------------------------------------------------------------------


def test_fallback_secret_verifies_old_tokens_and_new_tokens_use_new_kid() -> None:
    old = TokenIssuer(OTHER_SECRET)
    rotated = TokenIssuer(SECRET, fallback_secrets=[OTHER_SECRET])
    old_token = old.issue("user-1", claims={"role": "admin"})

    claims = rotated.verify(old_token)
    assert claims is not None
    assert claims["role"] == "admin"

    new_token = rotated.issue("user-2")
    assert header_of(old_token)["kid"] == old.kid
    assert header_of(new_token)["kid"] == rotated.kid == TokenIssuer(SECRET).kid
    assert rotated.kid != old.kid
    assert rotated.verify(new_token) is not None
    # The old issuer does not know the new key.
    assert old.verify(new_token) is None
    # Without the fallback, old tokens are refused.
    assert TokenIssuer(SECRET).verify(old_token) is None


def test_fallback_key_is_not_used_for_tokens_without_kid() -> None:
    rotated = TokenIssuer(SECRET, fallback_secrets=[OTHER_SECRET])
    token = sign(good_payload(), secret=OTHER_SECRET, header={"alg": "HS256"})
    assert rotated.verify(token) is None


def test_fallback_secrets_accept_bytes() -> None:
    rotated = TokenIssuer(SECRET, fallback_secrets=[OTHER_SECRET.encode()])
    assert rotated.verify(TokenIssuer(OTHER_SECRET).issue("u")) is not None


def test_retired_fallback_key_verifies_nothing() -> None:
    # A leaked old secret must stop minting accepted tokens once rotation is done.
    old_token = TokenIssuer(OTHER_SECRET).issue("user-1", ttl=3600)
    retired = FallbackSecret(OTHER_SECRET, retire_after=time.time() - 1)
    assert TokenIssuer(SECRET, fallback_secrets=[retired]).verify(old_token) is None
    when = datetime.now(UTC) - timedelta(seconds=1)
    retired_dt = FallbackSecret(OTHER_SECRET, retire_after=when)
    assert TokenIssuer(SECRET, fallback_secrets=[retired_dt]).verify(old_token) is None


def test_fallback_key_verifies_until_it_retires() -> None:
    old_token = TokenIssuer(OTHER_SECRET).issue("user-1", ttl=3600)
    for retire_after in (time.time() + 3600, datetime.now(UTC) + timedelta(hours=1)):
        live = FallbackSecret(OTHER_SECRET, retire_after=retire_after)
        rotated = TokenIssuer(SECRET, fallback_secrets=[live])
        assert rotated.verify(old_token) is not None
        assert rotated.verify(rotated.issue("user-2")) is not None


def test_leeway_does_not_extend_a_retired_key() -> None:
    old_token = TokenIssuer(OTHER_SECRET).issue("user-1", ttl=3600)
    retired = FallbackSecret(OTHER_SECRET, retire_after=time.time() - 1)
    rotated = TokenIssuer(SECRET, leeway=600, fallback_secrets=[retired])
    assert rotated.verify(old_token) is None


def test_the_signing_secret_never_retires() -> None:
    # The same secret listed as a retired fallback must not disable the signing key.
    retired = FallbackSecret(SECRET, retire_after=time.time() - 1)
    issuer = TokenIssuer(SECRET, fallback_secrets=[retired])
    assert issuer.verify(issuer.issue("user-1")) is not None


def test_one_retired_and_one_live_fallback() -> None:
    third = "t" * 40
    retired = FallbackSecret(OTHER_SECRET, retire_after=time.time() - 1)
    live = FallbackSecret(third, retire_after=time.time() + 3600)
    rotated = TokenIssuer(SECRET, fallback_secrets=[retired, live])
    assert rotated.verify(TokenIssuer(OTHER_SECRET).issue("u")) is None
    assert rotated.verify(TokenIssuer(third).issue("u")) is not None


@pytest.mark.parametrize(
    "retire_after",
    [datetime(2030, 1, 1), "2030-01-01", True, None],
    ids=["naive-datetime", "string", "bool", "none"],
)
def test_bad_retire_after_is_a_configuration_error(retire_after: Any) -> None:
    with pytest.raises(ConfigurationError):
        TokenIssuer(SECRET, fallback_secrets=[FallbackSecret(OTHER_SECRET, retire_after)])


def test_short_retired_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        TokenIssuer(SECRET, fallback_secrets=[FallbackSecret("short", time.time() + 60)])


def test_fallback_secret_repr_hides_the_secret() -> None:
    fallback = FallbackSecret(OTHER_SECRET, retire_after=1.5)
    assert OTHER_SECRET not in repr(fallback)
    assert "retire_after=1.5" in repr(fallback)


def test_plain_fallback_secret_logs_that_it_never_retires(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="pywire_auth.tokens"):
        TokenIssuer(SECRET, fallback_secrets=[OTHER_SECRET])
    assert "retire_after" in caplog.text
    assert OTHER_SECRET not in caplog.text


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"typ": "JWT"}, id="no-alg"),
        pytest.param({"alg": "hs256"}, id="lowercase-alg"),
        pytest.param({"alg": "HS256 "}, id="padded-alg"),
        pytest.param({"alg": "RS256"}, id="rs256"),
        pytest.param({"alg": ["HS256"]}, id="alg-list"),
        pytest.param({"alg": None}, id="alg-null"),
    ],
)
def test_hand_signed_headers_with_wrong_alg_are_refused(
    issuer: TokenIssuer, header: dict[str, Any]
) -> None:
    # The MAC is a genuine HS256 over the bytes: only the header's claim is wrong.
    assert issuer.verify(sign_by_hand(header, good_payload())) is None
