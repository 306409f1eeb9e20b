"""Presets against recorded provider answers (those services cannot be reached from here).

Discovery documents are trimmed copies of the real ones; the JWKS and the ID
tokens are ours (the test plays the provider with its own key).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from pywire_auth.exceptions import ConfigurationError, ProviderError
from pywire_auth.providers.google import GoogleProvider
from pywire_auth.providers.microsoft import CONSUMER_TENANT, MicrosoftProvider
from pywire_auth.providers.oidc import GenericOIDCProvider
from tests.providers.test_id_token import RSA, sign

pytestmark = pytest.mark.asyncio

CLIENT = "app-client-id"
NONCE = "the-nonce"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

GOOGLE_DISCOVERY = {
    "issuer": "https://accounts.google.com",
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_endpoint": "https://oauth2.googleapis.com/token",
    "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
    "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
    "response_types_supported": ["code", "token", "id_token"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "code_challenge_methods_supported": ["plain", "S256"],
}

MICROSOFT_DISCOVERY = {
    "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    "jwks_uri": "https://login.microsoftonline.com/common/discovery/v2.0/keys",
    "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
    "authorization_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    "id_token_signing_alg_values_supported": ["RS256"],
    "tenant_region_scope": None,
}


def recorded(
    discovery: dict[str, Any], id_claims: Callable[[], dict[str, Any]]
) -> httpx.AsyncClient:
    """An httpx client whose transport answers like the provider did."""

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url).split("?")[0]
        if url.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json=discovery)
        if url == discovery["jwks_uri"]:
            return httpx.Response(200, json={"keys": [RSA.as_dict(private=False)]})
        if url == discovery["token_endpoint"]:
            assert request.method == "POST"
            assert b"code_verifier=" in request.content
            body = {
                "access_token": "at",
                "token_type": "Bearer",
                "expires_in": 3599,
                "id_token": sign(id_claims()),
            }
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"error": "not_found"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def base_claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"aud": CLIENT, "iat": now, "exp": now + 3600, "nonce": NONCE, **extra}


async def exchange(provider: GenericOIDCProvider) -> Any:
    return await provider.exchange(
        code="c",
        redirect_uri="https://app.example/auth/x/callback",
        code_verifier="v" * 43,
        nonce=NONCE,
    )


async def test_google_verified_email_and_trust() -> None:
    claims = base_claims(
        iss="https://accounts.google.com",
        sub="110169484474386276334",
        email="ann@gmail.com",
        email_verified=True,
        name="Ann",
        picture="https://lh3.googleusercontent.com/a/x",
        azp=CLIENT,
    )
    async with recorded(GOOGLE_DISCOVERY, lambda: claims) as http:
        google = GoogleProvider(client_id=CLIENT, client_secret="s", http_client=http)
        assert google.trust_email
        url = await google.authorization_url(
            redirect_uri="https://app.example/cb", state="s", nonce="n", code_challenge="c"
        )
        assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
        identity = await exchange(google)
    assert identity.subject == "110169484474386276334"
    assert identity.email_verified is True
    assert identity.claims["picture"].startswith("https://")


async def test_google_token_from_another_issuer_is_refused() -> None:
    claims = base_claims(iss="https://evil.example", sub="1")
    async with recorded(GOOGLE_DISCOVERY, lambda: claims) as http:
        google = GoogleProvider(client_id=CLIENT, client_secret="s", http_client=http)
        with pytest.raises(ProviderError, match="iss"):
            await exchange(google)


def ms_claims(tid: str, iss_tid: str | None = None, **extra: Any) -> dict[str, Any]:
    return base_claims(
        iss=f"https://login.microsoftonline.com/{iss_tid or tid}/v2.0",
        tid=tid,
        sub="AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        email="ann@contoso.com",
        name="Ann",
        **extra,
    )


@pytest.mark.parametrize(
    ("tenant", "tid", "ok"),
    [
        ("common", TENANT, True),
        ("common", CONSUMER_TENANT, True),
        ("organizations", TENANT, True),
        ("organizations", CONSUMER_TENANT, False),
        ("consumers", CONSUMER_TENANT, True),
        ("consumers", TENANT, False),
        (TENANT, TENANT, True),
        (TENANT, OTHER_TENANT, False),
    ],
)
async def test_microsoft_tenant_issuer(tenant: str, tid: str, ok: bool) -> None:
    async with recorded(MICROSOFT_DISCOVERY, lambda: ms_claims(tid)) as http:
        microsoft = MicrosoftProvider(
            client_id=CLIENT, client_secret="s", tenant=tenant, http_client=http
        )
        if ok:
            identity = await exchange(microsoft)
            assert identity.subject.startswith("AAAA")
        else:
            with pytest.raises(ProviderError, match="iss"):
                await exchange(microsoft)


async def test_microsoft_issuer_must_name_the_tokens_own_tenant() -> None:
    # A token from tenant A claiming tenant B's issuer.
    claims = ms_claims(TENANT, iss_tid=OTHER_TENANT)
    async with recorded(MICROSOFT_DISCOVERY, lambda: claims) as http:
        microsoft = MicrosoftProvider(client_id=CLIENT, client_secret="s", http_client=http)
        with pytest.raises(ProviderError, match="iss"):
            await exchange(microsoft)


async def test_microsoft_email_is_never_verified() -> None:
    # nOAuth: a tenant admin can put anyone's address on an account.
    claims = ms_claims(TENANT, email_verified=True)
    async with recorded(MICROSOFT_DISCOVERY, lambda: claims) as http:
        microsoft = MicrosoftProvider(client_id=CLIENT, client_secret="s", http_client=http)
        identity = await exchange(microsoft)
    assert identity.email == "ann@contoso.com"
    assert identity.email_verified is False
    assert "email_verified" not in identity.claims
    assert microsoft.trust_email is False
    with pytest.raises(ConfigurationError):
        MicrosoftProvider(client_id=CLIENT, client_secret="s", trust_email=True)
    with pytest.raises(ConfigurationError):
        MicrosoftProvider(client_id=CLIENT, client_secret="s", tenant="contoso")


async def test_token_response_without_id_token_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json=GOOGLE_DISCOVERY)
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        google = GoogleProvider(client_id=CLIENT, client_secret="s", http_client=http)
        with pytest.raises(ProviderError, match="no id_token"):
            await exchange(google)
