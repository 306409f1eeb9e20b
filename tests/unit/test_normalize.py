"""normalize_email, PasswordPolicy and normalize_name."""

from __future__ import annotations

import pytest

from pywire_auth import (
    InvalidEmailError,
    InvalidInputError,
    MissingFieldError,
    PasswordPolicy,
    WeakPasswordError,
    normalize_email,
)
from pywire_auth.local.normalize import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    normalize_name,
    normalize_password,
)

# --- normalize_email: canonical form ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("\uff41\uff4c\uff49\uff43\uff45\uff20example.com", "alice@example.com"),  # fullwidth
        ("\t bob@example.com\r\n", "bob@example.com"),  # trimmed before anything else
        ("\u00a0carol@example.com\u3000", "carol@example.com"),  # NBSP / ideographic space
        ("JOS\u0045\u0301@EXA\u0308MPLE.DE", "jos\u00e9@ex\u00e4mple.de"),  # NFKC composes
        ("\ufb01le@example.com", "file@example.com"),  # ligature fi -> f i
    ],
)
def test_normalize_email_canonical_form(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


def test_fullwidth_literal_from_spec() -> None:
    assert normalize_email("\uff41\uff4c\uff49\uff43\uff45\uff20example.com") == "alice@example.com"


@pytest.mark.parametrize(
    "address",
    [
        "a@b",
        "o'brien@example.co.uk",
        "user+tag@sub.example.com",
        "josé@exämple.de",
        "first.last@example.com",
        "under_score@example.com",
        "x@a-b.example",
        "1234@123.example",
    ],
)
def test_normalize_email_accepts(address: str) -> None:
    assert normalize_email(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "  Mixed.Case+Tag@Sub.Example.COM ",
        "\uff41\uff4c\uff49\uff43\uff45\uff20example.com",
        "JOSÉ@EXÄMPLE.DE",
    ],
)
def test_normalize_email_is_idempotent(address: str) -> None:
    once = normalize_email(address)
    assert normalize_email(once) == once


@pytest.mark.parametrize("empty", ["", "   ", "\t\n", "\u3000"])
def test_empty_email_is_missing(empty: str) -> None:
    with pytest.raises(MissingFieldError):
        normalize_email(empty)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("alice.example.com", id="no-at"),
        pytest.param("alice@", id="empty-domain"),
        pytest.param("@example.com", id="empty-local"),
        pytest.param("a@b@example.com", id="two-at"),
        pytest.param('"a@b"@example.com', id="quoted-local"),
        pytest.param("al ice@example.com", id="space-in-local"),
        pytest.param("alice@exa mple.com", id="space-in-domain"),
        pytest.param("alice\x00@example.com", id="nul"),
        pytest.param("alice\r\n@example.com", id="crlf"),
        pytest.param("alice@example.com\r\nBcc: x@y.z", id="header-injection"),
        pytest.param("al\u200bice@example.com", id="zero-width-space"),
        pytest.param("alice@exa\u202emple.com", id="bidi-override"),
        pytest.param("alice\u00ad@example.com", id="soft-hyphen"),
        pytest.param("alice@-example.com", id="label-leading-hyphen"),
        pytest.param("alice@example-.com", id="label-trailing-hyphen"),
        pytest.param("alice@example..com", id="empty-label"),
        pytest.param("alice@example.com.", id="trailing-dot"),
        pytest.param("alice@exam_ple.com", id="underscore-in-domain"),
        pytest.param("alice@[127.0.0.1]", id="ip-literal"),
        pytest.param("alice@" + "a" * 64 + ".com", id="label-over-63"),
        pytest.param("alice\ud800@example.com", id="lone-surrogate"),
    ],
)
def test_normalize_email_rejects(address: str) -> None:
    with pytest.raises(InvalidEmailError):
        normalize_email(address)


@pytest.mark.parametrize("value", [None, 42, b"alice@example.com", ["a@b"]])
def test_normalize_email_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidEmailError):
        normalize_email(value)  # type: ignore[arg-type]


def _address_of_length(length: int) -> str:
    # "a@" + labels of 63 chars separated by dots, padded to exactly `length`.
    domain_len = length - 2
    labels: list[str] = []
    remaining = domain_len
    while remaining > 0:
        size = min(63, remaining if not labels else remaining - 1)
        if labels:
            remaining -= 1
        labels.append("d" * size)
        remaining -= size
    address = "a@" + ".".join(labels)
    assert len(address) == length
    return address


def test_email_length_limit_is_254() -> None:
    longest = _address_of_length(MAX_EMAIL_LENGTH)
    assert MAX_EMAIL_LENGTH == 254
    assert normalize_email(longest) == longest
    with pytest.raises(InvalidEmailError):
        normalize_email(_address_of_length(MAX_EMAIL_LENGTH + 1))


def test_local_part_limit_is_64() -> None:
    ok = "l" * 64 + "@example.com"
    assert normalize_email(ok) == ok
    with pytest.raises(InvalidEmailError):
        normalize_email("l" * 65 + "@example.com")


def test_invalid_email_error_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError) as info:
        normalize_email("nope")
    assert info.value.code == "invalid_email"


# --- PasswordPolicy ---------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = PasswordPolicy()
    assert (policy.min_length, policy.max_length) == (8, 256)


def test_policy_min_length_boundary() -> None:
    policy = PasswordPolicy()
    assert policy.normalize("tk3vq9zm") == "tk3vq9zm"
    with pytest.raises(WeakPasswordError) as info:
        policy.normalize("tk3vq9z")
    assert info.value.reason == "too_short"


