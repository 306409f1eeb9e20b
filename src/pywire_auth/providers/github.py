"""Sign in with GitHub: plain OAuth 2.0 (no ID token), the identity from its REST API.

Quirks handled here:

* The subject is the account's numeric ``id`` (as a string), which never
  changes; the ``login`` can be renamed and then taken by someone else.
* The email comes ONLY from ``GET /user/emails``: the entry that is both
  ``primary`` and ``verified``. The ``email`` of ``GET /user`` is the public
  profile address, which the user types in freely and GitHub never verified;
  trusting it would let anyone claim any address (account takeover by email
  linking). Without a verified primary address the sign-in carries no email.
* A refused code is answered with HTTP 200 and ``{"error": ...}`` (handled in
  :class:`~pywire_auth.providers.oauth2.OAuth2Provider`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pywire_auth.exceptions import ProviderError
from pywire_auth.providers.oauth2 import OAuth2Provider, text
from pywire_auth.types import ExternalIdentity, JSONValue

__all__ = ["GitHubProvider"]

_API_VERSION = "2022-11-28"


class GitHubProvider(OAuth2Provider):
    """GitHub accounts (Settings > Developer settings > OAuth Apps).

    >>> GitHubProvider(client_id="Iv1.abc", client_secret="...").trust_email
    True

    ``trust_email`` defaults to ``True``: the email used is GitHub's *verified*
    primary address, so a matching password account whose email is verified
    too may be linked. ``web_url``/``api_url`` point at GitHub Enterprise Server
    (``https://ghe.example.com`` and ``https://ghe.example.com/api/v3``).
    """

    secret_in_body = True

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        name: str = "github",
        scopes: Sequence[str] = ("read:user", "user:email"),
        trust_email: bool = True,
        web_url: str = "https://github.com",
        api_url: str = "https://api.github.com",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("display_name", "GitHub")
        web = web_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        super().__init__(
            name=name,
            client_id=client_id,
            client_secret=client_secret,
            authorization_endpoint=f"{web}/login/oauth/authorize",
            token_endpoint=f"{web}/login/oauth/access_token",
            scopes=scopes,
            trust_email=trust_email,
            **kwargs,
        )

    async def fetch_identity(self, tokens: Mapping[str, Any]) -> ExternalIdentity:
        """``GET /user`` for the id and profile, ``GET /user/emails`` for the address."""
        headers = {
            "Authorization": f"Bearer {tokens['access_token']}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": _API_VERSION,
        }
        user = await self.http.object("GET", f"{self.api_url}/user", headers=headers)
        user_id = user.get("id")
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise ProviderError(f"{self.name}: /user has no numeric id")
        emails = await self.http.json("GET", f"{self.api_url}/user/emails", headers=headers)
        if not isinstance(emails, list):
            raise ProviderError(f"{self.name}: /user/emails is not a list")
        email = _verified_primary(emails)
        name = text(user.get("name")) or text(user.get("login"))
        claims: dict[str, JSONValue] = {"email_verified": bool(email), "name": name}
        if email:
            claims["email"] = email
        picture = text(user.get("avatar_url"))
        if picture:
            claims["picture"] = picture
        return ExternalIdentity(
            provider=self.name,
            subject=str(user_id),
            email=email,
            email_verified=bool(email),
            name=name,
            claims=claims,
        )


def _verified_primary(emails: list[Any]) -> str:
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") is True:
            # Only the primary address, and only once GitHub verified it.
            return text(entry.get("email")) if entry.get("verified") is True else ""
    return ""
