"""RS256 and EdDSA tokens: key loading, kids, rotation, the JWK Set and key confusion.

Keys are real (generated with ``cryptography``); forged tokens are signed with
joserfc or by hand, so each test isolates one defect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, SecurityWarning
from joserfc.jwk import KeySet, OKPKey, RSAKey

from pywire_auth import ConfigurationError, LocalIdP, TokenIssuer

SECRET = "3f9a1c7e5b2d4086c1e9a7f3b5d20c84"
PLAIN = serialization.NoEncryption()
PKCS8 = serialization.PrivateFormat.PKCS8
PEM = serialization.Encoding.PEM


def private_pem(key: Any, fmt: serialization.PrivateFormat = PKCS8) -> bytes:
    return bytes(key.private_bytes(PEM, fmt, PLAIN))


def public_pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


RSA_OLD = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_NEW = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_OLD = ed25519.Ed25519PrivateKey.generate()
ED_NEW = ed25519.Ed25519PrivateKey.generate()
KEYS = {"RS256": (RSA_OLD, RSA_NEW), "EdDSA": (ED_OLD, ED_NEW)}
ALGS = pytest.mark.parametrize("alg", ["RS256", "EdDSA"])
# joserfc warns on every use of the name "EdDSA" (RFC 9864 deprecates it); a
# verifying service that accepts EdDSA lives with that warning.
JOSERFC_EDDSA = pytest.mark.filterwarnings(f"ignore::{SecurityWarning.__module__}.SecurityWarning")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def header_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload = {"iss": "pywire-auth-local", "sub": "u1", "aud": "pywire-auth-local"}
    return {**payload, "iat": now, "nbf": now, "exp": now + 600, "jti": "j", **overrides}


def hs256_by_hand(header: dict[str, Any], key: bytes, payload: dict[str, Any] | None = None) -> str:
    """HS256 over any header with any HMAC key, even ones joserfc refuses to use."""
    signing_input = (
        f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload or claims()).encode())}"
    )
    return (
        f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"
    )


def joserfc_key(key: Any) -> RSAKey | OKPKey:
    return RSAKey.import_key(key) if isinstance(key, rsa.RSAPrivateKey) else OKPKey.import_key(key)


def sign_with(key: Any, alg: str, kid: str, payload: dict[str, Any] | None = None) -> str:
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    body = json.dumps(payload or claims()).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jws.serialize_compact(header, body, joserfc_key(key), algorithms=[alg])


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 by hand: SHA-256 of the required members, sorted, no whitespace."""
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x")
    canonical = json.dumps({m: jwk[m] for m in required}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


# --- signing and verifying -------------------------------------------------------


@ALGS
def test_sign_and_verify(alg: str) -> None:
    issuer = TokenIssuer(private_keys=private_pem(KEYS[alg][0]))
    token = issuer.issue("user-1", claims={"role": "admin"})
    assert header_of(token) == {"alg": alg, "typ": "JWT", "kid": issuer.kid}
    assert issuer.algorithm == alg
    verified = issuer.verify(token)
    assert verified is not None
    assert (verified["sub"], verified["role"]) == ("user-1", "admin")


@ALGS
def test_kid_is_the_rfc7638_thumbprint(alg: str) -> None:
    issuer = TokenIssuer(private_keys=private_pem(KEYS[alg][0]))
    (jwk,) = issuer.public_jwks()["keys"]
    assert issuer.kid == jwk["kid"] == thumbprint(jwk)


def test_hs256_stays_the_default_and_carries_a_kid() -> None:
    issuer = TokenIssuer(SECRET)
    header = header_of(issuer.issue("u1"))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}
    assert issuer.public_jwks() == {"keys": []}
    assert TokenIssuer(SECRET, private_keys="").algorithm == "HS256"


