"""The providers' HTTP calls, with every httpx error mapped here, in one place.

A network failure, a timeout or a 5xx answer is
:class:`~pywire_auth.ProviderUnavailableError`; anything else the provider
answers that we cannot accept (not JSON, too large, a 4xx) is
:class:`~pywire_auth.ProviderError`. Messages name the provider and the
status, never a token, a code or the provider's free-text description (which
may echo what we sent).
"""

from __future__ import annotations

from typing import Any

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("external sign-in needs httpx: pip install 'pywire-auth[oidc]'") from exc

from pywire_auth.exceptions import ProviderError, ProviderUnavailableError

# httpx is re-exported: importing it from here gives a missing extra's message.
__all__ = ["MAX_RESPONSE_BYTES", "ProviderHTTP", "httpx"]

#: Bigger answers are refused: a provider (or a man in the middle) cannot make
#: us parse megabytes of JSON per sign-in.
MAX_RESPONSE_BYTES = 256 * 1024


def _error_code(body: Any) -> str:
    # OAuth answers {"error": "invalid_grant"}; Graph-style APIs nest an object
    # ({"error": {"type": "OAuthException", "code": 190, "message": ...}}): keep
    # only the machine-readable parts, never the message.
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('type')!r}/{error.get('code')!r}"
    if isinstance(error, str):
        return repr(error[:64])
    return "None"


class ProviderHTTP:
    """JSON over HTTP for one provider, with a bounded timeout.

    ``client`` is a shared :class:`httpx.AsyncClient` (the app's, or a test's
    ``MockTransport``); without one, each call opens and closes its own.
    """

    def __init__(self, name: str, *, timeout: float, client: httpx.AsyncClient | None) -> None:
        self.name = name
        self._timeout = httpx.Timeout(timeout)
        self._client = client

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send the request and return its JSON body (object or array), or raise."""
        client = self._client or httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(f"{self.name}: {type(exc).__name__}") from exc
        finally:
            if self._client is None:
                await client.aclose()
        if response.status_code >= 500:
            raise ProviderUnavailableError(f"{self.name}: HTTP {response.status_code}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ProviderError(f"{self.name}: answer too large")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError(f"{self.name}: answer is not JSON") from exc
        if response.status_code >= 400:
            raise ProviderError(
                f"{self.name}: HTTP {response.status_code} error={_error_code(body)}"
            )
        return body

    async def object(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """Like :meth:`json`, for answers that must be a JSON object."""
        body = await self.json(method, url, **kwargs)
        if not isinstance(body, dict):
            raise ProviderError(f"{self.name}: answer is not a JSON object")
        return body
