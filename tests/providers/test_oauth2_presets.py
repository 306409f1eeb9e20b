"""GitHub, Facebook and Auth0 against recorded answers (those services cannot be reached here).

The JSON bodies are trimmed copies of the real APIs' answers (GitHub REST
2022-11-28, Graph API v21.0, an Auth0 tenant's discovery document); Auth0's
JWKS and ID tokens are ours (the test plays the provider with its own key).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pywire_auth import (
    LOCAL_PROVIDER,
    Auth0Provider,
    ExternalProvider,
    FacebookProvider,
    GitHubProvider,
)
from pywire_auth.exceptions import ConfigurationError, ProviderError, ProviderUnavailableError
from pywire_auth.types import ExternalIdentity
from tests.providers.conftest import AppFactory, Browser, error_of
from tests.providers.test_id_token import RSA, sign
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.asyncio

CLIENT = "app-client-id"
SECRET = "app-client-secret"
CODE = "the-code"
TOKEN = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
CALLBACK = "https://app.example/auth/x/callback"

GITHUB_USER = {
    "login": "octocat",
    "id": 583231,
    "node_id": "MDQ6VXNlcjU4MzIzMQ==",
    "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
    "type": "User",
    "site_admin": False,
    "name": "The Octocat",
    "company": "@github",
    # The public profile address: typed in by the user, never verified by GitHub.
    "email": "ceo@bigcorp.example",
    "created_at": "2011-01-25T18:44:36Z",
}
GITHUB_EMAILS = [
    {"email": "octo@users.noreply.github.com", "verified": True, "primary": False},
    {"email": "octocat@github.com", "verified": True, "primary": True, "visibility": "public"},
]
FACEBOOK_ME = {
    "id": "10158123456789012",
    "name": "Ann Example",
    "email": "ann@example.com",
    "picture": {
        "data": {
            "height": 50,
            "is_silhouette": False,
            "url": "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10158123456789012",
            "width": 50,
        }
    },
}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Recorded:
    """Answers like GitHub or Facebook did; tests change them between sign-ins."""

    me: dict[str, Any]
    emails: Any = None
    token_answer: tuple[int, Any] = (200, {"access_token": TOKEN, "token_type": "bearer"})
    api_status: int = 200
    challenge: str | None = None  # set from the authorization URL to check PKCE
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.endswith(("/login/oauth/access_token", "/oauth/access_token")):
            form = parse_qs(request.content.decode())
            assert form["code"] == [CODE]
            assert form["client_secret"] == [SECRET]
            if self.challenge is not None:
                assert s256(form["code_verifier"][0]) == self.challenge
            return httpx.Response(self.token_answer[0], json=self.token_answer[1])
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        if self.api_status != 200:
            error = {"message": "Bad credentials", "status": str(self.api_status)}
            return httpx.Response(self.api_status, json=error)
        if path.endswith("/user/emails"):
            return httpx.Response(200, json=self.emails)
        return httpx.Response(200, json=self.me)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def github(recorded: Recorded, **kwargs: Any) -> GitHubProvider:
    return GitHubProvider(
        client_id=CLIENT, client_secret=SECRET, http_client=recorded.client(), **kwargs
    )


async def exchange(provider: ExternalProvider) -> ExternalIdentity:
    return await provider.exchange(
        code=CODE, redirect_uri=CALLBACK, code_verifier="v" * 43, nonce="unused"
    )


# GitHub ------------------------------------------------------------------------


async def test_github_identity_from_the_api() -> None:
    recorded = Recorded(copy.deepcopy(GITHUB_USER), copy.deepcopy(GITHUB_EMAILS))
    provider = github(recorded)
    assert isinstance(provider, ExternalProvider)
    url = await provider.authorization_url(
        redirect_uri=CALLBACK, state="st", nonce="n", code_challenge="ch"
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://github.com/login/oauth/authorize?")
    assert query["scope"] == ["read:user user:email"]
    assert (query["state"], query["code_challenge"], query["code_challenge_method"]) == (
        ["st"],
        ["ch"],
        ["S256"],
    )
    identity = await exchange(provider)
    # The numeric id, as a string: logins can be renamed and reused.
    assert identity.subject == "583231"
    # The verified primary address, never /user's public (unverified) one.
    assert (identity.email, identity.email_verified) == ("octocat@github.com", True)
    assert identity.name == "The Octocat"
    assert identity.claims == {
        "email": "octocat@github.com",
        "email_verified": True,
        "name": "The Octocat",
        "picture": "https://avatars.githubusercontent.com/u/583231?v=4",
    }
    assert provider.trust_email
    token_request, user_request, emails_request = recorded.requests
    assert token_request.headers["accept"] == "application/json"
    assert user_request.url == "https://api.github.com/user"
    assert emails_request.url == "https://api.github.com/user/emails"
    assert SECRET not in repr(provider)


@pytest.mark.parametrize(
    "emails",
    [
        # A primary address GitHub never verified.
        [
            {"email": "victim@example.com", "verified": False, "primary": True},
            {"email": "other@example.com", "verified": True, "primary": False},
        ],
        # No primary address at all.
        [{"email": "other@example.com", "verified": True, "primary": False}],
        [],
    ],
)
async def test_github_without_a_verified_primary_email_has_none(emails: Any) -> None:
    recorded = Recorded(copy.deepcopy(GITHUB_USER), emails)
    identity = await exchange(github(recorded))
    assert (identity.email, identity.email_verified) == ("", False)
    assert "email" not in (identity.claims or {})
    assert identity.subject == "583231"


async def test_github_name_falls_back_to_login() -> None:
    recorded = Recorded({**GITHUB_USER, "name": None, "avatar_url": None}, GITHUB_EMAILS)
    identity = await exchange(github(recorded))
    assert identity.name == "octocat"
    assert "picture" not in (identity.claims or {})


@pytest.mark.parametrize(
    ("change", "error"),
    [
        # GitHub refuses a used or wrong code with HTTP 200 and an error body.
        ({"token_answer": (200, {"error": "bad_verification_code"})}, ProviderError),
        ({"token_answer": (200, {"token_type": "bearer"})}, ProviderError),
        ({"api_status": 401}, ProviderError),
        ({"api_status": 403}, ProviderError),
        ({"api_status": 502}, ProviderUnavailableError),
        ({"me": {**GITHUB_USER, "id": "583231"}}, ProviderError),
        ({"me": {**GITHUB_USER, "id": True}}, ProviderError),
        ({"emails": {"message": "not a list"}}, ProviderError),
    ],
)
async def test_github_api_errors_refuse_the_sign_in(
    change: dict[str, Any], error: type[ProviderError]
) -> None:
    recorded = Recorded(copy.deepcopy(GITHUB_USER), copy.deepcopy(GITHUB_EMAILS))
    for key, value in change.items():
        setattr(recorded, key, value)
    with pytest.raises(error) as caught:
        await exchange(github(recorded))
    assert TOKEN not in str(caught.value)
    assert CODE not in str(caught.value)


async def test_github_unreachable_is_unavailable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    provider = GitHubProvider(
        client_id=CLIENT,
        client_secret=SECRET,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(down)),
    )
    with pytest.raises(ProviderUnavailableError):
        await exchange(provider)


async def test_github_enterprise_urls() -> None:
    recorded = Recorded(copy.deepcopy(GITHUB_USER), copy.deepcopy(GITHUB_EMAILS))
    provider = github(
        recorded, web_url="https://ghe.example.com/", api_url="https://ghe.example.com/api/v3"
    )
    url = await provider.authorization_url(
        redirect_uri=CALLBACK, state="s", nonce="n", code_challenge="c"
    )
    assert url.startswith("https://ghe.example.com/login/oauth/authorize?")
    await exchange(provider)
    assert [str(r.url) for r in recorded.requests] == [
        "https://ghe.example.com/login/oauth/access_token",
        "https://ghe.example.com/api/v3/user",
        "https://ghe.example.com/api/v3/user/emails",
    ]


# Facebook ----------------------------------------------------------------------


async def test_facebook_nested_picture_and_unverified_email() -> None:
    recorded = Recorded(copy.deepcopy(FACEBOOK_ME))
    provider = FacebookProvider(
        client_id=CLIENT, client_secret=SECRET, http_client=recorded.client()
    )
    url = await provider.authorization_url(
        redirect_uri=CALLBACK, state="s", nonce="n", code_challenge="c"
    )
    assert url.startswith("https://www.facebook.com/v21.0/dialog/oauth?")
    identity = await exchange(provider)
    assert identity.subject == "10158123456789012"
    assert identity.name == "Ann Example"
    assert (identity.claims or {})["picture"] == FACEBOOK_ME["picture"]["data"]["url"]  # type: ignore[index]
    # Facebook never says the address was verified: no auto-linking, ever.
    assert (identity.email, identity.email_verified) == ("ann@example.com", False)
    assert "email_verified" not in (identity.claims or {})
    assert provider.trust_email is False
    me_request = recorded.requests[1]
    assert me_request.url.path == "/v21.0/me"
    assert me_request.url.params["fields"] == "id,name,email,picture"
    # appsecret_proof: the token's HMAC keyed with the app secret.
    expected = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert me_request.url.params["appsecret_proof"] == expected


async def test_facebook_without_picture_or_email() -> None:
    recorded = Recorded({"id": "42", "name": "No Mail", "picture": {"data": None}})
    provider = FacebookProvider(
        client_id=CLIENT, client_secret=SECRET, http_client=recorded.client()
    )
    identity = await exchange(provider)
    assert (identity.subject, identity.email) == ("42", "")
    assert identity.claims == {"name": "No Mail"}


async def test_facebook_graph_error_and_configuration() -> None:
    recorded = Recorded(copy.deepcopy(FACEBOOK_ME), api_status=400)
    provider = FacebookProvider(
        client_id=CLIENT, client_secret=SECRET, http_client=recorded.client()
    )
    with pytest.raises(ProviderError):
        await exchange(provider)
    with pytest.raises(ConfigurationError):
        FacebookProvider(client_id=CLIENT, client_secret=SECRET, trust_email=True)
    with pytest.raises(ConfigurationError):
        FacebookProvider(client_id=CLIENT, client_secret=SECRET, api_version="21")
    with pytest.raises(ConfigurationError):
        FacebookProvider(client_id=CLIENT, client_secret="")


# Auth0 ---------------------------------------------------------------------------

AUTH0_ISSUER = "https://acme.eu.auth0.com/"
AUTH0_DISCOVERY = {
    "issuer": AUTH0_ISSUER,
    "authorization_endpoint": "https://acme.eu.auth0.com/authorize",
    "token_endpoint": "https://acme.eu.auth0.com/oauth/token",
    "userinfo_endpoint": "https://acme.eu.auth0.com/userinfo",
    "jwks_uri": "https://acme.eu.auth0.com/.well-known/jwks.json",
    "response_types_supported": ["code"],
    "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
    "code_challenge_methods_supported": ["S256", "plain"],
}


def auth0_client(discovery: dict[str, Any], iss: str) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == "https://acme.eu.auth0.com/.well-known/openid-configuration":
            return httpx.Response(200, json=discovery)
        if url == discovery["jwks_uri"]:
            return httpx.Response(200, json={"keys": [RSA.as_dict(private=False)]})
        if url == discovery["token_endpoint"]:
            now = int(time.time())
            claims = {
                "iss": iss,
                "sub": "google-oauth2|110169484474386276334",
                "aud": CLIENT,
                "iat": now,
                "exp": now + 3600,
                "nonce": "the-nonce",
                "email": "ann@example.com",
                "email_verified": True,
                "name": "Ann",
                "picture": "https://s.gravatar.com/avatar/x.png",
            }
            return httpx.Response(200, json={"access_token": "at", "id_token": sign(claims)})
        return httpx.Response(404, json={"error": "not_found"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def auth0_exchange(provider: Auth0Provider) -> ExternalIdentity:
    return await provider.exchange(
        code="c", redirect_uri=CALLBACK, code_verifier="v" * 43, nonce="the-nonce"
    )


async def test_auth0_issuer_keeps_its_trailing_slash() -> None:
    provider = Auth0Provider(
        domain="ACME.eu.auth0.com",
        client_id=CLIENT,
        client_secret=SECRET,
        http_client=auth0_client(AUTH0_DISCOVERY, AUTH0_ISSUER),
    )
    assert provider.issuer == AUTH0_ISSUER
    assert provider.discovery_url == ("https://acme.eu.auth0.com/.well-known/openid-configuration")
    url = await provider.authorization_url(
        redirect_uri=CALLBACK, state="s", nonce="n", code_challenge="c"
    )
    assert url.startswith("https://acme.eu.auth0.com/authorize?")
    identity = await auth0_exchange(provider)
    assert identity.subject == "google-oauth2|110169484474386276334"
    assert (identity.email, identity.email_verified) == ("ann@example.com", True)
    assert provider.trust_email is False
    # The mix-up check of the authorization response compares it exactly too.
    assert await provider.check_authorization_response({"code": "c", "iss": AUTH0_ISSUER})
    with pytest.raises(ProviderError, match="another issuer"):
        await provider.check_authorization_response({"code": "c", "iss": AUTH0_ISSUER.rstrip("/")})


@pytest.mark.parametrize(
    ("discovery_issuer", "token_issuer"),
    [
        # A token whose iss lacks the slash is from another issuer string.
        (AUTH0_ISSUER, AUTH0_ISSUER.rstrip("/")),
        # A discovery document for another issuer than the tenant's.
        (AUTH0_ISSUER.rstrip("/"), AUTH0_ISSUER.rstrip("/")),
        ("https://evil.example/", "https://evil.example/"),
    ],
)
async def test_auth0_issuer_compares_exactly(discovery_issuer: str, token_issuer: str) -> None:
    provider = Auth0Provider(
        domain="acme.eu.auth0.com",
        client_id=CLIENT,
        client_secret=SECRET,
        http_client=auth0_client({**AUTH0_DISCOVERY, "issuer": discovery_issuer}, token_issuer),
    )
    with pytest.raises(ProviderError, match="iss"):
        await auth0_exchange(provider)


@pytest.mark.parametrize(
    "domain",
    ["https://acme.auth0.com", "acme.auth0.com/path", "acme", "evil.example#.auth0.com", ""],
)
async def test_auth0_domain_must_be_a_host_name(domain: str) -> None:
    with pytest.raises(ConfigurationError):
        Auth0Provider(domain=domain, client_id=CLIENT, client_secret=SECRET)


# Through the same routes as the OpenID Connect providers ------------------------


async def github_sign_in(browser: Browser, recorded: Recorded) -> str | None:
    """Sign in with GitHub: its answers come from ``recorded``; returns ``?error=``."""
    url = await browser.start_login("/profile", name="github")
    query = parse_qs(urlsplit(url).query)
    recorded.challenge = query["code_challenge"][0]
    response = await browser.app.get(
        "/auth/github/callback", params={"code": CODE, "state": query["state"][0]}
    )
    return error_of(response)


async def test_github_sign_in_through_the_routes(oidc_app_factory: AppFactory) -> None:
    recorded = Recorded(copy.deepcopy(GITHUB_USER), copy.deepcopy(GITHUB_EMAILS))
    web = await oidc_app_factory(github(recorded))
    browser = web.browser()
    assert await github_sign_in(browser, recorded) is None
    assert await browser.signed_in_as() == "octocat@github.com"
    user = await web.idp.store.get_user_by_link("github", "583231")
    assert user is not None
    assert (user.email, user.name) == ("octocat@github.com", "The Octocat")
    # A second sign-in finds the link; an API failure is a clean redirect.
    again = web.browser()
    assert await github_sign_in(again, recorded) is None
    assert len(web.idp.store._users) == 1  # type: ignore[attr-defined]
    recorded.api_status = 502
    assert await github_sign_in(web.browser(), recorded) == "unavailable"
    recorded.api_status = 401
    assert await github_sign_in(web.browser(), recorded) == "provider"
    # The user said no at GitHub.
    cancelled = web.browser()
    url = await cancelled.start_login("/profile", name="github")
    state = parse_qs(urlsplit(url).query)["state"][0]
    response = await cancelled.app.get(
        "/auth/github/callback", params={"error": "access_denied", "state": state}
    )
    assert error_of(response) == "cancelled"


async def test_facebook_email_never_links_to_an_existing_account(
    oidc_app_factory: AppFactory,
) -> None:
    recorded = Recorded(copy.deepcopy(FACEBOOK_ME))
    provider = FacebookProvider(
        client_id=CLIENT, client_secret=SECRET, http_client=recorded.client()
    )
    web = await oidc_app_factory(provider)
    await web.idp.create_user(email="ann@example.com", password=PASSWORD)
    local = await web.idp.store.get_user_by_link(LOCAL_PROVIDER, "ann@example.com")
    assert local is not None
    # Even a verified password account: Facebook's email is never proof.
    await web.idp.store.update_user(local.user_id, claims={"email_verified": True})
    browser = web.browser()
    url = await browser.start_login("/profile", name="facebook")
    query = parse_qs(urlsplit(url).query)
    recorded.challenge = query["code_challenge"][0]
    response = await browser.app.get(
        "/auth/facebook/callback", params={"code": CODE, "state": query["state"][0]}
    )
    assert error_of(response) == "link_required"
