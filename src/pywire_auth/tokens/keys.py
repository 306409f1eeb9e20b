"""Signing keys for :class:`~pywire_auth.TokenIssuer`: HS256 secrets and RS256/EdDSA private keys.

Each key is pinned to exactly one algorithm when it is loaded (an HMAC secret to
``HS256``, an RSA key to ``RS256``, an Ed25519 key to ``EdDSA``) and carries a
``kid``; verification looks the key up by the token's ``kid`` and accepts only
that key's algorithm. That pin is what stops algorithm confusion: an ``HS256``
token "signed" with our RSA *public* key names an RSA key, whose only algorithm
is RS256, so it is refused before any HMAC is computed.

Private keys come as PEM text (PKCS#8 or PKCS#1, several blocks for several
keys), a JWK, a JWK Set, a path to a file holding any of these, or a list of
such sources. Anything else (a public key, an encrypted PEM, an EC or short RSA
key, a JWK meant for encryption or another algorithm) is a
:class:`~pywire_auth.ConfigurationError` whose message says what to pass instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from joserfc.errors import InvalidKeyTypeError, JoseError
from joserfc.jwa import EdDSAAlgorithm, JWSAlgModel
from joserfc.jwk import OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from pywire_auth.exceptions import ConfigurationError

__all__ = [
    "MIN_RSA_BITS",
    "PRIVATE_KEY_ALGORITHMS",
    "KeySource",
    "SigningKey",
    "hmac_key",
    "load_private_keys",
]

#: RSA keys below 2048 bits are factorable with enough money (NIST SP 800-131A).
MIN_RSA_BITS = 2048
# Larger signatures would not fit joserfc's 1024-byte signature limit.
_MAX_RSA_BITS = 4096
#: The algorithm each kind of private key signs with, one each.
PRIVATE_KEY_ALGORITHMS = {"RSA": "RS256", "OKP": "EdDSA"}

#: Where private keys come from: PEM or JSON text (str or bytes), a JWK or JWK Set
#: (a mapping), or a path to a file holding either.
KeySource = str | bytes | os.PathLike[str] | Mapping[str, Any]

_MATERIAL = {
    "RSA": ("kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"),
    "OKP": ("kty", "crv", "x", "d"),
}
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)
_HOW = (
    "pass an unencrypted RSA (2048-4096 bits) or Ed25519 private key as PEM or JWK, e.g. "
    "from: openssl genpkey -algorithm ed25519 -out token-key.pem"
)


class _PinnedEdDSA(EdDSAAlgorithm):
    """joserfc's ``EdDSA`` restricted to Ed25519, without its deprecation warning.

    RFC 9864 deprecates the name ``EdDSA`` because it does not say which curve;
    here every key is loaded as Ed25519 and pinned to this algorithm, so the
    ambiguity it warns about (an Ed448 key accepted for the same name) cannot arise.
    """

    security_warning = ""  # falsy: joserfc warns for a non-empty one

    def check_key(self, key: Any) -> None:
        super().check_key(key)
        if not isinstance(key, OKPKey) or key.curve_name != "Ed25519":
            raise InvalidKeyTypeError("EdDSA here is Ed25519 only")


_EDDSA = _PinnedEdDSA()


def jws_registry(alg: str) -> JWSRegistry:
    """A joserfc registry that knows ``alg`` alone (EdDSA: the Ed25519-only one).

    Package-internal (the tokens we issue and providers' ID tokens both use it).
    """
    registry = JWSRegistry(algorithms=[alg])
    # An instance attribute: joserfc's shared class-level table stays untouched.
    model: JWSAlgModel = _EDDSA if alg == "EdDSA" else JWSRegistry.algorithms[alg]
    registry.algorithms = {alg: model}
    return registry


@dataclass(frozen=True)
class SigningKey:
    """One key of an issuer: its ``kid``, its one algorithm and the key itself.

    ``public_jwk`` is the JWK published in the JWK Set (``None`` for HMAC
    secrets, which have no public part). ``registry`` allows ``alg`` alone.
    """

    kid: str
    alg: str
    key: OctKey | RSAKey | OKPKey = field(repr=False)
    public_jwk: dict[str, str] | None = None
    registry: JWSRegistry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "registry", jws_registry(self.alg))


def hmac_key(secret: bytes) -> SigningKey:
    """The HS256 key of ``secret``; its ``kid`` is a domain-separated digest.

    Not an RFC 7638 thumbprint: that is a bare SHA-256 of the secret, equal in
    every system that shares the secret, and an HMAC key is never published.
    Kids of secrets stay as they were, so tokens issued before an upgrade verify.
    """
    kid = hashlib.sha256(b"pywire-auth kid\x00" + secret).hexdigest()[:16]
    return SigningKey(kid=kid, alg="HS256", key=OctKey.import_key(secret))


def load_private_keys(
    source: KeySource | Sequence[KeySource | SigningKey], name: str
) -> list[SigningKey]:
    """Every private key in ``source``, in order (the first one signs).

    ``name`` names the setting in error messages (an argument or an environment
    variable); key material is never quoted. Duplicates are dropped; keys
    already loaded pass through.
    """
    if isinstance(source, str | bytes) and not source.strip():
        return []  # an empty setting (an unset environment variable): no private key
    sources = [source] if isinstance(source, str | bytes | Mapping | os.PathLike) else source
    keys: dict[str, SigningKey] = {}
    for item in sources:
        loaded = [item] if isinstance(item, SigningKey) else _load(item, name, allow_path=True)
        for key in loaded:
            keys.setdefault(key.kid, key)
    return list(keys.values())


def _load(source: object, name: str, *, allow_path: bool) -> list[SigningKey]:
    if isinstance(source, Mapping):
        return _from_jwk_or_set(source, name)
    if isinstance(source, os.PathLike):
        return _from_file(Path(source), name)
    if isinstance(source, str):
        source = source.encode("utf-8")
    if not isinstance(source, bytes):
        raise ConfigurationError(f"{name}: {type(source).__name__} is not a key ({_HOW})")
    text = source.strip()
    if text.startswith(b"-----BEGIN"):
        return [_from_pem(block.group(0), name) for block in _PEM_BLOCK.finditer(text)] or [
            _from_pem(text, name)
        ]
    if text.startswith((b"{", b"[")):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigurationError(f"{name} is not valid JSON ({_HOW})") from exc
        if not isinstance(data, dict):
            raise ConfigurationError(f"{name} is not a JWK object ({_HOW})")
        return _from_jwk_or_set(data, name)
    if allow_path and text and b"\n" not in text:
        return _from_file(Path(os.fsdecode(text)), name)
    raise ConfigurationError(f"{name} is neither a PEM key, a JWK nor a file path ({_HOW})")


def _from_file(path: Path, name: str) -> list[SigningKey]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(
            f"{name}: cannot read the key file {path} ({reason}); pass a readable file's path "
            "or the private key itself as PEM or JWK"
        ) from exc
    # A file holds keys, never the path of another file.
    return _load(data, f"{name} ({path})", allow_path=False)


def _from_pem(pem: bytes, name: str) -> SigningKey:
    kind = pem.split(b"-----", 2)[1].decode("ascii", "replace")
    if "PUBLIC KEY" in kind or "CERTIFICATE" in kind:
        raise ConfigurationError(
            f"{name} holds a public key or certificate; the issuer needs the private key "
            "(its public part is published for you by public_jwks())"
        )
    try:
        raw = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:
        raise ConfigurationError(
            f"{name} is an encrypted private key: decrypt it first "
            "(openssl pkey -in encrypted.pem -out token-key.pem)"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigurationError(f"{name} is not a readable PEM private key ({_HOW})") from exc
    if isinstance(raw, RSAPrivateKey):
        _check_rsa_bits(raw.key_size, name)
        return _private(RSAKey.import_key(raw))
    if isinstance(raw, Ed25519PrivateKey):
        return _private(OKPKey.import_key(raw))
    raise ConfigurationError(f"{name}: a {type(raw).__name__} cannot sign tokens here ({_HOW})")


def _from_jwk_or_set(data: Mapping[str, Any], name: str) -> list[SigningKey]:
    if "keys" in data:
        members = data["keys"]
        if not isinstance(members, list) or not members:
            raise ConfigurationError(f"{name}: a JWK Set needs a non-empty 'keys' list ({_HOW})")
        return [_from_jwk(member, name) for member in members]
    return [_from_jwk(data, name)]


def _from_jwk(jwk: object, name: str) -> SigningKey:
    if not isinstance(jwk, Mapping):
        raise ConfigurationError(f"{name}: a JWK must be a JSON object ({_HOW})")
    kty = jwk.get("kty")
    alg = PRIVATE_KEY_ALGORITHMS.get(kty) if isinstance(kty, str) else None
    if alg is None or (kty == "OKP" and jwk.get("crv") != "Ed25519"):
        raise ConfigurationError(f"{name}: a JWK of kty {kty!r} cannot sign tokens here ({_HOW})")
    if jwk.get("alg", alg) != alg:
        # One algorithm per key: an RSA key marked PS256 is not used for RS256.
        raise ConfigurationError(
            f"{name}: this {kty} JWK is for {jwk.get('alg')!r}, but signs {alg} here: "
            "drop its 'alg' member or give another key"
        )
    if jwk.get("use", "sig") != "sig":
        raise ConfigurationError(f"{name}: this JWK is for 'use': {jwk.get('use')!r}, not 'sig'")
    if "d" not in jwk:
        raise ConfigurationError(
            f"{name} is a public JWK; the issuer needs the private key (with 'd')"
        )
    if kty == "RSA":
        _check_rsa_bits(_jwk_bits(jwk.get("n")), name)
    # Only the key material is kept: the kid is the thumbprint, the algorithm and
    # use are ours, and a stray key_ops cannot make signing fail later.
    material = {m: jwk[m] for m in _MATERIAL[str(kty)] if m in jwk}
    try:
        key: RSAKey | OKPKey = (RSAKey if kty == "RSA" else OKPKey).import_key(material)
    except (JoseError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"{name}: the {kty} JWK is malformed ({_HOW})") from exc
    return _private(key)


def _jwk_bits(modulus: object) -> int:
    if not isinstance(modulus, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except ValueError:
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _check_rsa_bits(bits: int, name: str) -> None:
    if not MIN_RSA_BITS <= bits <= _MAX_RSA_BITS:
        raise ConfigurationError(
            f"{name}: an RSA key of {bits} bits; use {MIN_RSA_BITS} to {_MAX_RSA_BITS} "
            "(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072)"
        )


def _private(key: RSAKey | OKPKey) -> SigningKey:
    kty = key.key_type
    alg = PRIVATE_KEY_ALGORITHMS[kty]
    kid = key.thumbprint()  # RFC 7638: SHA-256 of the required public members
    # Built member by member from the public fields: nothing private can slip in.
    members = ("n", "e") if kty == "RSA" else ("crv", "x")
    public = {"kty": kty, **{m: str(key.dict_value[m]) for m in members}}
    public.update(kid=kid, alg=alg, use="sig")
    return SigningKey(kid=kid, alg=alg, key=key, public_jwk=public)
