"""Keep an open live page (PyWire WebSocket) no longer than its session.

A page's WebSocket is authenticated once, when it connects. Without a watch it
would stay signed in after its session expired, was ended by a password change
or its user was deleted, until it happened to reconnect (OWASP ASVS V3.3: a
session must end everywhere it is used). :func:`watch_session` returns once the
session is gone; the middleware then closes the socket with
:data:`SESSION_GONE_CLOSE_CODE`, and PyWire's client reconnects without the
session, so the page's ``!auth`` guard sends it to the sign-in page.

The session is checked

* at its exact end (idle expiry or absolute lifetime, whichever is first),
* every :attr:`SessionConfig.live_check_interval
  <pywire_auth.SessionConfig.live_check_interval>` seconds (default 30), which
  bounds how late a change made straight in the database is noticed, and
* at once whenever the auth channel carries an event for the user (such as the
  update a password change publishes), in any worker process.

A revoke on the channel is left to PyWire: its live-auth loop already signs the
page out and pushes the ``!auth`` guard's navigate. Closing the socket at the same
moment would cut that navigate short (the client would change its URL but never
render the new page), so the watch just ends.
"""

from __future__ import annotations

import asyncio
import contextlib

from pywire.auth import AuthChannel

from pywire_auth.exceptions import AuthError
from pywire_auth.sessions import SessionManager
from pywire_auth.types import SessionRecord

__all__ = ["SESSION_GONE_CLOSE_CODE", "watch_session"]

#: WebSocket close code for "your session ended" (4000-4999 are the application's;
#: 4401 mirrors HTTP 401).
SESSION_GONE_CLOSE_CODE = 4401


async def watch_session(
    sessions: SessionManager,
    channel: AuthChannel,
    token: str,
    record: SessionRecord,
    principal_user_id: str,
) -> bool:
    """Wait until the session of ``token`` is gone; ``True`` if the page must be closed.

    ``False`` when the user was revoked over the channel: PyWire signs the page
    out itself then. A store that cannot be read keeps the page open (as a
    request keeps its cookie during an outage) and is asked again
    ``live_check_interval`` later.
    """
    interval = sessions.config.live_check_interval
    ends_at: float = sessions.ends_at(record)
    async with channel.subscribe(principal_user_id) as events:
        while True:
            delay = min(interval, max(sessions.seconds_until(ends_at), 0.0))
            # Any event of this user (revoke, claims, password change) may mean
            # this session ended: look now rather than at the next tick.
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(anext(events), delay)
                if event.kind == "revoke":
                    return False
            try:
                found = await sessions.lookup(token)
            except AuthError:
                ends_at = sessions.now() + interval
                continue
            if found is None:
                return True
            ends_at = sessions.ends_at(found.record)
