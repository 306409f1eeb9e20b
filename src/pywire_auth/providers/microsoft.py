"""Sign in with Microsoft (Entra ID, personal accounts): a preset of GenericOIDCProvider.

Quirks handled here:

* ``tenant="common"`` (any work/school or personal account) and
  ``"organizations"`` (work/school only) publish the issuer
  ``https://login.microsoftonline.com/{tenantid}/v2.0``: the expected ``iss`` of
  each token is that template filled with the token's own signed ``tid``
  (a token from tenant A must not claim tenant B's issuer).
  ``"organizations"`` refuses personal accounts (their ``tid`` is the consumer
  tenant); a tenant GUID accepts only that tenant.
* Microsoft's ``email`` claim is not verified (any tenant admin can set any
  address on an account: the "nOAuth" takeover), so this provider never
  asserts ``email_verified`` and is never trusted for linking by email.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.providers.oidc import ExternalIdentity, GenericOIDCProvider, ProviderMetadata
from pywire_auth.tokens.id_token import Issuer

__all__ = ["CONSUMER_TENANT", "MicrosoftProvider"]

#: The tenant id of personal Microsoft accounts (outlook.com, live.com...).
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_AUTHORITY = "https://login.microsoftonline.com"


class MicrosoftProvider(GenericOIDCProvider):
    """Microsoft identity platform v2.0; ``tenant`` is ``"common"``, ``"organizations"``,
    ``"consumers"`` or a tenant GUID."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        tenant: str = "common",
        name: str = "microsoft",
        scopes: Sequence[str] = ("openid", "email", "profile"),
        **kwargs: Any,
    ) -> None:
        tenant = tenant.lower()
        if tenant not in ("common", "organizations", "consumers") and not _GUID.match(tenant):
            raise ConfigurationError(f"tenant {tenant!r} is not common/organizations/a GUID")
        if kwargs.pop("trust_email", False):
            raise ConfigurationError("Microsoft's email claim is unverified: trust_email=False")
        kwargs.setdefault("display_name", "Microsoft")
        kwargs.setdefault("algorithms", ("RS256",))
        self.tenant = tenant
        super().__init__(
            name=name,
            client_id=client_id,
            client_secret=client_secret,
            discovery_url=f"{_AUTHORITY}/{tenant}/v2.0/.well-known/openid-configuration",
            scopes=scopes,
            trust_email=False,
            **kwargs,
        )

    def token_issuer(self, meta: ProviderMetadata) -> Issuer:
        """The discovery issuer with ``{tenantid}`` filled from the token's ``tid``."""
        template = meta.issuer

        def expected(claims: Mapping[str, Any]) -> str:
            tid = claims.get("tid")
            if not isinstance(tid, str) or not _GUID.match(tid):
                return ""
            if self.tenant == "organizations" and tid == CONSUMER_TENANT:
                return ""
            if self.tenant == "consumers" and tid != CONSUMER_TENANT:
                return ""
            if _GUID.match(self.tenant) and tid != self.tenant:
                return ""
            return template.replace("{tenantid}", tid)

        return expected

    def identity(self, claims: Mapping[str, Any]) -> ExternalIdentity:
        """``sub`` is per-application and stable; the email is never marked verified."""
        base = super().identity(claims)
        email = base.email or str(claims.get("preferred_username") or "")
        profile = {k: v for k, v in (base.claims or {}).items() if k != "email_verified"}
        return ExternalIdentity(
            provider=base.provider,
            subject=base.subject,
            email=email if "@" in email else "",
            email_verified=False,
            name=base.name,
            claims=profile,
        )
