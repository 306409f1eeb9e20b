"""Reading a password: from a hidden prompt, or from stdin, never from argv.

A password on the command line ends up in the shell history and, while the
command runs, in every local user's ``ps`` output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import rich_click as click

from pywire_auth.exceptions import InvalidInputError

__all__ = ["password_stdin_option", "read_password"]


def password_stdin_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--password-stdin``: take the password from the first line of stdin."""
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from stdin (one line) instead of prompting.",
    )(command)


def read_password(from_stdin: bool) -> str:
    """The password, from stdin's first line or a hidden prompt asked twice."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password.removesuffix("\r")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True, type=str
        )
    if not password:
        raise InvalidInputError("the password is empty")
    return password
