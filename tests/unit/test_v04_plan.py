"""The pure rules of adopting a 0.4.0 database: what is normalized, kept, dropped, reported."""

from __future__ import annotations

from typing import Any

from pywire_auth.stores._v04_plan import plan_adoption

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def _user(user_id: str, email: str, claims: Any = None) -> dict[str, Any]:
    return {"user_id": user_id, "email": email, "name": None, "claims": claims, "extras": None}


def _local(user_id: str, email: str) -> dict[str, Any]:
    return {"provider": "local", "subject": email, "user_id": user_id, "claims": {"email": email}}


def test_emails_are_normalized_and_owned_claims_dropped() -> None:
    plan = plan_adoption(
        [_user("u1", "Ann@Example.COM", '{"email": "Ann@Example.COM", "role": "admin"}')],
        [{"user_id": "u1", "pw_hash": HASH}],
        [_local("u1", "Ann@Example.COM")],
    )
    assert not plan.problems
    (user,) = plan.users
    assert (user.email, user.name, dict(user.claims), dict(user.extras)) == (
        "ann@example.com",
        "",
        {"role": "admin"},
        {},
    )
    assert {(link.provider, link.subject) for link in plan.links} >= {("local", "ann@example.com")}
    assert any(link.provider == "local-skeleton" for link in plan.links)
    assert plan.normalized == (("u1", "Ann@Example.COM", "ann@example.com"),)


def test_case_duplicates_and_look_alikes_are_reported_not_merged() -> None:
    users = [
        _user("a", "Bo@x.io"),
        _user("b", "bo@X.io"),
        _user("c", "admin@example.com"),
        _user("d", "admin@exarnple.com"),
    ]
    links = [_local(u["user_id"], u["email"]) for u in users]
    plan = plan_adoption(users, [], links)
    kinds = sorted((problem.kind, problem.user_ids) for problem in plan.problems)
    assert kinds == [("look_alike", ("c", "d")), ("same_email", ("a", "b"))]


def test_orphans_are_left_out_and_bad_rows_reported() -> None:
    plan = plan_adoption(
        [_user("u1", "not an email"), _user("u2", "x@y.io", claims="[1, 2]")],
        [{"user_id": "ghost", "pw_hash": HASH}, {"user_id": "u1", "pw_hash": None}],
        [_local("u1", "not an email"), _local("ghost", "g@y.io")],
    )
    assert plan.dropped_rows == 3
    assert sorted((p.kind, p.user_ids) for p in plan.problems) == [
        ("invalid", ("u1",)),
        ("invalid", ("u2",)),
    ]
