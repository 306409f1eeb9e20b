"""Where the command line finds the app's configuration: the same places the app does.

By default the ``.env`` cascade of PyWire itself (``.env.<PYWIRE_MODE>``,
``.env.local``, ``.env`` in the working folder or above; variables already in the
environment win), so ``LOCAL_AUTH_DB``, ``LOCAL_IDP_SECRET``, ``REDIS_URL`` and
``PYWIRE_AUTH_CHANNEL`` mean what they mean to the running app. ``--env-file PATH``
reads that one file instead, and its values win over the environment; ``--db URL``
wins over both.
"""

from __future__ import annotations

import os
from pathlib import Path

from pywire_auth.exceptions import ConfigurationError

__all__ = ["DB_ENV", "DEFAULT_DB", "load_environment", "parse_env_file"]

#: The variable the specification's app reads its database URL from.
DB_ENV = "LOCAL_AUTH_DB"
#: The specification's app falls back to this file in its working folder.
DEFAULT_DB = "sqlite+aiosqlite:///./local-auth.db"


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a dotenv file; comments, blanks and ``export`` allowed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigurationError(f"cannot read the env file {path}: {err.strerror}") from err
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key.strip():
            values[key.strip()] = value
    return values


def load_environment(env_file: Path | None) -> None:
    """Fill ``os.environ`` as the app's process would see it (see the module docstring)."""
    if env_file is not None:
        os.environ.update(parse_env_file(env_file))
        return
    from pywire.config import reload

    reload(Path.cwd())


def database_url(override: str | None) -> str:
    """``--db``, else ``LOCAL_AUTH_DB``, else the specification's default file."""
    return override or os.environ.get(DB_ENV) or DEFAULT_DB
