"""What adopting a pywire-auth 0.4.0 database writes, worked out before anything is written.

Private to :mod:`pywire_auth.stores.v04`. Pure computation over the rows read from
0.4.0's three tables, so every problem is found (and reported together) before the
first write, and the rules can be read without any database code around them.

0.4.0 stored the email as typed (``Alice@Example.COM``) both in ``users.email`` and
as the subject of the ``local`` link its sign-in looked up, so two accounts may
differ only in case. Here each address gets our canonical form
(:func:`~pywire_auth.normalize_email`); two accounts that would share one, or whose
canonical forms look alike (same UTS #39 skeleton), are problems to report, never
merged: merging would hand one person's account to the other.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pywire_auth.exceptions import InvalidInputError
from pywire_auth.local.confusables import EMAIL_SKELETON_PROVIDER, email_skeleton_key
from pywire_auth.local.normalize import normalize_email
from pywire_auth.stores._validate import check_link, check_pw_hash, check_user
from pywire_auth.tokens.issuer import RESERVED_CLAIMS
from pywire_auth.types import LOCAL_PROVIDER, JSONValue, ProviderLink, UserRecord

__all__ = ["AdoptionPlan", "AdoptionProblem", "plan_adoption"]

# Claims our principal builds from the record itself: 0.4.0 copied the typed email
# into the claims, where it would shadow nothing but block every later claim update
# (the store refuses to hold them).
_OWNED_CLAIMS = RESERVED_CLAIMS | {"email"}


@dataclass(frozen=True, slots=True)
class AdoptionProblem:
    """A row adoption cannot carry over as it is; ``user_ids`` are 0.4.0's ids.

    ``kind`` is ``"same_email"`` (accounts whose emails differ only in case or
    Unicode form), ``"look_alike"`` (emails with the same confusable skeleton),
    ``"invalid"`` (a value our store refuses: ``detail`` says which) or
    ``"several_logins"`` (one user with more than one ``local`` link).
    """

    kind: str
    user_ids: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {', '.join(self.user_ids)} ({self.detail})"


@dataclass(frozen=True, slots=True)
class AdoptionPlan:
    """The rows to write in our schema, or the problems that stop the adoption."""

    users: tuple[UserRecord, ...] = ()
    credentials: tuple[tuple[str, str], ...] = ()
    links: tuple[ProviderLink, ...] = ()
    normalized: tuple[tuple[str, str, str], ...] = ()
    dropped_rows: int = 0
    problems: tuple[AdoptionProblem, ...] = field(default=())


def _as_object(value: Any) -> dict[str, JSONValue] | None:
    # 0.4.0's JSON columns come back as text where the column is not JSON-typed
    # (MariaDB's JSON is LONGTEXT), and may be NULL.
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8")
    return "" if value is None else str(value)


class _Planner:
    def __init__(self) -> None:
        self.problems: list[AdoptionProblem] = []

    def problem(self, kind: str, user_ids: Iterable[str], detail: str) -> None:
        self.problems.append(AdoptionProblem(kind, tuple(sorted(user_ids)), detail))

    def canonical(self, user_id: str, email: str) -> str | None:
        try:
            return normalize_email(email)
        except InvalidInputError as exc:
            self.problem("invalid", [user_id], f"email {email!r}: {exc}")
            return None

    def valid(self, user_id: str, check: Any, value: Any) -> bool:
        try:
            check(value)
        except InvalidInputError as exc:
            self.problem("invalid", [user_id], str(exc))
            return False
        return True

    def report_shared(self, kind: str, keys: Mapping[str, set[str]], detail: str) -> None:
        for key, owners in sorted(keys.items()):
            if len(owners) > 1:
                self.problem(kind, owners, detail.format(key=key))


def plan_adoption(
    user_rows: Iterable[Mapping[str, Any]],
    credential_rows: Iterable[Mapping[str, Any]],
    link_rows: Iterable[Mapping[str, Any]],
) -> AdoptionPlan:
    """Turn 0.4.0's rows into ours; collect every problem instead of stopping at one."""
    planner = _Planner()
    raw_users = {_text(row["user_id"]): row for row in user_rows}
    all_links, all_credentials = list(link_rows), list(credential_rows)
    # Links and credentials of users that do not exist: 0.4.0 had no foreign keys,
    # and found no user through them either, so nothing is lost by leaving them.
    raw_links = [row for row in all_links if _text(row["user_id"]) in raw_users]
    raw_credentials = [row for row in all_credentials if _text(row["user_id"]) in raw_users]
    dropped = len(all_links) - len(raw_links) + len(all_credentials) - len(raw_credentials)

    # The email each user signs in with: the canonical form of its local link.
    local_subjects: dict[str, list[str]] = defaultdict(list)
    for row in raw_links:
        if _text(row["provider"]) == LOCAL_PROVIDER:
            local_subjects[_text(row["user_id"])].append(_text(row["subject"]))
    login_email: dict[str, str] = {}
    by_address: dict[str, set[str]] = defaultdict(set)
    by_skeleton: dict[str, set[str]] = defaultdict(set)
    for user_id, subjects in local_subjects.items():
        if len(subjects) > 1:
            planner.problem("several_logins", [user_id], f"local links {sorted(subjects)}")
            continue
        address = planner.canonical(user_id, subjects[0])
        if address is not None:
            login_email[user_id] = address
            by_address[address].add(user_id)
    planner.report_shared("same_email", by_address, "emails that are all {key} once normalized")
    for address, owners in by_address.items():
        if len(owners) == 1:
            by_skeleton[email_skeleton_key(address)].add(address)
    look_alikes = {key: addresses for key, addresses in by_skeleton.items() if len(addresses) > 1}
    for addresses in look_alikes.values():
        owners = {owner for address in addresses for owner in by_address[address]}
        planner.problem("look_alike", owners, f"emails {sorted(addresses)} look alike")

    users: list[UserRecord] = []
    normalized: list[tuple[str, str, str]] = []
    for user_id, row in raw_users.items():
        stored_email = _text(row["email"])
        email = login_email.get(user_id)
        if email is None:
            # No password login (an OIDC account): keep the provider's address,
            # in canonical form when it has one.
            try:
                email = normalize_email(stored_email) if stored_email else ""
            except InvalidInputError:
                email = stored_email.strip()
        if email != stored_email:
            normalized.append((user_id, stored_email, email))
        claims = _as_object(row["claims"])
        extras = _as_object(row["extras"])
        if claims is None or extras is None:
            planner.problem("invalid", [user_id], "claims or extras are not a JSON object")
            continue
        kept = {key: value for key, value in claims.items() if key not in _OWNED_CLAIMS}
        user = UserRecord(user_id, email, _text(row["name"]), kept, extras)
        if planner.valid(user_id, check_user, user):
            users.append(user)

    links: list[ProviderLink] = []
    for row in raw_links:
        user_id, provider = _text(row["user_id"]), _text(row["provider"])
        subject = _text(row["subject"])
        if provider == LOCAL_PROVIDER:
            if user_id not in login_email:
                continue  # already reported
            subject = login_email[user_id]
        claims = _as_object(row["claims"])
        if claims is None:
            planner.problem("invalid", [user_id], f"{provider} link claims are not an object")
            continue
        link = ProviderLink(provider, subject, user_id, claims)
        if planner.valid(user_id, check_link, link):
            links.append(link)
    # Reserve each address's look-alikes, as a registration does.
    links.extend(
        ProviderLink(EMAIL_SKELETON_PROVIDER, email_skeleton_key(address), user_id)
        for user_id, address in sorted(login_email.items())
    )

    credentials: list[tuple[str, str]] = []
    for row in raw_credentials:
        user_id, pw_hash = _text(row["user_id"]), row["pw_hash"]
        if pw_hash is None:
            dropped += 1  # 0.4.0 treated a NULL hash as no password
        elif planner.valid(user_id, check_pw_hash, _text(pw_hash)):
            credentials.append((user_id, _text(pw_hash)))

    return AdoptionPlan(
        users=tuple(users),
        credentials=tuple(credentials),
        links=tuple(links),
        normalized=tuple(sorted(normalized)),
        dropped_rows=dropped,
        problems=tuple(planner.problems),
    )
