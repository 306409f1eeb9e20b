"""``GET /.well-known/jwks.json`` over HTTP, and a service verifying our tokens from it alone."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from pywire_auth import Argon2Hasher, LocalIdP
from tests.web.conftest import (
    FAST_ARGON2,
    IDP_SECRET,
    VERIFY,
    AppFactory,
    WebApp,
    register,
    token,
)

pytestmark = pytest.mark.asyncio

JWKS = "/.well-known/jwks.json"
PLAIN = serialization.NoEncryption()


def pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, PLAIN)


NEW_KEY = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
OLD_KEY = pem(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture
def web_backend() -> str:
    # The route does not depend on the store: memory only.
    return "memory"


async def app_with(app_factory: AppFactory, **idp_kwargs: object) -> WebApp:
    idp = LocalIdP(secret=IDP_SECRET, hasher=Argon2Hasher(**FAST_ARGON2), **idp_kwargs)  # type: ignore[arg-type]
    return await app_factory(idp=idp)


async def test_jwks_route_serves_the_public_keys_cacheably(app_factory: AppFactory) -> None:
    web = await app_with(app_factory, private_keys=[NEW_KEY, OLD_KEY], publish_jwks=True)
    client = web.client()
    response = await client.get(JWKS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in response.headers
    published = response.json()
    assert published == web.idp.tokens.public_jwks()
    assert [k["alg"] for k in published["keys"]] == ["RS256", "EdDSA"]
    for jwk in published["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)
    # Revalidation: an unchanged key set is a 304 without a body.
    again = await client.get(JWKS, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    head = await client.head(JWKS)
    assert (head.status_code, head.content) == (200, b"")
    post = await client.post(JWKS, headers={"Origin": "http://testserver"})
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"


async def test_jwks_route_is_off_unless_enabled(app_factory: AppFactory) -> None:
    web = await app_with(app_factory, private_keys=NEW_KEY)
    response = await web.client().get(JWKS)
    assert response.status_code == 404


async def test_another_service_verifies_a_session_token_from_the_jwks_alone(
    app_factory: AppFactory,
) -> None:
    web = await app_with(app_factory, private_keys=[NEW_KEY, OLD_KEY], publish_jwks=True)
    browser = web.client()
    await register(browser, "ann@example.com", name="Ann")
    issued = (await token(browser)).json()["token"]

    # The other service fetches the JWK Set over HTTP; it holds no secret.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web.app), base_url="http://testserver"
    ) as other:
        key_set = KeySet.import_key_set((await other.get(JWKS)).json())
        decoded = jwt.decode(issued, key_set, algorithms=["RS256"])
        assert decoded.header["kid"] == web.idp.tokens.kid
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": "pywire-auth-local"},
            aud={"essential": True, "value": "pywire-auth-local"},
        ).validate(decoded.claims)
        assert decoded.claims["email"] == "ann@example.com"
        # The IdP's own check agrees; a forged payload fails at the other service.
        verdict = await other.post(VERIFY, json={"token": issued})
        assert verdict.json()["valid"] is True
    head, _body, sig = issued.split(".")
    forged = json.dumps({**decoded.claims, "role": "admin"}).encode()
    forged_body = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{head}.{forged_body}.{sig}", key_set, algorithms=["RS256"])
