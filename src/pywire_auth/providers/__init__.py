"""Sign-in with external OpenID Connect providers, linked to local accounts.

``oidc.py`` is the one generic client (needs the ``oidc`` extra: httpx),
``pending.py`` the browser-bound pending login, ``linking.py`` the
account-linking rules and ``routes.py`` the HTTP routes that
``connect_auth(providers=[...])`` mounts. Nothing is imported here, so that
``import pywire_auth`` works without httpx.
"""
