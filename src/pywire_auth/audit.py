"""The security audit log: who signed up, in, out, was throttled or revoked (ASVS V7).

Every record goes to the ``pywire_auth.audit`` logger at INFO (WARNING for
throttling and failed writes), with a fixed set of fields passed via ``extra=``
so that any JSON formatter can ship them as they are:

========== ===============================================================
event      ``sign_up``, ``sign_in``, ``sign_out``, ``revoke``,
           ``password_change``, ``password_reset``, ``account_disable``,
           ``account_enable``, ``admin_action`` (an admin page action; ``reason``
           names it and the operator's principal id), and the account routes' events
outcome    ``success``, ``failure`` or ``throttled``
user_id    the stored user id, when the user is known
email_hash the first 16 hex digits of HMAC-SHA256(key, normalized email)
client     the client address as the throttle counts it (IPv6 by prefix)
reason     why it failed: an ``?error=`` code such as ``invalid``
========== ===============================================================

A field that does not apply is ``None``. No record ever holds a password, a
session or JWT token, a cookie or an email address (``tests/web/test_audit.py``).

The email is keyed, not plainly hashed: emails are guessable, so a plain
SHA-256 of one is as good as the address to anyone holding the logs and a list
of addresses. Keyed with a secret derived from the session secret, the hash
still ties one account's events together, and whoever runs the app can find an
address's records with :meth:`pywire_auth.AuthActions.audit_email_hash`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Final, Literal

from pywire_auth.local.guard import account_of

__all__ = ["AUDIT_LOGGER", "AuditEvent", "Outcome", "audit", "email_hash"]

#: The name of the audit logger; route it wherever security events go.
AUDIT_LOGGER: Final = "pywire_auth.audit"

logger = logging.getLogger(AUDIT_LOGGER)

AuditEvent = Literal[
    "sign_up",
    "sign_in",
    "sign_out",
    "revoke",
    "password_change",
    "password_reset",
    "password_forgot",
    "account_disable",
    "account_enable",
    "email_verification",
    "email_change",
    "account_delete",
    "admin_action",
    "provider_unlink",
]
Outcome = Literal["success", "failure", "throttled"]

# 64 bits: plenty to tell accounts apart in logs, short enough to read.
_HASH_HEX = 16


def email_hash(key: bytes, email: str) -> str:
    """The audit log's name for ``email``: keyed, normalized, never reversible without ``key``.

    >>> email_hash(b"k" * 32, "Ann@Example.com") == email_hash(b"k" * 32, "ann@example.com")
    True
    """
    account = account_of(email)
    digest = hmac.new(key, account.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:_HASH_HEX]


def audit(
    event: AuditEvent,
    outcome: Outcome,
    *,
    user_id: str | None = None,
    email_hash: str | None = None,
    client: str | None = None,
    reason: str | None = None,
) -> None:
    """Write one audit record; its fields are the arguments, none of them secret.

    >>> audit("sign_in", "failure", client="192.0.2.1", reason="invalid")
    """
    level = logging.INFO if outcome == "success" else logging.WARNING
    if not logger.isEnabledFor(level):
        return
    fields = {
        "event": event,
        "outcome": outcome,
        "user_id": user_id,
        "email_hash": email_hash,
        "client": client,
        "reason": reason,
    }
    # The message repeats the fields for plain-text handlers; JSON handlers use extra.
    message = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    logger.log(level, "%s", message, extra=fields)
