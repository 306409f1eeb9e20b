"""Reading request bodies with hard limits: forms for the HTML routes, JSON for the API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message

__all__ = ["BadBody", "read_form", "read_json_object", "with_query_redirects"]

#: Sign-in and sign-up forms are tiny; anything bigger is refused unread.
FORM_LIMIT = 64 * 1024
JSON_LIMIT = 16 * 1024
_MAX_FIELDS = 32
#: Where a form route goes next; also read from its URL (``action="/auth/local/login?next=/x"``).
REDIRECT_FIELDS = ("next", "error_next")


class BadBody(Exception):  # an internal signal, mapped to a response by the routes
    """The request body is too large, malformed, or of the wrong kind."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) more than ``limit`` bytes without buffering it."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadBody("bad_length")
        if int(declared) > limit:
            raise BadBody("too_large", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadBody("too_large", 413)
    return bytes(body)


async def read_form(request: Request, limit: int = FORM_LIMIT) -> dict[str, str]:
    """Text fields of a urlencoded or multipart form; the first value of each name wins.

    Refuses invalid UTF-8, file parts, too many fields and other content types.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request, limit)
    if content_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                max_num_fields=_MAX_FIELDS,
                errors="strict",
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadBody("malformed") from exc
        return _first_values(pairs)
    if content_type == "multipart/form-data":
        try:
            # Text fields only (file parts are refused), so the whole body must be
            # UTF-8; otherwise Starlette would quietly decode fields as Latin-1.
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadBody("malformed") from exc
        return await _read_multipart(request, body)
    raise BadBody("unsupported_media_type", 415)


async def _read_multipart(request: Request, body: bytes) -> dict[str, str]:
    sent = False

    async def replay() -> Message:
        # The body was already read (with its size limit); hand it to Starlette's
        # parser in one piece.
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    # Without "app" in the scope Starlette raises its own parse errors instead of
    # turning them into an HTTP 400 exception meant for its exception handlers.
    scope = {key: value for key, value in request.scope.items() if key != "app"}
    replayed = Request(scope, replay)
    try:
        async with replayed.form(max_files=0, max_fields=_MAX_FIELDS) as form:
            items = list(form.multi_items())
    except (MultiPartException, ValueError, UnicodeDecodeError) as exc:
        raise BadBody("malformed") from exc
    if any(isinstance(value, UploadFile) for _, value in items):
        raise BadBody("malformed")
    return _first_values([(k, str(v)) for k, v in items])


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def with_query_redirects(fields: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
    """``fields`` with ``next``/``error_next`` taken from the URL's query where the form has none.

    The form field wins when both are present (a blank one counts as absent, as a
    template's empty hidden input does). Nothing is trusted here: every value still
    goes through ``safe_local_path`` where it is used (open redirects).

    >>> with_query_redirects({"next": "/a"}, {"next": "/b", "error_next": "/c"})
    {'next': '/a', 'error_next': '/c'}
    """
    merged = dict(fields)
    for name in REDIRECT_FIELDS:
        if not merged.get(name) and query.get(name):
            merged[name] = query[name]
    return merged


async def read_json_object(request: Request, limit: int = JSON_LIMIT) -> dict[str, Any]:
    """A JSON object body; anything else (array, invalid JSON, bad UTF-8) is refused."""
    body = await read_body(request, limit)
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadBody("malformed") from exc
    if not isinstance(value, dict):
        raise BadBody("malformed")
    return value
