"""Sign in with Facebook: plain OAuth 2.0, the identity from the Graph API's ``/me``.

Quirks handled here:

* ``/me`` returns only the ``fields`` asked for; the picture is nested,
  ``picture.data.url``.
* Facebook does not say whether the ``email`` it returns was verified (an
  account can carry an address its owner never confirmed), so this provider
  never asserts ``email_verified`` and refuses ``trust_email=True``: a Facebook
  sign-in is never linked to an existing account by email.
* Graph calls carry ``appsecret_proof`` (HMAC-SHA256 of the access token keyed
  with the app secret), so the app can require it ("Require App Secret" in the
  console) and a token stolen from elsewhere is useless against the app's API.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pywire_auth.exceptions import ConfigurationError, ProviderError
from pywire_auth.providers.oauth2 import OAuth2Provider, text
from pywire_auth.types import ExternalIdentity, JSONValue

__all__ = ["FACEBOOK_API_VERSION", "FacebookProvider"]

#: The Graph API version used unless ``api_version=`` says otherwise.
FACEBOOK_API_VERSION = "v21.0"
_VERSION = re.compile(r"^v\d+\.\d+$")
_FIELDS = "id,name,email,picture"


class FacebookProvider(OAuth2Provider):
    """Facebook accounts (developers.facebook.com, app with "Facebook Login").

    >>> FacebookProvider(client_id="1234", client_secret="...").trust_email
    False
    """

    secret_in_body = True

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        name: str = "facebook",
        scopes: Sequence[str] = ("email", "public_profile"),
        api_version: str = FACEBOOK_API_VERSION,
        **kwargs: Any,
    ) -> None:
        if not _VERSION.match(api_version):
            raise ConfigurationError(f"api_version {api_version!r} is not like 'v21.0'")
        if kwargs.pop("trust_email", False):
            raise ConfigurationError("Facebook does not verify emails: trust_email=False")
        kwargs.setdefault("display_name", "Facebook")
        self.graph_url = f"https://graph.facebook.com/{api_version}"
        super().__init__(
            name=name,
            client_id=client_id,
            client_secret=client_secret,
            authorization_endpoint=f"https://www.facebook.com/{api_version}/dialog/oauth",
            token_endpoint=f"{self.graph_url}/oauth/access_token",
            scopes=scopes,
            trust_email=False,
            **kwargs,
        )

    async def fetch_identity(self, tokens: Mapping[str, Any]) -> ExternalIdentity:
        """``GET /me?fields=id,name,email,picture`` with the token and its proof."""
        access = str(tokens["access_token"])
        proof = hmac.new(self._client_secret.encode(), access.encode(), hashlib.sha256)
        me = await self.http.object(
            "GET",
            f"{self.graph_url}/me",
            params={"fields": _FIELDS, "appsecret_proof": proof.hexdigest()},
            headers={"Authorization": f"Bearer {access}"},
        )
        subject = me.get("id")
        if not isinstance(subject, str) or not subject:
            raise ProviderError(f"{self.name}: /me has no id")
        email = text(me.get("email"))
        name = text(me.get("name"))
        claims: dict[str, JSONValue] = {"name": name}
        if email:
            claims["email"] = email
        picture = _picture_url(me.get("picture"))
        if picture:
            claims["picture"] = picture
        return ExternalIdentity(
            provider=self.name,
            subject=subject,
            email=email,
            email_verified=False,
            name=name,
            claims=claims,
        )


def _picture_url(picture: Any) -> str:
    # {"picture": {"data": {"url": "...", "is_silhouette": false, ...}}}
    data = picture.get("data") if isinstance(picture, dict) else None
    return text(data.get("url")) if isinstance(data, dict) else ""
