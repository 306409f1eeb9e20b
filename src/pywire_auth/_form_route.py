"""Same-site POST form endpoints outside the local IdP: ``/logout`` and ``/unlink``.

They behave like the local form routes (``local/routes.py``): POST only (other
methods 405, so PyWire's page catch-all never sees them), cross-site requests
refused with 403 (CSRF), the body optional, and every failure a 303 to the
page the form was on (same-origin ``Referer``), else ``error_next``, else the
route's page, with ``?error=`` from the closed vocabulary. Never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from pywire_auth._forms import BadBody, read_form, with_query_redirects
from pywire_auth._http import add_query_param, is_cross_site, safe_local_path, same_origin_referer
from pywire_auth.exceptions import AuthError

__all__ = [
    "ALL_METHODS",
    "NO_STORE",
    "Endpoint",
    "FormHandler",
    "form_fail",
    "form_next",
    "same_site_form",
]

logger = logging.getLogger("pywire_auth.routes")

NO_STORE = {"Cache-Control": "no-store"}
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
FormHandler = Callable[[Request, dict[str, str]], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def same_site_form(handler: FormHandler, error_page: str, codes: frozenset[str]) -> Endpoint:
    """An endpoint running ``handler(request, fields)`` for same-site POSTs only.

    An :class:`~pywire_auth.AuthError` whose code is not in ``codes`` (and any
    other exception) answers ``unavailable``.
    """

    async def endpoint(request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "POST"})
        if is_cross_site(request.headers, scheme=request.url.scheme):
            # CSRF: another site must not sign users out or unlink their providers.
            return PlainTextResponse("Cross-site request refused", 403)
        # ``next``/``error_next`` may sit in the form's URL too (the field wins).
        fields = with_query_redirects({}, request.query_params)
        try:
            # No such route needs a field: a bare fetch() works too.
            with suppress(BadBody):
                fields = with_query_redirects(await read_form(request), request.query_params)
            return await handler(request, fields)
        except AuthError as exc:
            code = exc.code if exc.code in codes else "unavailable"
            logger.info("%s refused (%s): %s", request.url.path, code, exc)
        except Exception:
            logger.exception("unexpected error in %s", request.url.path)
            code = "unavailable"
        return form_fail(request, fields, code, error_page)

    return endpoint


def form_fail(request: Request, fields: Mapping[str, str], code: str, page: str) -> Response:
    """The 303 to the form's page (or ``error_next``, or ``page``) with ``?error=code``."""
    target = (
        same_origin_referer(request.headers, scheme=request.url.scheme)
        or safe_local_path(fields.get("error_next"))
        or safe_local_path(page)
        or "/"
    )
    return RedirectResponse(add_query_param(target, "error", code), 303, headers=NO_STORE)


def form_next(request: Request, fields: Mapping[str, str], default_next: str) -> str:
    """Where a successful form goes: the form's ``next``, else ``?next=``, else the default.

    The form field wins over ``?next=`` in the action URL; both are checked
    (open redirects).
    """
    return (
        safe_local_path(fields.get("next") or request.query_params.get("next"))
        or safe_local_path(default_next)
        or "/"
    )
