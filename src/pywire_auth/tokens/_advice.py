"""What to pass instead of a registered claim that a caller tried to set.

pywire-auth 0.4 let ``issue_id_token(claims=...)`` override ``exp``, ``sub`` and
the rest; here the issuer owns them (a caller-set ``exp`` or ``aud`` is how tokens
outlive their purpose), so the error names the argument that does the job.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["reserved_claim_advice"]

_INSTEAD = {
    "sub": "user_id= sets sub",
    "exp": "ttl= (seconds) sets exp",
    "aud": "audience= sets aud",
    "iss": "the issuer sets iss (LocalIdP(issuer=...) or TokenIssuer(issuer=...))",
    "iat": "iat is the time of issue",
    "nbf": "nbf is the time of issue",
    "jti": "jti is a fresh random id on every token",
    "email": "create_user(email=...) sets the account's email",
    "sid": "session_id= sets sid",
}


def reserved_claim_advice(names: Iterable[str]) -> str:
    """``"; instead: ttl= (seconds) sets exp, ..."`` for the refused claim names.

    >>> reserved_claim_advice(["exp"])
    '; instead: ttl= (seconds) sets exp'
    """
    hints = [_INSTEAD[name] for name in sorted(names) if name in _INSTEAD]
    return "; instead: " + "; ".join(hints) if hints else ""
