"""AdminOptions refuses paths, policies and page sizes that cannot work."""

from __future__ import annotations

import pytest

from pywire_auth import AdminOptions, ConfigurationError


def test_admin_options_are_checked() -> None:
    for bad in ("admin", "", "/", "//evil", "/a/{x}", "/a b", "/a?b"):
        with pytest.raises(ConfigurationError):
            AdminOptions(path=bad)
    for policy in ("", " ", 3, object):
        with pytest.raises(ConfigurationError):
            AdminOptions(policy=policy)  # type: ignore[arg-type]
    for size in (0, 501, True):
        with pytest.raises(ConfigurationError):
            AdminOptions(page_size=size)
    assert AdminOptions(path="/ops/admin/").path == "/ops/admin"
