"""Every Python example in docs/ and the README runs as written (unless ``<!-- not-run -->``).

A block that prints may be followed (blank lines only between) by a fenced block
labelled ``output``; the test then compares what the block printed, line by line
with trailing spaces stripped, against it::

    ```python
    print(1 + 1)
    ```
    ```output
    2
    ```

README blocks run in a new project as a user would have one: a ``pyproject.toml``,
an empty ``src/pages/`` and fresh ``LOCAL_IDP_SECRET`` / ``PYWIRE_SESSION_SECRET``
(what the example's ``.env`` holds).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
_BLOCK = re.compile(
    r"(<!-- not-run[^>]*-->\s*)?```python\n(.*?)```(?:[ \t]*\n(?:[ \t]*\n)*```output\n(.*?)```)?",
    re.DOTALL,
)


@dataclass(frozen=True)
class Example:
    """One runnable block: where it is, its code, and what it must print (if said)."""

    name: str
    code: str
    output: str | None = None
    in_project: bool = False


def examples_in(text: str, page: str, *, in_project: bool = False) -> list[Example]:
    """The runnable python blocks of one Markdown text, numbered as they appear."""
    found = []
    for number, match in enumerate(_BLOCK.finditer(text)):
        if match.group(1) is None:
            found.append(Example(f"{page}#{number}", match.group(2), match.group(3), in_project))
    return found


def _examples() -> list[Example]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        found += examples_in(page.read_text(encoding="utf-8"), page.name)
    found += examples_in(README.read_text(encoding="utf-8"), README.name, in_project=True)
    return found


EXAMPLES = _examples()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def run_example(example: Example, workdir: Path) -> None:
    """Run one example in ``workdir``; fail with its stderr or an output diff."""
    env = dict(os.environ)
    if example.in_project:
        (workdir / "src" / "pages").mkdir(parents=True)
        (workdir / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
        env["LOCAL_IDP_SECRET"] = secrets.token_hex(32)
        env["PYWIRE_SESSION_SECRET"] = secrets.token_hex(32)
    done = subprocess.run(
        [sys.executable, "-c", example.code],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{example.name} failed:\n{done.stderr}"
    if example.output is not None:
        assert _lines(done.stdout) == _lines(example.output), (
            f"{example.name} printed:\n{done.stdout}\nbut its output block says:\n{example.output}"
        )


def test_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 6
    assert any(example.name.startswith("README.md#") for example in EXAMPLES)
    assert any(example.output is not None for example in EXAMPLES)


def test_an_output_block_is_compared(tmp_path: Path) -> None:
    # The checker itself can fail: a block whose output block is wrong is caught.
    [example] = examples_in('```python\nprint("two")\n```\n\n```output\n2\n```\n', "fake.md")
    assert example.output == "2\n"
    with pytest.raises(AssertionError, match="but its output block says"):
        run_example(example, tmp_path)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_doc_example_runs(example: Example, tmp_path: Path) -> None:
    run_example(example, tmp_path)
