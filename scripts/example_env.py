"""Write the example app's ``.env`` with fresh random secrets, readable by its owner only.

Run by ``scripts/example`` from ``examples/local_idp`` on first use; never
overwrites an existing file.
"""

from __future__ import annotations

import os
import secrets
import sys

#: The secrets sign sessions and tokens: nobody but the owner may read them.
ENV_FILE_MODE = 0o600


def write_env(path: str = ".env") -> None:
    """Create ``path`` with new secrets; ``FileExistsError`` if it already exists."""
    lines = (
        f"PYWIRE_SESSION_SECRET={secrets.token_hex(32)}\n"
        f"LOCAL_IDP_SECRET={secrets.token_hex(32)}\n"
        "LOCAL_AUTH_DB=sqlite+aiosqlite:///./local-auth.db\n"
    )
    # Created with its final mode: an open() then chmod() would leave the
    # secrets world-readable (under the usual umask) in between.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, ENV_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(lines)


if __name__ == "__main__":
    write_env(sys.argv[1] if len(sys.argv) > 1 else ".env")
