"""The example app is the specification's text, verbatim (main.py and the two pages).

The specification (pywire.dev, "Local IdP & Persistence") shows these files; a new
user copies them from there. Changing the example away from them would make it
demonstrate something the specification does not say: put additions in other pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "local_idp"

#: Copied from the specification's code blocks (.env.example may add settings).
SPEC = {
    "main.py": (
        "import os\n"
        "from pywire import PyWire\n"
        "from pywire_auth import LocalIdP, SQLAlchemyAuthStore, connect_auth\n"
        'app = PyWire(pages_dir="src/pages")\n'
        "store = SQLAlchemyAuthStore(\n"
        'os.environ.get("LOCAL_AUTH_DB", "sqlite+aiosqlite:///./local-auth.db")\n'
        ")\n"
        "idp = LocalIdP(store=store) # reads LOCAL_IDP_SECRET from env\n"
        "connect_auth(app, local_idp=idp)\n"
    ),
    "src/pages/login_local.wire": (
        "---\n"
        'error = self.query.get("error") if hasattr(self, "query") else None\n'
        "---\n"
        "<h1>Log in</h1>\n"
        '<p $if={error == "invalid"}>Invalid email or password.</p>\n'
        '<form method="POST" action="/auth/local/login">\n'
        '<input type="hidden" name="next" value="/profile" />\n'
        '<input type="email" name="email" required />\n'
        '<input type="password" name="password" required />\n'
        '<button type="submit">Log in</button>\n'
        "</form>\n"
        '<p>No account? <a href="/register">Register</a>.</p>\n'
    ),
    "src/pages/register.wire": (
        "---\n"
        'error = self.query.get("error") if hasattr(self, "query") else None\n'
        "---\n"
        "<h1>Register</h1>\n"
        '<p $if={error == "exists"}>That email is already registered.</p>\n'
        '<form method="POST" action="/auth/local/register">\n'
        '<input type="hidden" name="next" value="/profile" />\n'
        '<input type="email" name="email" required />\n'
        '<input type="password" name="password" required />\n'
        '<input type="text" name="name" placeholder="Display name" />\n'
        "<!-- Optional: grant an initial claim -->\n"
        '<input type="text" name="role" placeholder="admin / editor" />\n'
        '<input type="checkbox" name="email_verified" /> email_verified\n'
        '<button type="submit">Register</button>\n'
        "</form>\n"
    ),
}


@pytest.mark.parametrize("name", list(SPEC))
def test_example_file_is_the_specifications(name: str) -> None:
    assert (EXAMPLE / name).read_text(encoding="utf-8") == SPEC[name]
