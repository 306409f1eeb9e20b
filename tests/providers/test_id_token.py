"""ID token verification against forged tokens (our own keys play the provider)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from pywire_auth.exceptions import ProviderError
from pywire_auth.tokens.id_token import UnknownKeyError, at_hash, verify_id_token
from pywire_auth.tokens.keys import jws_registry

ISSUER = "https://idp.example"
CLIENT = "pywire-test"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_800_000_000

RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
OTHER_RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
JWKS = [RSA.as_dict(private=False), EC.as_dict(private=False)]


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "alice-0001",
        "aud": CLIENT,
        "exp": NOW + 300,
        "iat": NOW,
        "nonce": NONCE,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = RSA, alg: str = "RS256", kid: str = "rsa-1") -> str:
    return jws.serialize_compact(
        {"alg": alg, "kid": kid}, json.dumps(payload).encode(), key, algorithms=[alg]
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verify(token: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("issuer", ISSUER)
    kwargs.setdefault("client_id", CLIENT)
    kwargs.setdefault("nonce", NONCE)
    kwargs.setdefault("now", NOW)
    return verify_id_token(token, JWKS, **kwargs)


def test_a_good_token_passes() -> None:
    assert verify(sign(claims()))["sub"] == "alice-0001"
    assert verify(sign(claims(), EC, "ES256", "ec-1"))["sub"] == "alice-0001"


@pytest.mark.parametrize(
    "payload",
    [
        claims(nonce="another-login"),
        claims(nonce=None),
        claims(iss="https://idp.example/"),  # exact match: no trailing-slash leniency
        claims(iss="https://evil.example"),
        claims(aud="another-client"),
        claims(aud=["another-client"]),
        claims(aud=[CLIENT, "another-client"]),  # several audiences need azp
        claims(aud=[CLIENT, "another-client"], azp="another-client"),
        claims(exp=NOW - 61),  # past the 60 s leeway
        claims(exp=None),
        claims(iat=NOW + 120),  # issued in the future
        claims(iat=NOW - 3600, exp=NOW + 300),  # older than max_age
        claims(iat=None),
        claims(sub=None),
    ],
)
def test_claim_checks(payload: dict[str, Any]) -> None:
    with pytest.raises(ProviderError):
        verify(sign(payload))


def test_several_audiences_with_our_azp_pass() -> None:
    assert verify(sign(claims(aud=[CLIENT, "api"], azp=CLIENT)))["azp"] == CLIENT


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(ProviderError, match="not allowed"):
        verify(token)


@pytest.mark.parametrize("secret_form", ["pem", "jwk-json"])
def test_hs256_signed_with_the_public_key_is_refused(secret_form: str) -> None:
    # Key confusion: the attacker HMACs the token with the provider's public key,
    # which a naive verifier would also use as the HMAC secret.
    public = (
        RSA.as_pem(private=False)
        if secret_form == "pem"
        else json.dumps(RSA.as_dict(private=False)).encode()
    )
    signing_input = (
        b64(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
        + "."
        + b64(json.dumps(claims()).encode())
    )
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(ProviderError, match="not allowed"):
        verify(f"{signing_input}.{b64(mac)}")


def test_alg_outside_the_providers_list_is_refused() -> None:
    with pytest.raises(ProviderError):
        verify(sign(claims(), EC, "ES256", "ec-1"), algorithms=frozenset({"RS256"}))


def test_rsa_key_never_checks_an_ec_header() -> None:
    # An ES256 header naming the RSA key's kid finds no EC key of that kid.
    with pytest.raises(UnknownKeyError):
        verify(sign(claims(), EC, "ES256", "rsa-1"))


def test_signature_by_another_key_with_the_same_kid_is_refused() -> None:
    with pytest.raises(ProviderError, match="signature"):
        verify(sign(claims(), OTHER_RSA))


def test_unknown_kid_says_so() -> None:
    with pytest.raises(UnknownKeyError):
        verify(sign(claims(), kid="rotated-away"))


def test_tampered_payload_is_refused() -> None:
    header, _, signature = sign(claims()).split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(ProviderError):
        verify(f"{header}.{forged}.{signature}")


def test_at_hash_is_checked_when_present() -> None:
    token = sign(claims(at_hash=at_hash("the-access-token", "RS256")))
    assert verify(token, access_token="the-access-token")["sub"] == "alice-0001"
    with pytest.raises(ProviderError, match="at_hash"):
        verify(token, access_token="another-access-token")
    with pytest.raises(ProviderError, match="at_hash"):
        verify(token)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "x" * 20000, "!!!.e30.sig"])
def test_garbage_is_a_provider_error(token: str) -> None:
    with pytest.raises(ProviderError):
        verify(token)


def test_an_ed25519_token_passes_without_joserfc_deprecation_warnings() -> None:
    # The suite turns warnings into errors: joserfc warns on every use of its own
    # "EdDSA" algorithm (RFC 9864 deprecates the name).
    okp = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1", "use": "sig"})
    token = jws.serialize_compact(
        {"alg": "EdDSA", "kid": "ed-1"},
        json.dumps(claims()).encode(),
        okp,
        registry=jws_registry("EdDSA"),
    )
    keys = [*JWKS, okp.as_dict(private=False)]
    assert (
        verify_id_token(token, keys, issuer=ISSUER, client_id=CLIENT, nonce=NONCE, now=NOW)["sub"]
        == "alice-0001"
    )
