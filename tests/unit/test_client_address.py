"""The client address under every proxy setting, and what a forged header can reach."""

from __future__ import annotations

import logging

import pytest

from pywire_auth import ClientAddress, ConfigurationError, RateLimit, ThrottlePolicy
from pywire_auth._client_address import UNVERIFIED, AddressResolver, group_key

PEER = ("203.0.113.9", 51234)


def scope(client: tuple[str, int] | None = PEER, **headers: str | list[str]) -> dict[str, object]:
    raw = []
    for name, value in headers.items():
        for one in value if isinstance(value, list) else [value]:
            raw.append((name.replace("_", "-").encode(), one.encode("latin-1")))
    return {"type": "http", "client": client, "headers": raw}


def resolve(settings: ClientAddress, request: dict[str, object]) -> str:
    return AddressResolver(settings).client(request)


DEFAULT = ClientAddress()
LOCAL_PROXY = ClientAddress(trusted_proxies=("127.0.0.1", "::1"))
TWO_PROXIES = ClientAddress(trusted_proxies=("127.0.0.1", "10.0.0.0/8"))
FORWARDED = ClientAddress(trusted_proxies=("127.0.0.1",), header="forwarded")


# The socket peer, by default --------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x_forwarded_for": "198.51.100.1"},
        {"x_forwarded_for": "198.51.100.1, 198.51.100.2"},
        {"forwarded": "for=198.51.100.1"},
        {"x_real_ip": "198.51.100.1"},
    ],
)
def test_by_default_only_the_socket_peer_counts(headers: dict[str, str]) -> None:
    assert resolve(DEFAULT, scope(**headers)) == "203.0.113.9"


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    request = scope(x_forwarded_for="198.51.100.1, 127.0.0.1", forwarded="for=198.51.100.7")
    assert resolve(LOCAL_PROXY, request) == "203.0.113.9"
    assert resolve(FORWARDED, request) == "203.0.113.9"


def test_addresses_are_canonical() -> None:
    assert resolve(DEFAULT, scope(("2001:DB8:0::1", 5))) == "2001:db8::1"
    assert resolve(DEFAULT, scope(("::ffff:192.0.2.1", 5))) == "192.0.2.1"
    assert resolve(DEFAULT, scope(None)) == "unix"
    assert resolve(DEFAULT, scope(("testclient", 50000))) == "testclient"


# Behind trusted proxies -------------------------------------------------------


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        ("198.51.100.1", "198.51.100.1"),
        # A client-sent entry is left of the one our proxy appended: ignored.
        ("6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # two header lines, one list
        ("198.51.100.1, 10.1.2.3", "198.51.100.1"),  # through a second trusted proxy
        ("198.51.100.1:4711", "198.51.100.1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("10.0.0.2, 10.0.0.3", "10.0.0.2"),  # only proxies: the farthest one
        ("garbage, 10.0.0.3", "10.0.0.3"),  # an unreadable hop: the last trusted one
        ("unknown", "127.0.0.1"),
        ("", "127.0.0.1"),
    ],
)
def test_x_forwarded_for_is_read_from_the_right(
    forwarded_for: str | list[str], client: str
) -> None:
    request = scope(("127.0.0.1", 40000), x_forwarded_for=forwarded_for)
    assert resolve(TWO_PROXIES, request) == client


def test_without_a_header_the_proxy_is_the_client() -> None:
    assert resolve(LOCAL_PROXY, scope(("127.0.0.1", 40000))) == "127.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("for=198.51.100.1;proto=https", "198.51.100.1"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ("for=6.6.6.6, for=198.51.100.1", "198.51.100.1"),
        ('for=6.6.6.6;by="a,b", for=198.51.100.1', "198.51.100.1"),
        ("for=_hidden", "127.0.0.1"),
        ("proto=https", "127.0.0.1"),
    ],
)
def test_forwarded_is_read_from_the_right(forwarded: str, client: str) -> None:
    request = scope(("127.0.0.1", 40000), forwarded=forwarded, x_forwarded_for="6.6.6.6")
    assert resolve(FORWARDED, request) == client


