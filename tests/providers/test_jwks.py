"""Discovery and JWKS caching against the real provider: rotation yes, floods no."""

from __future__ import annotations

import httpx
import pytest

from pywire_auth.exceptions import ProviderError
from pywire_auth.tokens.id_token import UnknownKeyError
from tests.providers.conftest import make_provider
from tests.providers.test_id_token import RSA, claims, sign

pytestmark = pytest.mark.asyncio


async def test_bogus_kids_refetch_the_jwks_at_most_once_per_interval(issuer: str) -> None:
    requests: list[str] = []

    async def count(request: httpx.Request) -> None:
        requests.append(request.url.path)

    now = [1_800_000_000.0]
    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        provider = make_provider(
            issuer, http_client=http, jwks_refetch_interval=30, clock=lambda: now[0]
        )
        for n in range(20):
            token = sign(claims(iss=issuer), RSA, "RS256", kid=f"bogus-{n}")
            with pytest.raises(UnknownKeyError):
                await provider.verify(token, nonce="n")
        # Twenty unknown kids within the interval: the JWKS was fetched once.
        assert requests.count("/jwks") == 1
        now[0] += 31
        for n in range(20):
            token = sign(claims(iss=issuer), RSA, "RS256", kid=f"later-{n}")
            with pytest.raises(UnknownKeyError):
                await provider.verify(token, nonce="n")
    # After the interval, one refetch (a rotated key would be found now), not twenty.
    assert requests.count("/jwks") == 2
    assert requests.count("/.well-known/openid-configuration") == 1


async def test_a_forged_token_with_a_real_kid_is_refused(issuer: str) -> None:
    provider = make_provider(issuer)
    async with httpx.AsyncClient() as http:
        jwks = (await http.get(f"{issuer}/jwks")).json()["keys"]
    rsa_kid = next(k["kid"] for k in jwks if k["kty"] == "RSA")
    token = sign(claims(iss=issuer, aud="pywire-test", nonce="n"), RSA, "RS256", kid=rsa_kid)
    with pytest.raises(ProviderError, match="signature"):
        await provider.verify(token, nonce="n")
