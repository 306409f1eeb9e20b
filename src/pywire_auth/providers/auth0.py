"""Sign in with Auth0: a preset of :class:`GenericOIDCProvider` for one tenant domain.

Quirk handled here: Auth0's issuer is ``https://{domain}/`` *with* the trailing
slash, in the discovery document and in every ID token, and issuers compare
exactly; the discovery document is at
``https://{domain}/.well-known/openid-configuration``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.providers.oidc import GenericOIDCProvider

__all__ = ["Auth0Provider"]

# A bare host name (tenant or custom domain): a scheme or a path here would
# point discovery somewhere else than the tenant.
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class Auth0Provider(GenericOIDCProvider):
    """An Auth0 tenant: ``domain`` is ``"tenant.eu.auth0.com"`` or your custom domain.

    >>> Auth0Provider(domain="acme.eu.auth0.com", client_id="x", client_secret="y").issuer
    'https://acme.eu.auth0.com/'

    ``trust_email`` defaults to ``False``: whether Auth0's ``email_verified``
    means anything depends on the tenant's connections (a database connection
    without verification, a social connection that does not verify...). Set it
    to ``True`` only when every enabled connection verifies addresses.
    """

    def __init__(
        self,
        *,
        domain: str,
        client_id: str,
        client_secret: str,
        name: str = "auth0",
        scopes: Sequence[str] = ("openid", "email", "profile"),
        **kwargs: Any,
    ) -> None:
        domain = domain.lower()
        if not _DOMAIN.match(domain):
            raise ConfigurationError(f"domain {domain!r} must be a host name, like acme.auth0.com")
        kwargs.setdefault("display_name", "Auth0")
        kwargs.setdefault("algorithms", ("RS256",))
        self.domain = domain
        super().__init__(
            name=name,
            client_id=client_id,
            client_secret=client_secret,
            issuer=f"https://{domain}/",
            scopes=scopes,
            **kwargs,
        )
