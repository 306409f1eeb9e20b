"""Providers configured in the environment: ``PYWIRE_AUTH_OIDC_<NAME>_*``."""

from __future__ import annotations

import pytest
from pywire import PyWire

from pywire_auth import ConfigurationError, connect_auth
from pywire_auth.providers.env import providers_from_env
from tests.web.conftest import PAGES_DIR, SESSION_SECRET, make_idp

BASE = {
    "PYWIRE_AUTH_OIDC_MY_IDP_ISSUER": "https://sso.example.com/realms/main",
    "PYWIRE_AUTH_OIDC_MY_IDP_CLIENT_ID": "app",
    "PYWIRE_AUTH_OIDC_MY_IDP_CLIENT_SECRET": "s3cret",
}


def test_a_provider_from_the_environment() -> None:
    env = {
        **BASE,
        "PYWIRE_AUTH_OIDC_MY_IDP_DISPLAY_NAME": "My IdP",
        "PYWIRE_AUTH_OIDC_MY_IDP_TRUST_EMAIL": "true",
        "PYWIRE_AUTH_OIDC_MY_IDP_SCOPES": "openid email",
        "PYWIRE_AUTH_OIDC_MY_IDP_RESPONSE_MODE": "form_post",
        "PYWIRE_AUTH_OIDC_ZED_DISCOVERY_URL": "https://zed.example/.well-known/openid-configuration",
        "PYWIRE_AUTH_OIDC_ZED_CLIENT_ID": "z",
        "PYWIRE_AUTH_OIDC_ZED_CLIENT_SECRET": "zz",
        "PYWIRE_AUTH_OIDC_EMPTY_ISSUER": "",
    }
    mine, zed = providers_from_env(env)
    assert (mine.name, mine.display_name, mine.issuer) == (
        "my-idp",
        "My IdP",
        "https://sso.example.com/realms/main",
    )
    assert mine.trust_email
    assert mine.scopes == ("openid", "email")
    assert mine.response_mode == "form_post"
    assert (zed.name, zed.issuer, zed.trust_email) == ("zed", None, False)
    assert zed.discovery_url.startswith("https://zed.example/")


@pytest.mark.parametrize(
    "change",
    [
        {"PYWIRE_AUTH_OIDC_MY_IDP_CLIENT_SECRET": ""},
        {"PYWIRE_AUTH_OIDC_MY_IDP_CLIENT_ID": " "},
        {"PYWIRE_AUTH_OIDC_MY_IDP_DISCOVERY_URL": "https://sso.example.com/x"},
        {"PYWIRE_AUTH_OIDC_MY_IDP_TRUST_EMAIL": "maybe"},
        {"PYWIRE_AUTH_OIDC_MY_IDP_SCOPES": "email profile"},
        {"PYWIRE_AUTH_OIDC_MY_IDP_RESPONSE_MODE": "fragment"},
    ],
)
def test_a_half_configured_provider_is_refused(change: dict[str, str]) -> None:
    # A typo must stop the start-up, not silently drop the button.
    with pytest.raises(ConfigurationError):
        providers_from_env({**BASE, **change})


@pytest.mark.asyncio
async def test_connect_auth_reads_them_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    from_env, explicit = PyWire(pages_dir=str(PAGES_DIR)), PyWire(pages_dir=str(PAGES_DIR))
    idps = [make_idp(), make_idp()]
    try:
        connect_auth(from_env, local_idp=idps[0], session_secret=SESSION_SECRET)
        connect_auth(explicit, local_idp=idps[1], session_secret=SESSION_SECRET, providers=[])
    finally:
        for idp in idps:
            await idp.aclose()
    assert from_env.state.auth_providers == ["my-idp"]
    assert explicit.state.auth_providers == []
    paths = {getattr(r, "path", "") for r in from_env.app.router.routes}
    assert {"/auth/my-idp/login", "/auth/my-idp/callback", "/auth/logout"} <= paths
