"""connect_auth's short options (``secret_key=``, ``session_ttl=``, ``cookie_secure=``).

pywire-auth's documentation configures sessions with these keywords; here they
are other names for ``session_secret`` and two fields of :class:`SessionConfig`.
Each setting has one source: passing both spellings of it is refused instead of
one silently winning.
"""

from __future__ import annotations

from dataclasses import replace

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.sessions import SessionConfig

__all__ = ["session_options"]


def session_options(
    *,
    session_secret: str,
    secret_key: str,
    session_config: SessionConfig | None,
    session_ttl: int | None,
    cookie_secure: bool | None,
) -> tuple[str, SessionConfig | None]:
    """The session secret and config that the long and short options together ask for.

    >>> secret, config = session_options(
    ...     session_secret="", secret_key="s", session_config=None,
    ...     session_ttl=1800, cookie_secure=True)
    >>> secret, config.ttl, config.refresh_after, config.secure
    ('s', 1800, 900, True)
    """
    if session_secret and secret_key and session_secret != secret_key:
        raise ConfigurationError(
            "secret_key is another name for session_secret: pass one of them, not both"
        )
    secret = session_secret or secret_key
    if session_ttl is None and cookie_secure is None:
        return secret, session_config
    if session_config is not None:
        raise ConfigurationError(
            "session_ttl= and cookie_secure= are shortcuts for SessionConfig(ttl=, secure=): "
            "with session_config=, set them there"
        )
    config = SessionConfig(secure=cookie_secure)
    if session_ttl is not None:
        if session_ttl <= 0:
            raise ConfigurationError("session_ttl must be a positive number of seconds")
        # A short lifetime slides at half its length (the default hour would not
        # fit), and a long one is not cut off by the default absolute lifetime.
        config = replace(
            config,
            ttl=session_ttl,
            refresh_after=min(config.refresh_after, session_ttl // 2),
            cache_ttl=min(config.cache_ttl, session_ttl / 2),
            max_age=max(config.max_age, session_ttl),
        )
    return secret, config
