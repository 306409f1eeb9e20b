"""Sign-in with external providers, linked to local accounts.

``oidc.py`` is the one OpenID Connect client (needs the ``oidc`` extra:
httpx) and ``oauth2.py`` the base of the plain OAuth 2.0 presets, which take
the identity from the provider's API instead of an ID token; both implement
:class:`~pywire_auth.ExternalProvider`. One small file per preset (``google``,
``microsoft``, ``auth0``: OpenID Connect; ``github``, ``facebook``: OAuth 2.0).
``_client.py`` maps httpx's errors, ``pending.py`` is the browser-bound pending
login, ``linking.py`` the account-linking and claim-refresh rules and
``routes.py`` the HTTP routes that ``connect_auth(providers=[...])`` mounts.
Nothing is imported here, so that ``import pywire_auth`` works without httpx.
"""
