"""Test helpers for pywire-auth and for third-party backends.

``AuthStoreContract`` is the suite every :class:`~pywire_auth.AuthStore` must pass,
``ThrottleContract`` the one for every :class:`~pywire_auth.Throttle` and
``ChannelContract`` the one for every cross-process auth channel and
``MailerContract`` the one for every mailer.
Subclass it in your own tests and provide a ``store`` fixture::

    import pytest_asyncio
    from pywire_auth.testing import AuthStoreContract

    class TestMyStore(AuthStoreContract):
        @pytest_asyncio.fixture
        async def store(self):
            store = MyStore(...)
            yield store
            await store.close()

Needs ``pytest`` and ``pytest-asyncio`` (the ``dev`` extra).
"""

from pywire_auth.testing.channel_contract import ChannelContract, ChannelFactory
from pywire_auth.testing.mailer_contract import Inbox, MailerContract
from pywire_auth.testing.store_contract import AuthStoreContract
from pywire_auth.testing.throttle_contract import ThrottleContract, ThrottleFactory

__all__ = [
    "AuthStoreContract",
    "ChannelContract",
    "ChannelFactory",
    "Inbox",
    "MailerContract",
    "ThrottleContract",
    "ThrottleFactory",
]
