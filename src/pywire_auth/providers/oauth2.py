"""Sign-in with a plain OAuth 2.0 provider: no ID token, the identity comes from its API.

GitHub and Facebook sign users in with OAuth 2.0 only. The flow is the same as
OpenID Connect's (authorization code, PKCE S256, ``state``), so these providers
plug into the same routes; what differs is :meth:`OAuth2Provider.fetch_identity`,
which asks the provider's API who owns the access token. The token comes
straight from the provider's token endpoint over TLS in exchange for our
single-use code, verifier and client secret, so the API's answer is about the
user who just signed in.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from pywire_auth.exceptions import ConfigurationError, LoginCancelledError, ProviderError
from pywire_auth.providers._client import ProviderHTTP, httpx
from pywire_auth.types import LOCAL_PROVIDER, ExternalIdentity

__all__ = ["OAuth2Provider", "authorization_code", "check_name", "text"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_RESERVED_NAMES = frozenset({LOCAL_PROVIDER, "local-skeleton", "logout"})


def check_name(name: str, client_id: str, client_secret: str) -> None:
    """Refuse a provider name unfit for URLs and links, or missing credentials."""
    if not _NAME.match(name) or name in _RESERVED_NAMES:
        raise ConfigurationError(f"provider name {name!r} must match {_NAME.pattern}")
    if not client_id or not client_secret:
        raise ConfigurationError(f"provider {name!r} needs client_id and client_secret")


def authorization_code(name: str, params: Mapping[str, str]) -> str:
    """The ``code`` of an authorization response, or the error it carries, raised."""
    error = params.get("error")
    if error == "access_denied":
        raise LoginCancelledError(f"{name}: the user declined")
    if error is not None:
        raise ProviderError(f"{name}: provider answered error={error[:64]!r}")
    code = params.get("code")
    if not code or len(code) > 2048:
        raise ProviderError(f"{name}: callback without a code")
    return code


class OAuth2Provider(ABC):
    """Base of the OAuth 2.0 presets (:class:`GitHubProvider`, :class:`FacebookProvider`).

    Subclasses give the endpoints and implement :meth:`fetch_identity`. The
    client secret is sent with HTTP Basic auth unless ``secret_in_body`` (some
    providers only read it from the form).
    """

    secret_in_body = False

    def __init__(
        self,
        *,
        name: str,
        client_id: str,
        client_secret: str,
        authorization_endpoint: str,
        token_endpoint: str,
        scopes: Sequence[str],
        display_name: str = "",
        trust_email: bool = False,
        redirect_uri: str | None = None,
        timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        check_name(name, client_id, client_secret)
        self.name = name
        self.display_name = display_name or name.capitalize()
        self.client_id = client_id
        self._client_secret = client_secret
        self.authorization_endpoint = authorization_endpoint
        self.token_endpoint = token_endpoint
        self.scopes = tuple(scopes)
        self.trust_email = trust_email
        self.redirect_uri = redirect_uri
        self.http = ProviderHTTP(name, timeout=timeout, client=http_client)

    def __repr__(self) -> str:
        # The client secret is never part of a repr (logs, tracebacks).
        return f"{type(self).__name__}(name={self.name!r})"

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Where to send the browser to sign in (``nonce`` is unused: no ID token)."""
        query = httpx.QueryParams(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.scopes),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        sep = "&" if "?" in self.authorization_endpoint else "?"
        return f"{self.authorization_endpoint}{sep}{query}"

    async def check_authorization_response(self, params: Mapping[str, str]) -> str:
        """Check the callback's parameters (not ``state``); return the code or raise."""
        return authorization_code(self.name, params)

    async def exchange(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ExternalIdentity:
        """Trade the code for an access token, then ask the API who signed in."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        auth: tuple[str, str] | None = (self.client_id, self._client_secret)
        if self.secret_in_body:
            form |= {"client_id": self.client_id, "client_secret": self._client_secret}
            auth = None
        tokens = await self.http.object(
            "POST",
            self.token_endpoint,
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
        )
        if "error" in tokens:
            # GitHub answers a refused code with HTTP 200 and {"error": ...}.
            raise ProviderError(f"{self.name}: token endpoint answered error")
        access = tokens.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProviderError(f"{self.name}: token response has no access_token")
        return await self.fetch_identity(tokens)

    @abstractmethod
    async def fetch_identity(self, tokens: Mapping[str, Any]) -> ExternalIdentity:
        """Ask the provider's API who owns ``tokens["access_token"]``."""


def text(value: Any) -> str:
    """``value`` if it is a string, else ``""`` (APIs send ``null`` for unset fields)."""
    return value if isinstance(value, str) else ""
