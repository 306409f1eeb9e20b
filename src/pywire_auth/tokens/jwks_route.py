"""``GET /.well-known/jwks.json``: the issuer's public keys, for services that verify its tokens.

The body is built once: keys change only with the configuration, that is with a
restart. It is public by nature (public keys only, never a secret), so any site
may read it (``Access-Control-Allow-Origin: *``, no credentials) and caches may
keep it for :data:`JWKS_MAX_AGE` seconds. That bounds how long a verifier
may miss a key that was just added: during rotation, list the new key second
(published, not yet signing) for that long before moving it first, or let
verifiers refetch on an unknown ``kid`` (most JOSE clients do, as
pywire-auth's own OIDC client does).
"""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pywire_auth.tokens.issuer import TokenIssuer

__all__ = ["JWKS_MAX_AGE", "JWKS_PATH", "jwks_route"]

#: Where the JWK Set is served (the conventional well-known path).
JWKS_PATH = "/.well-known/jwks.json"
#: Seconds a cache may serve the JWK Set before asking again.
JWKS_MAX_AGE = 300
# Every method is routed here so that a POST is answered 405 by us instead of
# falling through to PyWire's page catch-all.
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def jwks_route(issuer: TokenIssuer, path: str = JWKS_PATH) -> Route:
    """A route serving ``issuer.public_jwks()`` as JSON, with an ``ETag`` for revalidation."""
    body = json.dumps(issuer.public_jwks(), separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={JWKS_MAX_AGE}",
        "ETag": etag,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }

    async def endpoint(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, HEAD"})
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return Route(path, endpoint, methods=_ALL_METHODS)
