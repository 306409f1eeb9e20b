"""The one check of a throttle rule, shared by every throttle shipped here."""

from __future__ import annotations

__all__ = ["check_rule", "rule_for"]


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


def rule_for(
    default_limit: int, default_window: int, limit: int | None, window: int | None
) -> tuple[int, int]:
    """The rule of one hit: its own ``limit``/``window``, else the throttle's defaults."""
    return check_rule(
        default_limit if limit is None else limit, default_window if window is None else window
    )
