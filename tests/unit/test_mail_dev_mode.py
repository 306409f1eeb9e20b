"""How the mailer tells `pywire dev` apart: its flag, or its command line when the
flag is not set yet (the CLI imports the app once before setting it)."""

from __future__ import annotations

import pytest

from pywire_auth.mail.config import dev_mode


@pytest.mark.parametrize(
    ("environ", "argv", "expected"),
    [
        ({"PYWIRE_DEV_MODE": "1"}, ["python"], True),
        ({}, ["/venv/bin/pywire", "dev", "main:app"], True),
        ({}, ["/venv/bin/pywire", "run", "main:app"], False),
        ({}, ["/venv/bin/uvicorn", "main:app"], False),
        ({"PYWIRE_DEV_MODE": "0"}, ["python", "dev"], False),
        ({}, [], False),
    ],
)
def test_dev_mode(environ: dict[str, str], argv: list[str], expected: bool) -> None:
    assert dev_mode(environ, argv) is expected
