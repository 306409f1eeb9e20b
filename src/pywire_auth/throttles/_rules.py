"""The one check of a throttle rule, shared by every throttle shipped here."""

from __future__ import annotations

__all__ = ["check_rule"]


def check_rule(limit: object, window: object) -> tuple[int, int]:
    """``(limit, window)`` if both are positive whole numbers, else ``ValueError``."""
    if (
        not isinstance(limit, int)
        or not isinstance(window, int)
        or isinstance(limit, bool)
        or isinstance(window, bool)
        or limit < 1
        or window < 1
    ):
        raise ValueError("limit and window must be positive whole numbers")
    return limit, window
