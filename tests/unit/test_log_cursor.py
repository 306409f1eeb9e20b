"""LogCursor: ids that commit out of order are delivered once, holes are waited for."""

from __future__ import annotations

from pywire_auth.channels._cursor import LogCursor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_in_order_ids_move_the_position() -> None:
    cursor = LogCursor(0, gap_timeout=5)
    assert [cursor.accept(i) for i in (1, 2, 3)] == [True, True, True]
    cursor.settle()
    assert (cursor.position, cursor.waiting_for) == (3, 0)


def test_a_late_commit_below_the_highest_id_is_still_delivered() -> None:
    clock = Clock()
    cursor = LogCursor(10, gap_timeout=5, clock=clock)
    assert cursor.accept(12)
    cursor.settle()
    # 11 is missing: the cursor must not move past it yet.
    assert (cursor.position, cursor.waiting_for) == (10, 1)
    clock.now = 4.9
    assert cursor.accept(11)
    assert not cursor.accept(12)
    cursor.settle()
    assert (cursor.position, cursor.waiting_for) == (12, 0)


def test_a_hole_that_never_fills_is_passed_after_the_timeout() -> None:
    clock = Clock()
    cursor = LogCursor(0, gap_timeout=5, clock=clock)
    cursor.accept(2)
    cursor.settle()
    assert cursor.position == 0
    clock.now = 5.0
    cursor.settle()
    assert cursor.position == 2
    # And a straggler below the position is never delivered twice or late.
    assert not cursor.accept(1)


def test_ids_at_or_below_the_start_are_history() -> None:
    cursor = LogCursor(100, gap_timeout=5)
    assert not cursor.accept(100)
    assert not cursor.accept(7)
    assert cursor.accept(101)


def test_a_huge_jump_is_not_tracked_id_by_id() -> None:
    cursor = LogCursor(0, gap_timeout=5)
    cursor.accept(1_000_000)
    cursor.settle()
    assert cursor.waiting_for <= 1000
    assert cursor.position >= 1_000_000 - 1000
