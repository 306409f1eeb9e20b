"""The plug-in contracts of pywire-auth.

Each contract is a small :class:`typing.Protocol`; anything with the right methods
plugs in, no base class needed. Every store shipped here passes the same contract
suite, :mod:`pywire_auth.testing`, and a third-party store can run it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from pywire_auth.mail.message import MailMessage
from pywire_auth.types import (
    EventRecord,
    ExternalIdentity,
    JSONValue,
    LoginRecord,
    ProviderLink,
    SessionRecord,
    UserRecord,
)

__all__ = [
    "AuthStore",
    "EventLog",
    "ExternalProvider",
    "Mailer",
    "Notifier",
    "PasswordHasher",
    "SessionStore",
    "Throttle",
    "UserDirectory",
]


@runtime_checkable
class AuthStore(Protocol):
    """Where users, password hashes and provider links live.

    Rules every implementation keeps (the contract suite checks each one):

    * ``create_user`` is atomic: user, credential and links are all written or none is.
    * Uniqueness of ``(provider, subject)`` is decided by the store itself at write
      time, never by a read before the write, so concurrent calls cannot both win.
    * A link is never re-pointed to another user.
    * Lookups return ``None`` when nothing matches; commands raise
      :class:`~pywire_auth.exceptions.AuthError` subclasses.
    * Any failure to reach the backend raises
      :class:`~pywire_auth.exceptions.StoreUnavailableError` and writes nothing.
    """

    async def create_user(
        self,
        user: UserRecord,
        *,
        link: ProviderLink,
        pw_hash: str | None = None,
        extra_links: Sequence[ProviderLink] = (),
    ) -> None:
        """Write ``user``, its credential, ``link`` and ``extra_links`` in one transaction.

        ``extra_links`` reserve more unique identities for the new user (the local IdP
        reserves its address's look-alike skeleton). Raises
        :class:`~pywire_auth.exceptions.UserExistsError` if any link (or the user id)
        is taken; then nothing is written.
        """
        ...

    async def get_user(self, user_id: str) -> UserRecord | None:
        """Return the user with this id, or ``None``."""
        ...

    async def get_user_by_link(self, provider: str, subject: str) -> UserRecord | None:
        """Return the user that ``(provider, subject)`` points at, or ``None``."""
        ...

    async def get_login(self, provider: str, subject: str) -> LoginRecord | None:
        """Return the linked user and their password hash in one lookup, or ``None``."""
        ...

    async def get_password_hash(self, user_id: str) -> str | None:
        """The user's password hash, or ``None`` (no such user, or no password)."""
        ...

    async def set_password_hash(
        self, user_id: str, pw_hash: str, *, expected: str | None = None
    ) -> bool:
        """Store ``pw_hash`` for the user; return ``False`` if nothing was changed.

        With ``expected`` set this is a compare-and-set: the hash is replaced only
        if the stored hash still equals ``expected`` (so a rehash never overwrites
        a password change that happened meanwhile). Without it, the credential is
        written whatever it was, created if the user had none. Returns ``False``
        when the user does not exist or the compare failed.
        """
        ...

    async def update_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        claims: Mapping[str, JSONValue] | None = None,
        extras: Mapping[str, JSONValue] | None = None,
        disabled: bool | None = None,
    ) -> UserRecord | None:
        """Replace the given fields (``None`` leaves one as is); return the new record.

        ``disabled=True`` bars the user from signing in; ``False`` lets them again.
        """
        ...

    async def change_email(
        self,
        user_id: str,
        email: str,
        *,
        expected: str,
        remove: Sequence[tuple[str, str]] = (),
        add: Sequence[ProviderLink] = (),
    ) -> bool:
        """Set the user's ``email`` if it still is ``expected``, in one transaction with
        deleting the user's links named in ``remove`` (``(provider, subject)`` pairs)
        and adding the links ``add``.

        Returns ``False`` (nothing changed) when the user is missing or their email
        is no longer ``expected``. Raises
        :class:`~pywire_auth.exceptions.UserExistsError` when a link in ``add`` is
        taken; then nothing changes either.
        """
        ...

    async def add_link(self, link: ProviderLink) -> None:
        """Tie another identity to an existing user.

        Raises :class:`~pywire_auth.exceptions.UserExistsError` if the identity is
        already linked (to anyone) and
        :class:`~pywire_auth.exceptions.UserNotFoundError` if the user is missing.
        """
        ...

    async def get_links(self, user_id: str) -> list[ProviderLink]:
        """Every identity linked to the user, ordered by ``(provider, subject)``."""
        ...

    async def remove_link(self, user_id: str, provider: str, subject: str) -> bool:
        """Delete the user's link ``(provider, subject)`` unless it is their last way in.

        Another way to sign in is a password credential or another link to an
        external provider (any provider but ``local`` and ``local-skeleton``).
        The check and the delete are one transaction that first locks the
        user's row, so two concurrent unlinks cannot together remove the last
        two ways. Returns ``False`` when the user has no such link; raises
        :class:`~pywire_auth.exceptions.LastSignInMethodError` (nothing deleted)
        when it is the last way.
        """
        ...

    async def refresh_identity(
        self,
        link: ProviderLink,
        *,
        name: str | None = None,
        claims: Mapping[str, JSONValue] | None = None,
    ) -> UserRecord | None:
        """Store what a provider said at sign-in, in one transaction.

        Replaces the claims of the link ``(link.provider, link.subject)`` with
        ``link.claims``, sets the user's ``name`` (``None`` leaves it) and merges
        ``claims`` into the user's claims key by key: a ``None`` value removes
        the key, and every key not named (authorization claims such as ``role``)
        keeps its stored value, also when written concurrently. Returns the
        updated user, or ``None`` (nothing written) when no such link of
        ``link.user_id`` exists: a link is never re-pointed.
        """
        ...

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user with their credential and links; ``False`` if absent."""
        ...

    async def close(self) -> None:
        """Release what the store opened itself. Safe to call more than once."""
        ...


@runtime_checkable
class UserDirectory(Protocol):
    """Listing accounts and their sessions, for operators (the admin page).

    Kept apart from :class:`AuthStore` so a store without it still signs users in;
    both shipped stores implement it. Users come ordered by ``(email, user_id)``
    in code-point order, a page at a time (keyset pagination: pass the last row's
    ``(email, user_id)`` as ``after``), so every page costs the same at any size.
    """

    async def list_users(
        self, *, email_prefix: str = "", after: tuple[str, str] | None = None, limit: int = 50
    ) -> list[UserRecord]:
        """Up to ``limit`` (1 to 1000) users whose email starts with ``email_prefix``
        (exactly: case and accents count), ordered by ``(email, user_id)``, after
        the ``(email, user_id)`` pair ``after`` when given.

        A bad ``limit``, prefix or cursor raises
        :class:`~pywire_auth.exceptions.InvalidInputError`.
        """
        ...

    async def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        """Every stored session of the user (expired ones too), by ``(created_at, session_id)``."""
        ...


@runtime_checkable
class ExternalProvider(Protocol):
    """An external sign-in provider the ``/auth/<name>/...`` routes can drive.

    Implementations: :class:`~pywire_auth.GenericOIDCProvider` (identity from a
    verified ID token) and the plain OAuth 2.0 presets such as
    :class:`~pywire_auth.GitHubProvider` (identity from the provider's API).
    Failures raise :class:`~pywire_auth.ProviderError` subclasses only.
    """

    #: In the URLs and as the ``provider`` of the links it makes; never renamed.
    name: str
    #: The label of its "Sign in with ..." button.
    display_name: str
    #: Whether its verified emails may link a sign-in to an existing account.
    trust_email: bool
    #: A fixed callback URL, or ``None`` to derive it from the request.
    redirect_uri: str | None

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Where to send the browser: carries ``state`` and the PKCE S256 challenge."""
        ...

    async def check_authorization_response(self, params: Mapping[str, str]) -> str:
        """Check the callback's parameters (the caller checked ``state``); return the code."""
        ...

    async def exchange(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ExternalIdentity:
        """Trade the code for tokens and return who signed in, every check passed."""
        ...


@runtime_checkable
class PasswordHasher(Protocol):
    """Hashes and checks passwords without blocking the event loop."""

    async def hash(self, password: str) -> str:
        """Return a new salted hash of ``password``."""
        ...

    async def verify(self, pw_hash: str, password: str) -> bool:
        """Return whether ``password`` matches ``pw_hash``; malformed hashes give ``False``."""
        ...

    async def verify_dummy(self, password: str) -> None:
        """Spend exactly the cost of one :meth:`verify`, for a user that does not exist."""
        ...

    def needs_rehash(self, pw_hash: str) -> bool:
        """Whether ``pw_hash`` was made with other parameters than the current ones."""
        ...


@runtime_checkable
class SessionStore(Protocol):
    """Where signed-in sessions live, so sign-out can end them everywhere.

    Both shipped stores implement it next to :class:`AuthStore`, so sessions sit
    beside the users they belong to and survive a restart with them.
    """

    async def create_session(self, session: SessionRecord) -> None:
        """Store a new session. Its user must exist."""
        ...

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session, or ``None``. Expiry is the caller's decision."""
        ...

    async def get_session_user(self, session_id: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session and its user in one lookup (the per-request path), or ``None``."""
        ...

    async def touch_session(self, session_id: str, expires_at: int) -> bool:
        """Move the session's expiry; ``False`` if it no longer exists."""
        ...

    async def delete_session(self, session_id: str) -> bool:
        """End one session; ``False`` if it did not exist."""
        ...

    async def delete_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of the user but ``keep`` (a session id); return how many ended.

        ``keep`` lets a password change end the user's other sessions while the
        browser that made the change stays signed in.
        """
        ...

    async def delete_expired_sessions(self, now: int, *, limit: int | None = None) -> int:
        """Remove sessions that expired before ``now``; return how many.

        With ``limit`` (at least 1) at most that many go, in one short statement,
        so pruning a backlog never holds a big delete's locks; callers repeat until
        fewer than ``limit`` were deleted. A smaller ``limit`` raises
        :class:`~pywire_auth.exceptions.InvalidInputError`.
        """
        ...


@runtime_checkable
class Throttle(Protocol):
    """Counts attempts per key (client address, email, device) in fixed time windows.

    A key's window starts at its first hit and lasts ``window`` seconds; within it
    at most ``limit`` hits are allowed. The caller names both on every hit
    (``connect_auth`` takes them from its :class:`~pywire_auth.ThrottlePolicy`) and
    uses one pair per key. The counts must be exact under
    concurrency (no two hits may both see the last free slot), and a throttle that
    cannot count raises :class:`~pywire_auth.exceptions.StoreUnavailableError`
    rather than letting attempts through uncounted.
    """

    async def hit(self, key: str, *, limit: int, window: int) -> bool:
        """Count one attempt; ``False`` if the key is over ``limit`` in its window (refuse)."""
        ...

    async def undo(self, key: str) -> None:
        """Take back one counted attempt (one the server could not decide)."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the attempts of ``key`` (an administrator lifting a lockout)."""
        ...


@runtime_checkable
class EventLog(Protocol):
    """An append-only log of auth events that every worker process can follow.

    It is how a sign-out in one process reaches live pages held by another
    process, or another machine, with no server besides the database: the
    embedded auth channel appends here and polls :meth:`events_after`.

    Ids grow with each append but, on databases with concurrent writers, may
    become visible out of order (a smaller id can commit after a larger one);
    followers allow for that. Both shipped stores implement it.
    """

    async def append_event(self, payload: Mapping[str, JSONValue], created_at: int) -> int:
        """Append one event and return its id."""
        ...

    async def events_after(self, event_id: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events with ids above ``event_id``, by ascending id."""
        ...

    async def last_event_id(self) -> int:
        """The highest id appended so far, or 0."""
        ...

    async def delete_events_before(self, created_at: int) -> int:
        """Forget events created before ``created_at``; return how many."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """A fast path that carries auth events between processes in milliseconds.

    The event log alone delivers within its poll interval; a notifier (Redis
    pub/sub, PostgreSQL ``NOTIFY``) makes it immediate. Failures raise
    :class:`~pywire_auth.exceptions.StoreUnavailableError`; the channel then
    falls back to the log and reconnects by itself.
    """

    async def publish(self, message: str) -> None:
        """Send ``message`` to every listening process (this one included)."""
        ...

    async def listen(self, deliver: Callable[[str], None], ready: Callable[[], None]) -> None:
        """Call ``ready()`` once subscribed, then ``deliver`` each message.

        Runs until cancelled; returns or raises when the connection is lost.
        """
        ...

    async def aclose(self) -> None:
        """Close the notifier's connections."""
        ...


@runtime_checkable
class Mailer(Protocol):
    """Sends the account routes' messages (reset and verification links).

    Implementations: :class:`~pywire_auth.mail.SMTPMailer` and, for development,
    :class:`~pywire_auth.mail.ConsoleMailer`. A message that was not accepted
    raises :class:`~pywire_auth.exceptions.MailUnavailableError`, never a foreign
    error, and never logs the message (its links are credentials).
    """

    async def send(self, message: MailMessage) -> None:
        """Hand ``message`` over for delivery, or raise ``MailUnavailableError``."""
        ...

    async def aclose(self) -> None:
        """Release what the mailer opened itself."""
        ...
