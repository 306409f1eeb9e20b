"""The embedded auth channel: the auth store's event table, followed by every process."""

from __future__ import annotations

from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.protocols import EventLog

__all__ = ["StoreAuthChannel"]


class StoreAuthChannel(FanoutChannel):
    """Live sign-outs and claim changes across processes, with no server but the database.

    Every event is written to the store's ``pywire_auth_events`` table; each
    process polls it every ``poll_interval`` seconds (default 0.25) and tells its
    live pages, so a sign-out reaches pages in other workers and on other machines
    within about that long. Rows older than ``retention`` seconds are pruned.
    ``connect_auth`` picks this channel when the store keeps an event log and no
    Redis is configured.

    >>> store = MemoryAuthStore()
    >>> channel = StoreAuthChannel(store)
    >>> connect_auth(app, local_idp=LocalIdP(store=store), auth_channel=channel)  # doctest: +SKIP
    """

    def __init__(
        self,
        store: EventLog | None = None,
        *,
        poll_interval: float = 0.25,
        retention: int = 600,
    ) -> None:
        super().__init__(log=store, poll_interval=poll_interval, retention=retention)
