"""The optional admin pages: accounts, their links, claims and sessions, and actions on them.

Mounted by ``connect_auth(app, ..., admin=AdminOptions(...))``; see
:class:`~pywire_auth.admin.options.AdminOptions` and docs/operations.md.
"""
