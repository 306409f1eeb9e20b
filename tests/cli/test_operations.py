"""`pywire-auth token ...`, `secrets ...`, `db ...` and where the configuration comes from."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pywire import PyWire

from pywire_auth import LocalIdP, connect_auth
from pywire_auth._secrets import secret_problem
from pywire_auth.migrations import head_revision
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from tests.cli.conftest import IDP_SECRET, PASSWORD, Run, run_async

HEAD = head_revision()


PAGES_DIR = Path(__file__).resolve().parents[2] / "examples" / "local_idp" / "src" / "pages"
SESSION_SECRET = "cli-session-secret-" + "9c1e5a7b3d2f4086e1c9b7a5f3d20e48"


async def _verify(url: str, token: str) -> dict[str, object]:
    # The app of the specification on the same database, asked through its route.
    app = PyWire(pages_dir=str(PAGES_DIR))
    idp = LocalIdP(store=SQLAlchemyAuthStore(url), secret=IDP_SECRET)
    connect_auth(app, local_idp=idp, session_secret=SESSION_SECRET, throttle=None, mailer=None)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.post("/auth/local/verify-token", json={"token": token})
            return dict(response.json())
    finally:
        await idp.aclose()


def test_issued_token_is_accepted_by_the_apps_verify_token_route(run: Run) -> None:
    run("users", "create", "ann@example.com", "--password-stdin", stdin=PASSWORD)
    token = run(
        "token", "issue", "--user", "ann@example.com", "--ttl", "300", "--claim", "purpose=invite"
    ).stdout.strip()
    answer = run_async(_verify(run.url, token))
    assert answer["valid"] is True
    decoded = answer["decoded"]
    assert isinstance(decoded, dict)
    assert decoded["purpose"] == "invite"
    assert decoded["exp"] - decoded["iat"] == 300

    # Signed with another secret: the app refuses it.
    os.environ["LOCAL_IDP_SECRET"] = "another-secret-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    forged = run("token", "issue", "--user", "ann@example.com").stdout.strip()
    assert run_async(_verify(run.url, forged))["valid"] is False


def test_token_issue_refuses_owned_claims_unknown_users_and_a_missing_secret(run: Run) -> None:
    run("users", "create", "ann@example.com", "--password-stdin", stdin=PASSWORD)
    run("token", "issue", "--user", "ann@example.com", "--claim", "sub=someone", code=1)
    run("token", "issue", "--user", "ann@example.com", "--claim", "noequals", code=2)
    run("token", "issue", "--user", "ann@example.com", "--ttl", "0", code=2)
    run("token", "issue", "--user", "zed@example.com", code=3)
    del os.environ["LOCAL_IDP_SECRET"]
    run("token", "issue", "--user", "ann@example.com", code=6)


def test_secrets_generate_writes_a_private_file_once(run: Run, tmp_path: Path) -> None:
    target = tmp_path / ".env"
    run("secrets", "generate", "--output", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in target.read_text().splitlines() if "=" in line)
    session, idp = values["PYWIRE_SESSION_SECRET"], values["LOCAL_IDP_SECRET"]
    assert session != idp
    assert secret_problem(session) is None
    assert secret_problem(idp) is None
    before = target.read_text()
    run("secrets", "generate", "--output", str(target), code=4)
    assert target.read_text() == before


def test_db_upgrade_current_check_downgrade(run: Run) -> None:
    assert run.json("db", "current") == {"current": None, "head": HEAD, "up_to_date": False}
    assert run.json("db", "upgrade")["to"] == HEAD
    assert run.json("db", "current")["up_to_date"] is True
    assert run.json("db", "check") == {"ok": True, "diffs": []}

    async def drift() -> None:
        store = SQLAlchemyAuthStore(run.url, create_tables=False)
        try:
            async with store.engine.begin() as conn:
                await conn.execute(sa.text("DROP INDEX ix_pywire_auth_sessions_expires_at"))
        finally:
            await store.close()

    run_async(drift())
    result = run("db", "check", code=7)
    assert "ix_pywire_auth_sessions_expires_at" in result.stdout
    run("db", "downgrade", "base", stdin="n\n", code=1)  # the prompt said no
    run("db", "downgrade", "base", "--yes")
    assert run.json("db", "current")["current"] is None
    run("db", "upgrade", "nonsense", code=1)


@pytest.mark.parametrize("source", ["dotenv", "env-file"])
def test_database_comes_from_the_apps_configuration(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'from-config.db'}"
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    monkeypatch.chdir(app_dir)
    if source == "dotenv":
        (app_dir / ".env").write_text(f"LOCAL_AUTH_DB={url}\n")
        args: list[str] = []
    else:
        (tmp_path / "ops.env").write_text(f"export LOCAL_AUTH_DB='{url}'\n")
        args = ["--env-file", str(tmp_path / "ops.env")]
    from click.testing import CliRunner

    from pywire_auth.cli.main import cli

    result = CliRunner().invoke(cli, [*args, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-config.db").exists()
    assert not (app_dir / "local-auth.db").exists()
