"""One OpenID Connect client for any provider with a discovery document.

The flow is the authorization code flow with PKCE (S256), ``state`` and
``nonce`` always. Discovery and the JWKS are fetched with httpx and cached; a
token naming an unknown ``kid`` makes one refetch of the JWKS, at most once per
``jwks_refetch_interval`` seconds (key rotation works without a restart; a flood
of bogus kids does not flood the provider).

httpx errors are mapped in ``_client.py``, one place for every provider: a
network failure, a timeout or a 5xx answer is
:class:`~pywire_auth.ProviderUnavailableError`; anything else the provider
answers that we cannot accept is :class:`~pywire_auth.ProviderError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pywire_auth.exceptions import ConfigurationError, ProviderError
from pywire_auth.providers._client import ProviderHTTP, httpx
from pywire_auth.providers.oauth2 import authorization_code, check_name
from pywire_auth.tokens.id_token import (
    ASYMMETRIC_ALGORITHMS,
    Issuer,
    UnknownKeyError,
    verify_id_token,
)
from pywire_auth.types import ExternalIdentity, JSONValue

__all__ = ["ExternalIdentity", "GenericOIDCProvider", "ProviderMetadata"]

#: Identity claims copied onto the provider link; never authorization claims.
_PROFILE_CLAIMS = ("email", "email_verified", "name", "picture")


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of a discovery document the client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    iss_parameter_supported: bool = False


class GenericOIDCProvider:
    """Sign-in with any OpenID Connect provider (Keycloak, Okta, Auth0, Zitadel...).

    ``name`` appears in the routes (``/auth/<name>/login``) and as the
    ``provider`` of the links it creates; it never changes once users signed in.
    Give ``discovery_url`` or ``issuer`` (then the discovery document is
    ``<issuer>/.well-known/openid-configuration``). The issuer is compared
    exactly, trailing slash included (OIDC Discovery 4.3): give it as the
    provider writes it in its tokens.

    ``trust_email=True`` says that this provider's ``email_verified`` can be
    believed: only then may a sign-in be linked to an existing account by email
    (see docs/providers.md).
    """

    def __init__(
        self,
        *,
        name: str,
        client_id: str,
        client_secret: str,
        discovery_url: str | None = None,
        issuer: str | None = None,
        scopes: Sequence[str] = ("openid", "email", "profile"),
        display_name: str = "",
        trust_email: bool = False,
        redirect_uri: str | None = None,
        response_mode: str | None = None,
        algorithms: Sequence[str] = ("RS256", "ES256", "PS256", "EdDSA"),
        timeout: float = 10.0,
        leeway: int = 60,
        cache_ttl: int = 3600,
        jwks_refetch_interval: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_name(name, client_id, client_secret)
        if (discovery_url is None) == (issuer is None):
            raise ConfigurationError(f"provider {name!r} needs discovery_url or issuer (one)")
        if response_mode not in (None, "query", "form_post"):
            raise ConfigurationError(f"provider {name!r}: response_mode must be query or form_post")
        if "openid" not in scopes:
            raise ConfigurationError(f"provider {name!r}: scopes must include 'openid'")
        allowed = frozenset(algorithms)
        if not allowed or not allowed <= ASYMMETRIC_ALGORITHMS:
            # A typo'd or symmetric algorithm here would re-open key confusion.
            raise ConfigurationError(f"algorithms must be among {sorted(ASYMMETRIC_ALGORITHMS)}")
        self.name = name
        self.display_name = display_name or name.capitalize()
        self.client_id = client_id
        self._client_secret = client_secret
        # Issuers compare exactly (OIDC Discovery 4.3): Auth0's ends with "/".
        self.issuer = issuer
        self.discovery_url = (
            discovery_url or f"{(issuer or '').rstrip('/')}/.well-known/openid-configuration"
        )
        self.scopes = tuple(scopes)
        self.trust_email = trust_email
        self.redirect_uri = redirect_uri
        #: ``"form_post"``: the provider POSTs the code to the callback (routes.py).
        self.response_mode = response_mode
        self.algorithms = allowed
        self.leeway = leeway
        self.cache_ttl = cache_ttl
        self.jwks_refetch_interval = jwks_refetch_interval
        self.http = ProviderHTTP(name, timeout=timeout, client=http_client)
        self._clock = clock
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._jwks: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        # The client secret is never part of a repr (logs, tracebacks).
        return f"GenericOIDCProvider(name={self.name!r}, discovery_url={self.discovery_url!r})"

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        # httpx errors are mapped in _client.py, for every provider alike.
        return await self.http.object(method, url, **kwargs)

    # Discovery and keys --------------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        """The discovery document (cached for ``cache_ttl`` seconds)."""
        now = self._clock()
        if self._metadata is not None and now - self._metadata[0] < self.cache_ttl:
            return self._metadata[1]
        doc = await self._request("GET", self.discovery_url)
        fields = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not all(isinstance(doc.get(f), str) and doc[f] for f in fields):
            raise ProviderError(f"{self.name}: discovery document is incomplete")
        if self.issuer is not None and doc["issuer"] != self.issuer:
            # The document must describe the issuer we were configured for.
            raise ProviderError(f"{self.name}: discovery issuer is not {self.issuer}")
        meta = ProviderMetadata(
            issuer=doc["issuer"],
            authorization_endpoint=doc["authorization_endpoint"],
            token_endpoint=doc["token_endpoint"],
            jwks_uri=doc["jwks_uri"],
            userinfo_endpoint=doc.get("userinfo_endpoint")
            if isinstance(doc.get("userinfo_endpoint"), str)
            else None,
            iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported")
            is True,
        )
        self._metadata = (now, meta)
        return meta

    async def _keys(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        async with self._lock:
            now = self._clock()
            cached = self._jwks
            if cached is not None:
                age = now - cached[0]
                fresh = age < self.cache_ttl
                # A refetch for an unknown kid at most once per interval: a flood
                # of forged kids must not become a flood of requests upstream.
                if (fresh and not refresh) or (refresh and age < self.jwks_refetch_interval):
                    return cached[1]
            meta = await self.metadata()
            doc = await self._request("GET", meta.jwks_uri)
            keys = doc.get("keys")
            if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
                raise ProviderError(f"{self.name}: JWKS has no keys")
            self._jwks = (now, keys)
            return keys

    # The flow ------------------------------------------------------------------

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Where to send the browser to sign in."""
        meta = await self.metadata()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if self.response_mode:
            params["response_mode"] = self.response_mode
        query = urlencode(params)
        sep = "&" if "?" in meta.authorization_endpoint else "?"
        return f"{meta.authorization_endpoint}{sep}{query}"

    async def check_authorization_response(self, params: Mapping[str, str]) -> str:
        """Check the callback's parameters (not ``state``); return the code or raise."""
        meta = await self.metadata()
        iss = params.get("iss")
        if iss is not None and iss != meta.issuer:
            # RFC 9207: an answer from another provider (mix-up attack).
            raise ProviderError(f"{self.name}: authorization response from another issuer")
        if iss is None and meta.iss_parameter_supported:
            raise ProviderError(f"{self.name}: authorization response lacks iss")
        return authorization_code(self.name, params)

    async def exchange(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ExternalIdentity:
        """Trade the code for tokens and return the verified identity in the ID token."""
        meta = await self.metadata()
        tokens = await self._request(
            "POST",
            meta.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            auth=(self.client_id, self._client_secret),
            headers={"Accept": "application/json"},
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            # Never a sign-in from an access token or userinfo alone.
            raise ProviderError(f"{self.name}: token response has no id_token")
        access = tokens.get("access_token")
        access_token = access if isinstance(access, str) else None
        claims = await self.verify(id_token, nonce=nonce, access_token=access_token)
        if "email" not in claims and access_token and meta.userinfo_endpoint:
            claims = await self._with_userinfo(meta.userinfo_endpoint, access_token, claims)
        return self.identity(claims)

    async def _with_userinfo(
        self, endpoint: str, access_token: str, claims: dict[str, Any]
    ) -> dict[str, Any]:
        # Many providers put profile claims only in userinfo when an access token
        # was issued (OIDC Core 5.4). The ID token stays the proof of who signed
        # in: userinfo only adds profile claims, and only for the same sub
        # (OIDC Core 5.3.2: a mismatched sub must not be used).
        info = await self._request(
            "GET", endpoint, headers={"Authorization": f"Bearer {access_token}"}
        )
        if info.get("sub") != claims["sub"]:
            raise ProviderError(f"{self.name}: userinfo is about another subject")
        extra = {k: info[k] for k in _PROFILE_CLAIMS if k in info and k not in claims}
        return {**claims, **extra}

    async def verify(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """Verify an ID token from this provider (signature, iss, aud, exp, nonce...)."""
        meta = await self.metadata()
        for refresh in (False, True):
            keys = await self._keys(refresh=refresh)
            try:
                return verify_id_token(
                    id_token,
                    keys,
                    issuer=self.token_issuer(meta),
                    client_id=self.client_id,
                    nonce=nonce,
                    now=int(self._clock()),
                    algorithms=self.algorithms,
                    access_token=access_token,
                    leeway=self.leeway,
                )
            except UnknownKeyError:
                if refresh:
                    raise
        raise ProviderError("unreachable")  # pragma: no cover

    def token_issuer(self, meta: ProviderMetadata) -> Issuer:
        """The ``iss`` ID tokens must carry: the discovery document's issuer.

        Multi-tenant presets override this (see ``MicrosoftProvider``).
        """
        return meta.issuer

    def identity(self, claims: Mapping[str, Any]) -> ExternalIdentity:
        """The identity in verified ID token claims (presets override this)."""
        email = claims.get("email")
        name = claims.get("name")
        profile: dict[str, JSONValue] = {k: claims[k] for k in _PROFILE_CLAIMS if k in claims}
        return ExternalIdentity(
            provider=self.name,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else "",
            email_verified=claims.get("email_verified") is True,
            name=name if isinstance(name, str) else "",
            claims=profile,
        )
