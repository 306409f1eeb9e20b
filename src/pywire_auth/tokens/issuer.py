"""Signing and checking JWTs. The only module that imports a JOSE library.

Hardening, each against a known JWT attack:

* The algorithm is pinned to the issuer's own (HS256 by default): a token whose
  header says ``none``, ``HS384`` or ``RS256`` is refused before any signature
  work ("alg: none" and key-confusion attacks).
* ``iss``, ``sub``, ``aud``, ``iat``, ``nbf``, ``exp`` and ``jti`` belong to the
  issuer; callers cannot set them through ``claims``.
* A token without ``exp``, expired, not yet valid, or for another issuer or
  audience is invalid. ``verify`` answers ``None`` for every invalid token and
  never says why, so it cannot be used as an oracle.
* Keys carry a ``kid`` and each is pinned to one algorithm: HS256 for secrets,
  RS256 for RSA and EdDSA for Ed25519 private keys (``tokens/keys.py``). A token
  is checked with the key its ``kid`` names and only with that key's algorithm,
  so an HS256 token whose HMAC key is our RSA *public* key is refused (key
  confusion), as is a token of a key no longer configured.
* Old keys can stay as verify-only fallbacks while a new one signs, so a key can
  be rotated without signing everyone out. A fallback given as
  :class:`FallbackSecret` retires at its ``retire_after`` time: from then on every
  token it signed is refused, so a leaked old secret stops minting accepted tokens
  once rotation is done (RFC 8725 section 3.4's advice to retire compromised
  keys, OWASP ASVS 6.4.2). Private keys verify until they are removed from
  ``private_keys``; :meth:`TokenIssuer.public_jwks` publishes all of them, so
  other services verify without holding a secret.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from pywire_auth.exceptions import ConfigurationError, InvalidInputError, ReservedClaimError
from pywire_auth.tokens._advice import reserved_claim_advice
from pywire_auth.tokens.keys import KeySource, SigningKey, hmac_key, load_private_keys

__all__ = ["MIN_SECRET_BYTES", "RESERVED_CLAIMS", "FallbackSecret", "TokenIssuer"]

logger = logging.getLogger("pywire_auth.tokens")

#: HS256 keys shorter than the hash output make brute-forcing a token cheap.
MIN_SECRET_BYTES = 32

#: Registered claims only the issuer sets.
RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "iat", "nbf", "exp", "jti"})

# Tokens are small; refusing huge ones keeps a hostile request from costing
# base64 and JSON decoding of megabytes.
_MAX_TOKEN_LENGTH = 8192


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


@dataclass(frozen=True)
class FallbackSecret:
    """An old signing secret that verifies tokens until ``retire_after``, then none.

    ``retire_after`` is a timezone-aware :class:`~datetime.datetime` or a Unix
    time in seconds. Set it to the moment of rotation plus the longest token
    lifetime you issued, so every token signed before the rotation has expired::

        FallbackSecret(old_secret, retire_after=rotated_at + timedelta(seconds=900))
    """

    secret: str | bytes = field(repr=False)
    retire_after: datetime | float

    def retires_at(self) -> float:
        """``retire_after`` as a Unix time."""
        when = self.retire_after
        if isinstance(when, datetime):
            if when.tzinfo is None:
                # A naive time would be read in the server's zone: hours off.
                raise ConfigurationError("FallbackSecret.retire_after needs a timezone")
            return when.timestamp()
        if isinstance(when, bool) or not isinstance(when, int | float):
            raise ConfigurationError("FallbackSecret.retire_after must be a datetime or a number")
        return float(when)


class TokenIssuer:
    """Issues and verifies JWTs for one issuer and default audience.

    HS256 with ``secret`` by default. With ``private_keys`` (RSA or Ed25519, as PEM
    or JWK: see :data:`~pywire_auth.tokens.keys.KeySource`) the first private key
    signs (RS256 or EdDSA) and the others, the secret and its fallbacks only
    verify, until removed; :meth:`public_jwks` is the JWK Set other services verify
    with.

    >>> issuer = TokenIssuer("3f9a1c7e5b2d4086c1e9a7f3b5d20c84", issuer="my-app")
    >>> token = issuer.issue("user-1", claims={"role": "admin"}, ttl=600)
    >>> issuer.verify(token)["role"]
    'admin'
    """

    def __init__(
        self,
        secret: str | bytes | None = None,
        *,
        issuer: str = "pywire-auth-local",
        audience: str = "",
        default_ttl: int = 900,
        leeway: int = 0,
        fallback_secrets: Sequence[str | bytes | FallbackSecret] = (),
        private_keys: KeySource | Sequence[KeySource | SigningKey] = (),
    ) -> None:
        if not issuer:
            raise ConfigurationError("issuer must not be empty")
        asymmetric = load_private_keys(private_keys, "private_keys")
        # (key, Unix time it retires at or None for never), per fallback.
        fallbacks = [
            (_as_bytes(f.secret), f.retires_at())
            if isinstance(f, FallbackSecret)
            else (_as_bytes(f), None)
            for f in fallback_secrets
        ]
        if not secret and not asymmetric and not fallbacks:
            raise ConfigurationError(
                "TokenIssuer needs a secret for HS256 (generate one with: openssl rand -hex 32) "
                "or private_keys for RS256/EdDSA"
            )
        hmac_secrets = ([_as_bytes(secret or b"")] if secret or not asymmetric else []) + [
            key for key, _ in fallbacks
        ]
        for key in hmac_secrets:
            if len(key) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"token secrets need at least {MIN_SECRET_BYTES} bytes "
                    "(generate one with: openssl rand -hex 32)"
                )
        if default_ttl <= 0 or leeway < 0:
            raise ConfigurationError("default_ttl must be positive and leeway not negative")
        self.issuer = issuer
        #: Without an explicit audience, tokens are addressed to the issuer itself.
        self.audience = audience or issuer
        self.default_ttl = default_ttl
        self.leeway = leeway
        # The first key signs: the first private key if any, else the secret.
        ordered = asymmetric + [hmac_key(k) for k in hmac_secrets]
        self._keys: dict[str, SigningKey] = {}
        for signing_key in ordered:
            self._keys.setdefault(signing_key.kid, signing_key)
        self._signing = ordered[0]
        self._header = {"alg": self._signing.alg, "typ": "JWT", "kid": self._signing.kid}
        self._jwks = {"keys": [k.public_jwk for k in asymmetric if k.public_jwk is not None]}
        # kid -> Unix time from which the key verifies nothing; absent: never.
        self._retires: dict[str, float] = {}
        for raw, retires in fallbacks:
            kid = hmac_key(raw).kid
            if kid == self._signing.kid:
                continue  # the signing key itself never retires
            if retires is None:
                logger.warning(
                    "a fallback token secret without retire_after verifies tokens "
                    "forever; pass FallbackSecret(secret, retire_after=...)"
                )
            else:
                self._retires[kid] = min(retires, self._retires.get(kid, retires))

    def __repr__(self) -> str:
        # Never the secret: reprs end up in logs and tracebacks.
        return (
            f"TokenIssuer(issuer={self.issuer!r}, audience={self.audience!r}, "
            f"alg={self.algorithm!r}, kid={self.kid!r})"
        )

    @property
    def kid(self) -> str:
        """The key id of the signing key, as put in each token's header.

        For a private key, its RFC 7638 thumbprint (as in :meth:`public_jwks`).
        """
        return self._signing.kid

    @property
    def algorithm(self) -> str:
        """The algorithm tokens are signed with: ``HS256``, ``RS256`` or ``EdDSA``."""
        return self._signing.alg

    def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set of the private keys' public parts, signing key first.

        Each JWK has ``kty``, its public members, ``kid``, ``alg`` and ``use``
        (``"sig"``), never a private member. HMAC secrets are not in it (they have
        no public part): an HS256-only issuer gives ``{"keys": []}``.
        """
        return {"keys": [dict(jwk) for jwk in self._jwks["keys"]]}

    def issue(
        self,
        subject: str,
        *,
        claims: Mapping[str, Any] | None = None,
        ttl: int | None = None,
        audience: str | None = None,
    ) -> str:
        """Return a signed JWT for ``subject`` that expires after ``ttl`` seconds."""
        if not isinstance(subject, str) or not subject:
            raise InvalidInputError("subject must be a non-empty string")
        lifetime = self.default_ttl if ttl is None else ttl
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
            raise InvalidInputError("ttl must be a positive number of seconds")
        extra = dict(claims or {})
        reserved = RESERVED_CLAIMS.intersection(extra)
        if reserved:
            raise ReservedClaimError(
                f"claims the issuer owns cannot be set: {sorted(reserved)}"
                + reserved_claim_advice(reserved)
            )
        now = int(time.time())
        payload = {
            **extra,
            "iss": self.issuer,
            "sub": subject,
            "aud": audience or self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            # 128 random bits, like a UUID4, at a third of uuid4()'s cost.
            "jti": secrets.token_hex(16),
        }
        try:
            body = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("claims must be JSON-serializable") from exc
        signing = self._signing
        return jws.serialize_compact(
            self._header, body.encode(), signing.key, registry=signing.registry
        )

    def verify(self, token: str, *, audience: str | None = None) -> dict[str, Any] | None:
        """Return the claims of a valid token for ``audience``, else ``None``."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
            return None
        try:
            obj = jws.extract_compact(token.encode("ascii"))
            header = obj.headers()
            kid = header.get("kid", self._signing.kid)
            key = self._keys.get(kid) if isinstance(kid, str) and self._live(kid) else None
            # The key's own algorithm and no other (alg: none, HS256 over an RSA
            # public key, PS256 with an RS256 key): the kid picks, the key decides.
            if key is None or header.get("alg") != key.alg:
                return None
            if not jws.validate_compact(obj, key.key, registry=key.registry):
                return None
            claims = json.loads(obj.payload or b"")
        except (JoseError, ValueError, UnicodeError, RecursionError):
            return None
        if not isinstance(claims, dict) or not self._claims_valid(
            claims, audience or self.audience
        ):
            return None
        return claims

    def _live(self, kid: str) -> bool:
        retires = self._retires.get(kid)
        return retires is None or time.time() < retires

    def _claims_valid(self, claims: dict[str, Any], audience: str) -> bool:
        exp, nbf = _number(claims.get("exp")), _number(claims.get("nbf", 0))
        if exp is None or nbf is None or _number(claims.get("iat", 0)) is None:
            return False
        aud = claims.get("aud")
        now = time.time()
        return (
            claims.get("iss") == self.issuer
            and (aud == audience or (isinstance(aud, list) and audience in aud))
            and isinstance(claims.get("sub"), str)
            and now < exp + self.leeway
            and now + self.leeway >= nbf
        )


def _number(value: object) -> float | None:
    # bool is an int subclass; a token saying "exp": true is malformed, not 1970.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
