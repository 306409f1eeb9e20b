"""Providers configured in the environment (``.env``), for apps that pass none.

One provider per name: ``PYWIRE_AUTH_OIDC_<NAME>_ISSUER`` (or ``..._DISCOVERY_URL``),
``..._CLIENT_ID`` and ``..._CLIENT_SECRET``; optional ``..._DISPLAY_NAME``,
``..._SCOPES`` (space separated), ``..._TRUST_EMAIL`` (``true``/``false``) and
``..._RESPONSE_MODE``. ``<NAME>`` in lower case, ``_`` read as ``-``, is the
provider's name in its routes (``/auth/<name>/login``). A half-configured
provider is an error at start-up, never a silently missing button.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.providers.oidc import GenericOIDCProvider

__all__ = ["ENV_PREFIX", "providers_from_env"]

ENV_PREFIX = "PYWIRE_AUTH_OIDC_"
_KEY = re.compile(rf"^{ENV_PREFIX}([A-Z0-9][A-Z0-9_]*?)_(ISSUER|DISCOVERY_URL)$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def providers_from_env(environ: Mapping[str, str] | None = None) -> list[GenericOIDCProvider]:
    """The providers the environment configures, sorted by name.

    >>> env = {
    ...     "PYWIRE_AUTH_OIDC_KEYCLOAK_ISSUER": "https://sso.example.com/realms/main",
    ...     "PYWIRE_AUTH_OIDC_KEYCLOAK_CLIENT_ID": "app",
    ...     "PYWIRE_AUTH_OIDC_KEYCLOAK_CLIENT_SECRET": "s3cret",
    ... }
    >>> [p.name for p in providers_from_env(env)]
    ['keycloak']
    """
    env = os.environ if environ is None else environ
    names = sorted({m.group(1) for key in env if (m := _KEY.match(key)) and env[key].strip()})
    return [_provider(env, upper) for upper in names]


def _provider(env: Mapping[str, str], upper: str) -> GenericOIDCProvider:
    def get(field: str) -> str:
        return env.get(f"{ENV_PREFIX}{upper}_{field}", "").strip()

    name = upper.lower().replace("_", "-")
    issuer, discovery_url = get("ISSUER"), get("DISCOVERY_URL")
    if issuer and discovery_url:
        raise ConfigurationError(f"{ENV_PREFIX}{upper}: set ISSUER or DISCOVERY_URL, not both")
    for field in ("CLIENT_ID", "CLIENT_SECRET"):
        if not get(field):
            raise ConfigurationError(f"{ENV_PREFIX}{upper}_{field} is not set")
    trust = get("TRUST_EMAIL").lower()
    if trust not in _TRUE | _FALSE:
        raise ConfigurationError(f"{ENV_PREFIX}{upper}_TRUST_EMAIL must be true or false")
    scopes = get("SCOPES").split()
    return GenericOIDCProvider(
        name=name,
        client_id=get("CLIENT_ID"),
        client_secret=get("CLIENT_SECRET"),
        issuer=issuer or None,
        discovery_url=discovery_url or None,
        display_name=get("DISPLAY_NAME"),
        scopes=scopes or ("openid", "email", "profile"),
        trust_email=trust in _TRUE,
        response_mode=get("RESPONSE_MODE") or None,
    )