def test_policy_max_length_boundary() -> None:
    policy = PasswordPolicy()
    longest = ("correct horse battery staple " * 9)[:256]
    assert policy.normalize(longest) == longest
    with pytest.raises(WeakPasswordError) as info:
        policy.normalize(longest + "x")
    assert info.value.reason == "too_long"


def test_policy_never_trims() -> None:
    assert PasswordPolicy().normalize("  spaces  ") == "  spaces  "
    # Seven visible characters padded with one space is 8 characters: accepted as is.
    assert PasswordPolicy().normalize("passwor ") == "passwor "


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) for ch in text)


def test_policy_applies_nfkc() -> None:
    assert PasswordPolicy().normalize(_fullwidth("pywire-auth1")) == "pywire-auth1"
    decomposed = "cafe\u0301-latte"
    assert PasswordPolicy().normalize(decomposed) == "caf\u00e9-latte"


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("\ufdfa", id="one-char-18-after-nfkc"),  # ARABIC LIGATURE SALLALLAHOU...
        pytest.param("\u2474\u2475\u2476", id="three-parenthesized-digits"),  # "(1)(2)(3)"
        pytest.param("\u3392\u3392\u3393\u3394", id="square-units"),  # MHz MHz GHz THz
    ],
)
def test_policy_length_is_counted_before_nfkc(typed: str) -> None:
    # NFKC makes each of these 8 characters or more; the user typed fewer than 8.
    assert len(normalize_password(typed)) >= 8
    with pytest.raises(WeakPasswordError) as info:
        PasswordPolicy().normalize(typed)
    assert info.value.reason == "too_short"


def test_policy_length_counts_code_points_of_the_nfc_form() -> None:
    # "e" + combining acute is one code point in NFC: 7 typed code points, refused.
    decomposed = "cafe\u0301-lt"
    with pytest.raises(WeakPasswordError):
        PasswordPolicy().normalize(decomposed)
    assert PasswordPolicy().normalize(decomposed + "e") == "caf\u00e9-lte"
    # Eight typed code points that NFKC expands are accepted, and stored expanded.
    assert PasswordPolicy().normalize("\u2474\u2475\u2476\u2477\u2478\u2479\u247a\u247b") == (
        "(1)(2)(3)(4)(5)(6)(7)(8)"
    )


def test_policy_refuses_nul() -> None:
    with pytest.raises(WeakPasswordError):
        PasswordPolicy().normalize("pass\x00word")


def test_policy_empty_is_missing() -> None:
    with pytest.raises(MissingFieldError) as info:
        PasswordPolicy().normalize("")
    assert info.value.code == "missing"


def test_policy_refuses_lone_surrogates() -> None:
    # Emails and names refuse category Cs; a password with a lone surrogate cannot
    # be UTF-8 encoded for Argon2, so the policy must refuse it as invalid input.
    with pytest.raises(InvalidInputError):
        PasswordPolicy().normalize("pass\ud800word")


def test_policy_non_string_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        PasswordPolicy().normalize(12345678)  # type: ignore[arg-type]


def test_policy_whitespace_only_password_is_repetitive_not_missing() -> None:
    # Never trimmed: eight spaces are eight characters, not an empty password; but
    # they are one character repeated.
    with pytest.raises(WeakPasswordError) as info:
        PasswordPolicy().normalize(" " * 8)
    assert info.value.reason == "repetitive"


def test_custom_policy() -> None:
    policy = PasswordPolicy(min_length=12, max_length=12)
    assert policy.normalize("tk3vq9zm-x7w") == "tk3vq9zm-x7w"
    with pytest.raises(WeakPasswordError):
        policy.normalize("tk3vq9zm-x7")
    with pytest.raises(WeakPasswordError):
        policy.normalize("tk3vq9zm-x7wy")


@pytest.mark.parametrize(("min_length", "max_length"), [(10, 9), (0, 8), (-1, 8)])
def test_invalid_policy(min_length: int, max_length: int) -> None:
    with pytest.raises(ValueError, match="min_length"):
        PasswordPolicy(min_length=min_length, max_length=max_length)


def test_weak_password_error_code() -> None:
    with pytest.raises(WeakPasswordError) as info:
        PasswordPolicy().normalize("short")
    assert info.value.code == "weak_password"


def test_normalize_password_never_trims_and_rejects_non_str() -> None:
    assert normalize_password(" x ") == " x "
    assert normalize_password("") == ""
    with pytest.raises(InvalidInputError):
        normalize_password(None)  # type: ignore[arg-type]


# --- normalize_name ---------------------------------------------------------------------


def test_name_is_trimmed_and_nfkc() -> None:
    assert normalize_name("  Ann Example  ") == "Ann Example"
    assert normalize_name("\uff21\uff4e\uff4e") == "Ann"
    assert normalize_name("") == ""


@pytest.mark.parametrize("bad", ["Ann\x00", "Ann\nBob", "An\u200bn", "\u202eAnn", "A\x07nn"])
def test_name_refuses_control_characters(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        normalize_name(bad)


def test_name_length_limit() -> None:
    assert MAX_NAME_LENGTH == 200
    assert normalize_name("n" * 200) == "n" * 200
    assert normalize_name("  " + "n" * 200 + "  ") == "n" * 200
    with pytest.raises(InvalidInputError):
        normalize_name("n" * 201)


def test_name_non_string() -> None:
    with pytest.raises(InvalidInputError):
        normalize_name(None)  # type: ignore[arg-type]
