"""Attempt counting: where the counts live, and how many are allowed.

``memory`` (one process), ``sql`` (the store's database, shared by every process
using it) and ``redis`` (shared by every worker) are the
:class:`~pywire_auth.Throttle` implementations, all passing one contract;
``policy`` holds the numbers ``connect_auth`` applies with them.
"""
