"""One rule for every signing secret: long enough, and not an obvious placeholder.

Both the session secret (``PYWIRE_SESSION_SECRET``) and the local IdP's token
secret (``LOCAL_IDP_SECRET``) go through :func:`check_secret`. A secret that is
short or visibly not random lets an attacker forge session cookies or tokens by
guessing it (OWASP ASVS V3/V6: keys must come from a CSPRNG). The rule cannot
prove randomness; it refuses what is certainly not random:

* fewer than :data:`MIN_SECRET_BYTES` (32) bytes;
* any whitespace (a pasted line break or a sentence, not a generated key);
* fewer than :data:`MIN_DISTINCT_CHARS` (8) distinct characters (``"a" * 32``);
* one short unit repeated (``"abcd" * 8``, ``"0123456789" * 4``).

``openssl rand -hex 32`` (64 hex characters) or ``python -c "import secrets;
print(secrets.token_urlsafe(32))"`` always passes.
"""

from __future__ import annotations

import hashlib

from pywire_auth.exceptions import ConfigurationError

__all__ = [
    "MIN_DISTINCT_CHARS",
    "MIN_SECRET_BYTES",
    "check_secret",
    "secret_fingerprint",
    "secret_problem",
]

MIN_SECRET_BYTES = 32
MIN_DISTINCT_CHARS = 8
_GENERATE = "generate one with: openssl rand -hex 32"


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is unfit to sign with, or ``None`` if it passes the rule."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"it is shorter than {MIN_SECRET_BYTES} bytes"
    if any(ch.isspace() for ch in secret):
        return "it contains whitespace"
    if len(set(secret)) < MIN_DISTINCT_CHARS:
        return f"it has fewer than {MIN_DISTINCT_CHARS} distinct characters"
    # (s + s).find(s, 1) is the length of the shortest unit s repeats, if any.
    period = (secret + secret).find(secret, 1)
    if period < len(secret):
        return "it is one short pattern repeated"
    return None


def check_secret(secret: str, name: str) -> None:
    """Raise :class:`~pywire_auth.ConfigurationError` if ``secret`` breaks the rule.

    ``name`` says which secret (an environment variable or argument) in the message;
    the secret itself is never quoted, since messages end up in logs.
    """
    problem = secret_problem(secret)
    if problem is not None:
        raise ConfigurationError(f"{name} is not a usable secret: {problem} ({_GENERATE})")


def secret_fingerprint(secret: str) -> str:
    """A one-way tag of ``secret``: equal secrets give equal tags, nothing else leaks.

    ``connect_auth`` compares the session secrets' tags with the token secrets'
    to refuse one value used for both (a key used for two purposes).
    """
    return hashlib.sha256(b"pywire-auth secret fingerprint\x00" + secret.encode()).hexdigest()