def test_public_jwks_holds_public_members_only_signing_key_first() -> None:
    issuer = TokenIssuer(SECRET, private_keys=[private_pem(ED_NEW), private_pem(RSA_OLD)])
    ed_jwk, rsa_jwk = issuer.public_jwks()["keys"]
    assert set(ed_jwk) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert set(rsa_jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (ed_jwk["alg"], rsa_jwk["alg"], ed_jwk["use"]) == ("EdDSA", "RS256", "sig")
    assert ed_jwk["kid"] == issuer.kid
    assert SECRET not in json.dumps(issuer.public_jwks())
    # A copy: changing it does not change what the issuer publishes.
    issuer.public_jwks()["keys"].clear()
    assert len(issuer.public_jwks()["keys"]) == 2


def test_repr_shows_no_key_material() -> None:
    issuer = TokenIssuer(private_keys=private_pem(RSA_OLD))
    d = RSAKey.import_key(RSA_OLD).as_dict(private=True)["d"]
    assert str(d)[:16] not in repr(issuer)
    assert issuer.kid in repr(issuer)
    assert "RS256" in repr(issuer)


# --- where keys come from ------------------------------------------------------------


def key_sources(tmp_path: Path) -> dict[str, Any]:
    jwk = RSAKey.import_key(RSA_OLD).as_dict(private=True)
    path = tmp_path / "token-key.pem"
    path.write_bytes(private_pem(RSA_OLD))
    return {
        "pem bytes": private_pem(RSA_OLD),
        "pem text": private_pem(RSA_OLD).decode(),
        "pkcs1 pem": private_pem(RSA_OLD, serialization.PrivateFormat.TraditionalOpenSSL),
        "jwk": jwk,
        "jwk json": json.dumps(jwk),
        "jwk set": {"keys": [jwk]},
        "jwk with foreign kid and alg": {**jwk, "kid": "mine", "alg": "RS256", "use": "sig"},
        "path text": str(path),
        "path": path,
    }


def test_every_key_source_gives_the_same_key(tmp_path: Path) -> None:
    expected = TokenIssuer(private_keys=private_pem(RSA_OLD)).kid
    for name, source in key_sources(tmp_path).items():
        issuer = TokenIssuer(private_keys=source)
        assert issuer.kid == expected, name
        assert issuer.verify(issuer.issue("u1")) is not None, name


def test_a_file_with_several_pem_blocks_rotates(tmp_path: Path) -> None:
    path = tmp_path / "keys.pem"
    path.write_bytes(private_pem(ED_NEW) + b"\n" + private_pem(RSA_OLD))
    issuer = TokenIssuer(private_keys=path)
    assert [k["alg"] for k in issuer.public_jwks()["keys"]] == ["EdDSA", "RS256"]
    assert issuer.algorithm == "EdDSA"


def test_duplicate_keys_are_listed_once() -> None:
    issuer = TokenIssuer(private_keys=[private_pem(ED_OLD), private_pem(ED_OLD)])
    assert len(issuer.public_jwks()["keys"]) == 1


def bad_sources(tmp_path: Path) -> dict[str, Any]:
    encrypted = RSA_OLD.private_bytes(
        PEM, PKCS8, serialization.BestAvailableEncryption(b"passphrase")
    )
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    rsa_jwk = RSAKey.import_key(RSA_OLD).as_dict(private=True)
    huge_n = b64url((1 << 4999).to_bytes(625, "big"))
    return {
        "public pem": public_pem(RSA_OLD),
        "encrypted pem": encrypted,
        "rsa 1024": private_pem(small),
        "ec key": private_pem(ec.generate_private_key(ec.SECP256R1())),
        "ed448 key": private_pem(ed448.Ed448PrivateKey.generate()),
        "public jwk": RSAKey.import_key(RSA_OLD).as_dict(private=False),
        "rsa jwk over 4096 bits": {**rsa_jwk, "n": huge_n},
        "jwk for ps256": {**rsa_jwk, "alg": "PS256"},
        "jwk for encryption": {**rsa_jwk, "use": "enc"},
        "x25519 jwk": {"kty": "OKP", "crv": "X25519", "x": "AA", "d": "AA"},
        "oct jwk": {"kty": "oct", "k": b64url(SECRET.encode())},
        "malformed jwk": {"kty": "OKP", "crv": "Ed25519", "x": "!", "d": "!"},
        "empty jwk set": {"keys": []},
        "json array": "[1, 2]",
        "broken json": "{not json",
        "broken pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        "missing file": str(tmp_path / "nope.pem"),
        "file holding a path": _file(tmp_path / "indirect", str(tmp_path / "nope.pem")),
        "a number": 42,
    }


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_unusable_keys_are_configuration_errors_saying_what_to_do(tmp_path: Path) -> None:
    for name, source in bad_sources(tmp_path).items():
        with pytest.raises(ConfigurationError) as caught:
            TokenIssuer(private_keys=[source])
        message = str(caught.value)
        assert message.startswith("private_keys"), (name, message)
        assert any(hint in message for hint in ("openssl", "private key", "'sig'", "'alg'")), (
            name,
            message,
        )
        assert "BEGIN" not in message, (name, message)
        assert len(message) < 400, (name, message)


def test_an_issuer_needs_a_secret_or_a_private_key() -> None:
    with pytest.raises(ConfigurationError, match="private_keys"):
        TokenIssuer()
    with pytest.raises(ConfigurationError):
        TokenIssuer("short", private_keys=private_pem(ED_OLD))


# --- rotation ------------------------------------------------------------------------


@ALGS
def test_rotation_new_key_signs_old_key_verifies_until_removed(alg: str) -> None:
    old_key, new_key = (private_pem(k) for k in KEYS[alg])
    before = TokenIssuer(private_keys=old_key)
    during = TokenIssuer(private_keys=[new_key, old_key])
    after = TokenIssuer(private_keys=new_key)
    old_token, new_token = before.issue("u1"), during.issue("u1")
    assert header_of(new_token)["kid"] == after.kid != before.kid
    assert during.verify(old_token) is not None
    assert during.verify(new_token) is not None
    assert after.verify(new_token) is not None
    # The removed key verifies nothing any more.
    assert after.verify(old_token) is None
    assert [k["kid"] for k in during.public_jwks()["keys"]] == [after.kid, before.kid]


def test_moving_from_hs256_to_a_private_key() -> None:
    hs_token = TokenIssuer(SECRET).issue("u1")
    issuer = TokenIssuer(SECRET, private_keys=private_pem(ED_NEW))
    assert issuer.algorithm == "EdDSA"
    assert issuer.verify(hs_token) is not None  # the secret now only verifies
    assert TokenIssuer(private_keys=private_pem(ED_NEW)).verify(hs_token) is None


# --- what verification refuses ---------------------------------------------------------


@ALGS
def test_hs256_token_hmac_keyed_with_the_public_key_is_refused(alg: str) -> None:
    """The classic key confusion: the verifier's public key used as an HMAC secret."""
    key = KEYS[alg][0]
    issuer = TokenIssuer(SECRET, private_keys=private_pem(key))
    jwk = issuer.public_jwks()["keys"][0]
    public_forms = [public_pem(key), json.dumps(jwk).encode()]
    for public in public_forms:
        for header in ({"alg": "HS256", "kid": issuer.kid}, {"alg": "HS256"}):
            assert issuer.verify(hs256_by_hand(header, public)) is None, header
    # Even the real HS256 secret cannot sign for the private key's kid.
    assert (
        issuer.verify(hs256_by_hand({"alg": "HS256", "kid": issuer.kid}, SECRET.encode())) is None
    )


@ALGS
def test_alg_none_is_refused(alg: str) -> None:
    issuer = TokenIssuer(private_keys=private_pem(KEYS[alg][0]))
    header = b64url(json.dumps({"alg": "none", "kid": issuer.kid}).encode())
    body = b64url(json.dumps(claims()).encode())
    assert issuer.verify(f"{header}.{body}.") is None


def test_same_key_with_another_algorithm_is_refused() -> None:
    issuer = TokenIssuer(private_keys=[private_pem(RSA_OLD), private_pem(ED_OLD)])
    ed_kid = issuer.public_jwks()["keys"][1]["kid"]
    for other in ("PS256", "RS384", "RS512"):
        assert issuer.verify(sign_with(RSA_OLD, other, issuer.kid)) is None, other
    assert issuer.verify(sign_with(RSA_OLD, "RS256", issuer.kid)) is not None
    # Each kid names one key type: an RSA signature under the Ed25519 key's kid fails.
    assert issuer.verify(sign_with(RSA_OLD, "RS256", ed_kid)) is None
    assert issuer.verify(sign_with(ED_OLD, "EdDSA", ed_kid)) is not None
    assert issuer.verify(sign_with(ED_OLD, "EdDSA", issuer.kid)) is None


@ALGS
def test_another_key_under_our_kid_is_refused(alg: str) -> None:
    ours, theirs = KEYS[alg]
    issuer = TokenIssuer(private_keys=private_pem(ours))
    assert issuer.verify(sign_with(theirs, alg, issuer.kid)) is None
    assert issuer.verify(sign_with(theirs, alg, "unknown-kid")) is None


@ALGS
def test_expired_and_foreign_tokens_are_refused_as_for_hs256(alg: str) -> None:
    issuer = TokenIssuer(private_keys=private_pem(KEYS[alg][0]))
    key = KEYS[alg][0]
    assert issuer.verify(sign_with(key, alg, issuer.kid, claims(exp=int(time.time()) - 5))) is None
    assert issuer.verify(sign_with(key, alg, issuer.kid, claims(iss="elsewhere"))) is None
    assert issuer.verify(sign_with(key, alg, issuer.kid, claims())) is not None


def test_joserfc_global_eddsa_is_left_alone() -> None:
    TokenIssuer(private_keys=private_pem(ED_OLD)).issue("u1")
    with pytest.warns(SecurityWarning):
        jws.serialize_compact({"alg": "EdDSA"}, b"x", joserfc_key(ED_OLD), algorithms=["EdDSA"])


# --- another service, holding only the JWK Set ------------------------------------


@JOSERFC_EDDSA
@ALGS
def test_another_service_verifies_with_joserfc_from_the_jwks_only(alg: str) -> None:
    ours = TokenIssuer(
        private_keys=[private_pem(KEYS[alg][1]), private_pem(KEYS[alg][0])],
        issuer="https://auth.example",
        audience="orders-api",
    )
    published = json.loads(json.dumps(ours.public_jwks()))  # as it travels over HTTP
    token = ours.issue("user-1", claims={"role": "admin"})

    # The other service: joserfc, the JWK Set and the expected iss/aud; nothing else.
    key_set = KeySet.import_key_set(published)
    decoded = jwt.decode(token, key_set, algorithms=[alg])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": "https://auth.example"},
        aud={"essential": True, "value": "orders-api"},
    ).validate(decoded.claims)
    assert (decoded.claims["sub"], decoded.claims["role"]) == ("user-1", "admin")
    # An old key's token verifies there too, a tampered one does not.
    old = TokenIssuer(
        private_keys=private_pem(KEYS[alg][0]), issuer="https://auth.example", audience="orders-api"
    )
    assert jwt.decode(old.issue("user-2"), key_set, algorithms=[alg]).claims["sub"] == "user-2"
    head, _body, sig = token.split(".")
    forged = b64url(json.dumps({**decoded.claims, "role": "owner"}).encode())
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{head}.{forged}.{sig}", key_set, algorithms=[alg])