def test_a_unix_socket_proxy_can_be_trusted() -> None:
    request = scope(None, x_forwarded_for="198.51.100.1")
    assert resolve(ClientAddress(trusted_proxies=("unix",)), request) == "198.51.100.1"
    assert resolve(DEFAULT, request) == "unix"


# Servers that rewrote the peer before us (uvicorn --proxy-headers) ------------------


def uvicorn_rewrote(forwarded_for: str, entry: str) -> dict[str, object]:
    """The scope uvicorn hands on after replacing the peer with one XFF entry."""
    host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "0")
    return scope((host, int(port)), x_forwarded_for=forwarded_for)


def test_a_rewrite_is_not_believed_by_default(caplog: pytest.LogCaptureFixture) -> None:
    # uvicorn trusted the loopback peer and took the client from X-Forwarded-For;
    # we trust no proxy, so each forged value would otherwise be a fresh key.
    with caplog.at_level(logging.WARNING, logger="pywire_auth.client_address"):
        resolver = AddressResolver(DEFAULT)
        for forged in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
            assert resolver.client(uvicorn_rewrote(forged, forged)) == UNVERIFIED
    assert len(caplog.records) == 1  # said once, not per request


def test_a_rewrite_within_our_trust_is_followed() -> None:
    request = uvicorn_rewrote("6.6.6.6, 198.51.100.1", "198.51.100.1")
    assert resolve(LOCAL_PROXY, request) == "198.51.100.1"
    # uvicorn stopped at an address we trust: we walk on.
    request = uvicorn_rewrote("198.51.100.1, 10.1.2.3", "10.1.2.3")
    assert resolve(TWO_PROXIES, request) == "198.51.100.1"


def test_a_rewrite_past_an_untrusted_hop_is_not_believed() -> None:
    # uvicorn trusted more than we do (FORWARDED_ALLOW_IPS="*" picks the leftmost).
    request = uvicorn_rewrote("6.6.6.6, 198.51.100.1", "6.6.6.6")
    assert resolve(LOCAL_PROXY, request) == UNVERIFIED


def test_a_rewrite_with_another_header_configured_is_not_believed() -> None:
    request = uvicorn_rewrote("6.6.6.6", "6.6.6.6")
    request["headers"].append((b"forwarded", b"for=198.51.100.1"))  # type: ignore[attr-defined]
    assert resolve(FORWARDED, request) == UNVERIFIED


def test_faking_a_rewrite_only_names_the_faker() -> None:
    # A direct client sends its own address and source port, to look rewritten,
    # and appends a value of its choice: it gets its own address, or the one
    # shared key, never the value it chose.
    request = scope(PEER, x_forwarded_for="203.0.113.9:51234, 127.0.0.1")
    assert resolve(LOCAL_PROXY, request) == "203.0.113.9"
    request = scope(PEER, x_forwarded_for="203.0.113.9:51234, 6.6.6.6")
    assert resolve(LOCAL_PROXY, request) == UNVERIFIED


# Grouping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "prefix", "key"),
    [
        ("192.0.2.1", 64, "192.0.2.1"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 48, "2001:db8:1::/48"),
        ("2001:db8::1", 128, "2001:db8::1/128"),
        ("fe80::1%eth0", 64, "fe80::/64"),
        (UNVERIFIED, 64, UNVERIFIED),
        ("unix", 64, "unix"),
    ],
)
def test_group_key(address: str, prefix: int, key: str) -> None:
    assert group_key(address, prefix) == key


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        ClientAddress(trusted_proxies=("not-an-address",))
    with pytest.raises(ConfigurationError):
        ClientAddress(trusted_proxies="127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ClientAddress(header="x-real-ip")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ThrottlePolicy(ipv6_prefix=0)
    with pytest.raises(ConfigurationError):
        RateLimit(0, 60)
