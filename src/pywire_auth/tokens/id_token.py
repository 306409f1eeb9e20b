"""Checking OpenID Connect ID tokens from an external provider.

Every check below stops a known attack; each failure raises
:class:`~pywire_auth.exceptions.ProviderError` (``UnknownKeyError`` when the
token names a key the key set lacks, so the caller can refetch the provider's
JWKS once: key rotation):

* ``alg`` must be in an allow-list of public-key algorithms. ``none`` and every
  HMAC algorithm are refused before any signature work: an ``HS256`` token
  "signed" with the provider's *public* key is the classic key-confusion
  forgery, and ``none`` needs no key at all.
* The key is chosen by ``kid`` and must be of the algorithm's key type (an RSA
  key never checks an EC signature and vice versa); a JWK that names its own
  ``alg`` is only used for that algorithm.
* ``iss`` must equal the provider's issuer exactly (mix-up attacks); ``aud``
  must contain our client id and, with several audiences, ``azp`` must be our
  client id (a token issued to another app is not a sign-in to ours).
* ``exp`` and ``iat`` are required and checked with a small leeway (replay of an
  old token); ``nonce`` must equal the one sent with this login (replay of a
  token from another login); ``at_hash``, when present, must match the access
  token it came with (token substitution).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from pywire_auth.exceptions import ProviderError
from pywire_auth.tokens.keys import jws_registry

__all__ = ["ASYMMETRIC_ALGORITHMS", "Issuer", "UnknownKeyError", "at_hash", "verify_id_token"]

#: Signature algorithms an ID token may use. Never ``none``, never ``HS*``.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

_KEY_TYPES: dict[str, str] = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
_MAX_TOKEN_LENGTH = 16384


class UnknownKeyError(ProviderError):
    """The token's ``kid`` is not in the key set: the provider may have rotated keys."""


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise ProviderError("id_token is not a compact JWS")
    try:
        header = json.loads(_b64decode(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderError("id_token header is not JSON") from exc
    if not isinstance(header, dict):
        raise ProviderError("id_token header is not an object")
    return header


def at_hash(access_token: str, alg: str) -> str:
    """The ``at_hash`` of ``access_token`` for a token signed with ``alg`` (OIDC Core 3.1.3.6)."""
    # EdDSA (Ed25519) uses SHA-512, as the OpenID Foundation's errata say.
    digest = (hashlib.sha512 if alg == "EdDSA" else _HASHES[alg[-3:]])(
        access_token.encode()
    ).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def _pick_key(header: Mapping[str, Any], keys: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGORITHMS:
        # Refused before any key is touched: alg=none and HS256-with-a-public-key.
        raise ProviderError(f"id_token algorithm {alg!r} is not allowed")
    kty = _KEY_TYPES[alg[:2]]
    kid = header.get("kid")
    candidates = [
        key
        for key in keys
        if key.get("kty") == kty
        and key.get("use", "sig") == "sig"
        and key.get("alg", alg) == alg
        and (kid is None or key.get("kid") == kid)
    ]
    if not candidates:
        raise UnknownKeyError(f"no {kty} key with kid {kid!r} in the provider's JWKS")
    if len(candidates) > 1:
        # Without a kid, several keys of one type would mean trying each: refuse.
        raise ProviderError("id_token names no kid and the JWKS holds several keys")
    return candidates[0]


def _import(key: Mapping[str, Any]) -> RSAKey | ECKey | OKPKey:
    public = {k: v for k, v in key.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    kty = public.get("kty")
    try:
        if kty == "RSA":
            return RSAKey.import_key(public)
        if kty == "EC":
            return ECKey.import_key(public)
        return OKPKey.import_key(public)
    except (JoseError, ValueError, TypeError) as exc:
        raise ProviderError("the provider's JWKS holds an unusable key") from exc


#: The expected ``iss``: a string, or a function of the signed claims (multi-tenant
#: providers such as Microsoft's ``common`` endpoint, whose issuer names the tenant).
Issuer = str | Callable[[Mapping[str, Any]], str]


def _check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: Issuer,
    client_id: str,
    nonce: str,
    now: int,
    leeway: int,
    max_age: int,
) -> None:
    expected = issuer(claims) if callable(issuer) else issuer
    if not expected or claims.get("iss") != expected:
        raise ProviderError("id_token iss is not the provider's issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise ProviderError("id_token aud does not contain our client id")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise ProviderError("id_token azp is not our client id")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or now > exp + leeway:
        raise ProviderError("id_token is expired or has no exp")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise ProviderError("id_token has no iat")
    if iat > now + leeway or iat < now - max_age:
        raise ProviderError("id_token iat is in the future or too old")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise ProviderError("id_token nonce does not match this login")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise ProviderError("id_token has no usable sub")


def verify_id_token(
    token: str,
    keys: Sequence[Mapping[str, Any]],
    *,
    issuer: Issuer,
    client_id: str,
    nonce: str,
    now: int,
    algorithms: frozenset[str] = ASYMMETRIC_ALGORITHMS,
    access_token: str | None = None,
    leeway: int = 60,
    max_age: int = 600,
) -> dict[str, Any]:
    """Check ``token`` against the provider's JWKS ``keys``; return its claims or raise.

    ``algorithms`` narrows the allow-list (it can never widen it past
    :data:`ASYMMETRIC_ALGORITHMS`). ``max_age`` bounds how old ``iat`` may be.
    A callable ``issuer`` gets the signature-checked claims and returns the
    ``iss`` they must carry ("" refuses the token).
    """
    header = _header(token)
    alg = header.get("alg")
    if alg not in algorithms:
        raise ProviderError(f"id_token algorithm {alg!r} is not allowed")
    key = _import(_pick_key(header, keys))
    try:
        # A registry of ``alg`` alone: joserfc itself also refuses anything else
        # (and its EdDSA is Ed25519 only, without the name's deprecation warning).
        verified = jws.deserialize_compact(token, key, registry=jws_registry(str(alg)))
        claims = json.loads(verified.payload)
    except (JoseError, ValueError, UnicodeDecodeError) as exc:
        raise ProviderError("id_token signature or payload is invalid") from exc
    if not isinstance(claims, dict):
        raise ProviderError("id_token payload is not an object")
    _check_claims(
        claims,
        issuer=issuer,
        client_id=client_id,
        nonce=nonce,
        now=now,
        leeway=leeway,
        max_age=max_age,
    )
    expected_at_hash = claims.get("at_hash")
    if expected_at_hash is not None:
        actual = at_hash(access_token, str(alg)) if access_token is not None else ""
        if not hmac.compare_digest(str(expected_at_hash).encode(), actual.encode()):
            raise ProviderError("id_token at_hash does not match the access token")
    return claims