# --- LocalIdP -----------------------------------------------------------------------------


def test_local_idp_signs_with_a_private_key_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_IDP_SECRET", raising=False)
    monkeypatch.delenv("LOCAL_IDP_PRIVATE_KEY", raising=False)
    idp = LocalIdP(private_keys=private_pem(ED_OLD), publish_jwks=True)
    token = idp.issue_id_token(user_id="u1", session_id="s" * 64)
    assert header_of(token)["alg"] == "EdDSA"
    assert idp.verify_id_token(token)["sid"] == "s" * 64  # type: ignore[index]
    assert idp.secret_fingerprints == frozenset()
    assert idp.publish_jwks


@pytest.mark.parametrize("form", ["pem", "path", "jwk set"])
def test_local_idp_reads_the_private_key_from_the_environment(
    form: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LOCAL_IDP_SECRET", raising=False)
    pem = private_pem(RSA_NEW).decode()
    if form == "path":
        value = str(_file(tmp_path / "key.pem", pem))
    elif form == "jwk set":
        value = json.dumps({"keys": [RSAKey.import_key(RSA_NEW).as_dict(private=True)]})
    else:
        value = pem
    monkeypatch.setenv("LOCAL_IDP_PRIVATE_KEY", value)
    idp = LocalIdP()
    assert idp.tokens.kid == TokenIssuer(private_keys=pem).kid
    assert idp.tokens.algorithm == "RS256"


def test_local_idp_errors_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_IDP_SECRET", raising=False)
    monkeypatch.delenv("LOCAL_IDP_PRIVATE_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="LOCAL_IDP_PRIVATE_KEY"):
        LocalIdP()
    monkeypatch.setenv("LOCAL_IDP_PRIVATE_KEY", public_pem(ED_OLD).decode())
    with pytest.raises(ConfigurationError, match=r"^LOCAL_IDP_PRIVATE_KEY holds a public key"):
        LocalIdP()
    with pytest.raises(ConfigurationError, match=r"^private_keys holds a public key"):
        LocalIdP(private_keys=public_pem(ED_OLD))


def test_publish_jwks_needs_a_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_IDP_PRIVATE_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="publish_jwks=True needs private_keys"):
        LocalIdP(secret=SECRET, publish_jwks=True)
