"""Sign in with Google: a preset of :class:`GenericOIDCProvider`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pywire_auth.providers.oidc import GenericOIDCProvider

__all__ = ["GOOGLE_ISSUER", "GoogleProvider"]

GOOGLE_ISSUER = "https://accounts.google.com"


class GoogleProvider(GenericOIDCProvider):
    """Google accounts (console.cloud.google.com, "OAuth client ID", type "Web").

    Google signs ID tokens with RS256 and includes ``email`` and
    ``email_verified`` in them. ``trust_email`` defaults to ``True``: Google
    only asserts ``email_verified: true`` for addresses it has verified (and is
    the authority for gmail.com and Workspace domains), so a verified Google
    address may be linked to a password account whose email is also verified.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        name: str = "google",
        scopes: Sequence[str] = ("openid", "email", "profile"),
        trust_email: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("display_name", "Google")
        kwargs.setdefault("algorithms", ("RS256",))
        super().__init__(
            name=name,
            client_id=client_id,
            client_secret=client_secret,
            issuer=GOOGLE_ISSUER,
            scopes=scopes,
            trust_email=trust_email,
            **kwargs,
        )
