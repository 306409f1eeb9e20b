"""Signatures written out in the docs match the code: names and default values."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from pywire_auth import LocalIdP

DOCS = Path(__file__).resolve().parents[2] / "docs"


def documented_defaults(page: str, name: str) -> dict[str, object]:
    """The ``name(a=1, b="", *, c=None)`` line of a page, as {parameter: default}."""
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(rf"`{name}\((.*?)\)`", text, re.DOTALL)
    assert match is not None, f"no `{name}(...)` signature in {page}"
    call = ast.parse(f"f({match.group(1).replace('*,', '')})", mode="eval").body
    assert isinstance(call, ast.Call)
    found = {}
    for keyword in call.keywords:
        assert keyword.arg is not None
        try:
            found[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            found[keyword.arg] = ast.unparse(keyword.value)  # not a plain value: mismatch
    return found


def test_local_idp_construction_line() -> None:
    real = inspect.signature(LocalIdP).parameters
    for parameter, default in documented_defaults("local-idp.md", "LocalIdP").items():
        assert parameter in real, parameter
        assert real[parameter].default == default, (parameter, default)
