"""``pywire-auth db adopt``: a database shaped as pywire-auth 0.4.0 made it, converted once.

(tests/backends/test_v04_adoption.py makes such databases with the real 0.4.0 package;
this file checks the command around ``adopt_v04``.)
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from argon2 import PasswordHasher

from tests.cli.conftest import Run

_V04_TABLES = """
    CREATE TABLE pywire_auth_users (user_id VARCHAR NOT NULL, email VARCHAR,
        name VARCHAR, claims JSON, extras JSON, PRIMARY KEY (user_id));
    CREATE TABLE pywire_auth_credentials (user_id VARCHAR NOT NULL, pw_hash VARCHAR,
        PRIMARY KEY (user_id));
    CREATE TABLE pywire_auth_provider_links (provider VARCHAR NOT NULL,
        subject VARCHAR NOT NULL, user_id VARCHAR, claims JSON,
        PRIMARY KEY (provider, subject));
"""


def v04_database(path: Path, *emails: str) -> str:
    """0.4.0's three tables on SQLite (no foreign keys, emails as typed), one user each."""
    db = sqlite3.connect(path)
    db.executescript(_V04_TABLES)
    pw_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("old password 1")
    for number, email in enumerate(emails):
        claims = json.dumps({"email": email, "role": "admin"})
        db.execute(
            "INSERT INTO pywire_auth_users VALUES (?, ?, 'Ann', ?, '{}')",
            (f"user-{number}", email, claims),
        )
        db.execute("INSERT INTO pywire_auth_credentials VALUES (?, ?)", (f"user-{number}", pw_hash))
        db.execute(
            "INSERT INTO pywire_auth_provider_links VALUES ('local', ?, ?, ?)",
            (email, f"user-{number}", claims),
        )
    db.commit()
    db.close()
    return f"sqlite+aiosqlite:///{path}"


def test_adopt_converts_once_and_then_does_nothing(tmp_path: Path) -> None:
    run = Run(v04_database(tmp_path / "app.db", "Ann@Example.COM"))
    # The app's own commands refuse the unadopted database and name the way out.
    refused = run("users", "list", code=6)
    assert "adopt_v04" in refused.output
    dry = run.json("db", "adopt", "--dry-run")
    assert (dry["adopted"], dry["users"]) == (False, 1)
    run("users", "list", code=6)  # the dry run wrote nothing
    done = run("db", "adopt")
    assert "adopted 1 users" in done.stdout
    listed = run.json("users", "list")
    assert [user["email"] for user in listed] == ["ann@example.com"]
    assert "already adopted" in run("db", "adopt").stdout


def test_adopt_reports_case_duplicates_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    run = Run(v04_database(path, "Bob@Example.com", "bob@example.com"))
    failed = run("db", "adopt", code=1)
    assert "same_email: user-0, user-1" in failed.output
    db = sqlite3.connect(path)
    try:
        emails = sorted(row[0] for row in db.execute("SELECT email FROM pywire_auth_users"))
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()
    assert emails == ["Bob@Example.com", "bob@example.com"]
    assert not any(name.startswith("pywire_auth_v04_") for name in tables)
