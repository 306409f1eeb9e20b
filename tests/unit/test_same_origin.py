"""Origin and Referer checks compare the whole origin: scheme, host and port."""

from __future__ import annotations

import pytest

from pywire_auth._http import is_cross_site, same_origin_referer

# (request scheme, Host header, Origin header, same origin?)
CASES = [
    ("http", "site", "http://site", True),
    ("http", "SITE", "http://Site", True),
    # Scheme mismatch: an attacker who can rewrite plain-HTTP pages is another origin.
    ("https", "site", "http://site", False),
    ("http", "site", "https://site", False),
    # Port mismatch: another server on the same host is another origin.
    ("http", "site", "http://site:8080", False),
    ("http", "site:8080", "http://site", False),
    ("http", "site:8080", "http://site:8081", False),
    ("http", "site:8080", "http://site:8080", True),
    # Default ports: http:80 and https:443 are the same as no port.
    ("http", "site:80", "http://site", True),
    ("http", "site", "http://site:80", True),
    ("https", "site:443", "https://site", True),
    ("https", "site", "https://site:443", True),
    ("https", "site", "https://site:80", False),
    ("http", "site", "http://site:443", False),
    # IPv6 literals.
    ("http", "[::1]:8000", "http://[::1]:8000", True),
    ("http", "[::1]", "http://[::1]:80", True),
    ("http", "[::1]:8000", "http://[::1]:8001", False),
    ("http", "[::1]:8000", "http://[::2]:8000", False),
    ("https", "[2001:db8::1]", "http://[2001:db8::1]", False),
    ("http", "[2001:DB8::1]", "http://[2001:db8::1]", True),
    # Look-alikes and junk.
    ("http", "site", "http://site.evil.example", False),
    ("http", "site", "http://user@site", False),
    ("http", "site", "http://site:99999", False),
    ("http", "site", "ftp://site", False),
    ("http", "site", "null", False),
    ("http", "site", "site", False),
    ("http", "site:abc", "http://site", False),
    # WebSocket handshakes: ws/wss scopes, pages on http/https.
    ("ws", "site", "http://site", True),
    ("wss", "site", "https://site", True),
    ("wss", "site", "http://site", False),
    ("ws", "site:8000", "http://site", False),
]
IDS = [f"{s}-{h}-{o}" for s, h, o, _ in CASES]


@pytest.mark.parametrize(("scheme", "host", "origin", "same"), CASES, ids=IDS)
def test_origin_header_must_match_scheme_host_and_port(
    scheme: str, host: str, origin: str, same: bool
) -> None:
    assert is_cross_site({"host": host, "origin": origin}, scheme=scheme) is not same


@pytest.mark.parametrize(("scheme", "host", "origin", "same"), CASES, ids=IDS)
def test_referer_without_origin_must_match_scheme_host_and_port(
    scheme: str, host: str, origin: str, same: bool
) -> None:
    referer = origin + "/register?x=1"
    assert is_cross_site({"host": host, "referer": referer}, scheme=scheme) is not same
    expected = "/register?x=1" if same else None
    assert same_origin_referer({"host": host, "referer": referer}, scheme=scheme) == expected


def test_a_proxys_forwarded_proto_and_host_name_the_public_origin() -> None:
    # TLS ends at the proxy: the app sees http, the browser's page is https.
    behind = {"host": "app:8000", "x-forwarded-host": "site", "x-forwarded-proto": "https"}
    assert not is_cross_site({**behind, "origin": "https://site"}, scheme="http")
    assert not is_cross_site({**behind, "origin": "http://app:8000"}, scheme="http")
    assert is_cross_site({**behind, "origin": "https://site:8443"}, scheme="http")
    assert is_cross_site({**behind, "origin": "https://evil.example"}, scheme="http")
    assert same_origin_referer({**behind, "referer": "https://site/p"}, scheme="http") == "/p"


def test_sec_fetch_site_still_decides_first() -> None:
    headers = {"host": "site", "origin": "http://site:8080", "sec-fetch-site": "same-origin"}
    assert not is_cross_site(headers, scheme="http")
    headers = {"host": "site", "origin": "http://site", "sec-fetch-site": "same-site"}
    assert is_cross_site(headers, scheme="http")


def test_no_browser_headers_is_not_a_page() -> None:
    assert not is_cross_site({"host": "site"}, scheme="https")
