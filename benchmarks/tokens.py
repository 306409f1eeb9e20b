"""JWT issue/verify: TokenIssuer and LocalIdP against joserfc's own calls doing the same work.

    .venv/bin/python benchmarks/tokens.py [--seconds 0.1] [--rounds 15] [--algorithms HS256 ...]

For each algorithm (HS256 with a secret, RS256 with a 2048-bit RSA key, EdDSA with
an Ed25519 key, the keys generated at start), prints, measured in this run on this
machine, single-threaded tight loops:
  * ``TokenIssuer.issue`` against raw issue: ``jws.serialize_compact`` with the same
    header (alg, typ, kid) and key, of ``json.dumps`` of the same claims;
  * ``TokenIssuer.verify`` against raw verify: ``jws.deserialize_compact`` (signature
    check, algorithm pinned to the key's) + ``json.loads`` of the payload;
  * ``LocalIdP.issue_id_token`` / ``verify_id_token`` against the same raw calls;
each as the median ops/s of many short interleaved rounds (A/B, B/A, ...) and the
median of the per-round ratios library/raw (goal >= 0.8). Time is this thread's CPU
time (``time.thread_time``), so other processes taking the CPU away mid-loop do not
count against either side; the garbage collector stays on, as in a server.

joserfc warns (``SecurityWarning``) on every use of the name ``EdDSA``, which RFC
9864 deprecates; the raw side runs with that warning filtered out, as a service
accepting EdDSA would. The library pins EdDSA to Ed25519 and does not warn.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import warnings
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import OctKey, OKPKey, RSAKey

from pywire_auth import LocalIdP, TokenIssuer

SECRET = "3f9a1c7e5b2d4086c1e9a7f3b5d20c84"
# A typical session-derived token: the user's claims ride along with the registered ones.
CLAIMS = {"email": "ann@example.com", "name": "Ann", "role": ["admin", "editor"]}
GOAL = 0.8
ALL_ALGORITHMS = ["HS256", "RS256", "EdDSA"]


# CPU time of this thread: immune to other processes preempting the loop.
clock = time.thread_time


def ops_per_second(fn: Callable[[], object], iterations: int) -> float:
    gc.collect()
    start = clock()
    for _ in range(iterations):
        fn()
    return iterations / (clock() - start)


def calibrate(fn: Callable[[], object], seconds: float) -> int:
    """Iterations of ``fn`` that take about ``seconds`` (after a warm-up)."""
    iterations = 50
    while True:
        start = clock()
        for _ in range(iterations):
            fn()
        elapsed = clock() - start
        if elapsed >= seconds / 4:
            return max(1, int(iterations * seconds / elapsed))
        iterations *= 4


def compare(
    name: str,
    library: Callable[[], object],
    raw: Callable[[], object],
    args: argparse.Namespace,
) -> tuple[str, float, float, float]:
    n_lib, n_raw = calibrate(library, args.seconds), calibrate(raw, args.seconds)
    libs, raws, ratios = [], [], []
    for r in range(args.rounds):
        if r % 2 == 0:
            libs.append(ops_per_second(library, n_lib))
            raws.append(ops_per_second(raw, n_raw))
        else:
            raws.append(ops_per_second(raw, n_raw))
            libs.append(ops_per_second(library, n_lib))
        ratios.append(libs[-1] / raws[-1])
    lib, base, ratio = statistics.median(libs), statistics.median(raws), statistics.median(ratios)
    print(
        f"  {name:<26} library {lib:>8,.0f}/s ({1e6 / lib:5.1f} us)  "
        f"raw {base:>8,.0f}/s ({1e6 / base:5.1f} us)  = {ratio:.3f} x raw "
        f"[{min(ratios):.2f}..{max(ratios):.2f}]  {'met' if ratio >= GOAL else 'MISSED'}",
        flush=True,
    )
    return name, lib, base, ratio


def keys_for(alg: str) -> tuple[str | None, bytes, OctKey | RSAKey | OKPKey]:
    """The issuer's secret or private key (PEM), and the same key for raw joserfc."""
    if alg == "HS256":
        return SECRET, b"", OctKey.import_key(SECRET.encode())
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if alg == "RS256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    raw = RSAKey.import_key(pem) if alg == "RS256" else OKPKey.import_key(pem)
    return None, pem, raw


def run_algorithm(alg: str, args: argparse.Namespace) -> list[tuple[str, float, float, float]]:
    secret, pem, key = keys_for(alg)
    issuer = TokenIssuer(secret, issuer="bench-app", audience="bench-api", private_keys=pem or ())
    idp = LocalIdP(
        secret=secret or "", issuer="bench-app", audience="bench-api", private_keys=pem or ()
    )
    assert issuer.algorithm == alg
    algorithms = [alg]
    header = {"alg": alg, "typ": "JWT", "kid": issuer.kid}

    token = issuer.issue("user-1", claims=CLAIMS)
    claims = issuer.verify(token)
    assert claims is not None
    # The raw side signs exactly the claims the issuer put in its token.
    body = dict(claims)

    def raw_issue() -> str:
        payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        return jws.serialize_compact(header, payload, key, algorithms=algorithms)

    def raw_verify() -> object:
        obj = jws.deserialize_compact(token, key, algorithms=algorithms)
        return json.loads(obj.payload or b"")

    # Sanity: both sides produce and accept the same kind of token.
    assert raw_verify() == claims
    assert issuer.verify(raw_issue()) == claims
    assert idp.verify_id_token(idp.issue_id_token(user_id="user-1", claims=CLAIMS)) is not None

    print(
        f"tokens: {alg}, {len(token)}-char token; {args.rounds} interleaved rounds of "
        f"~{args.seconds} CPU-s per side; ops per CPU-second (goal: library >= {GOAL} x raw)"
    )
    return [
        compare(
            "TokenIssuer.issue",
            lambda: issuer.issue("user-1", claims=CLAIMS),
            raw_issue,
            args,
        ),
        compare("TokenIssuer.verify", lambda: issuer.verify(token), raw_verify, args),
        compare(
            "LocalIdP.issue_id_token",
            lambda: idp.issue_id_token(user_id="user-1", claims=CLAIMS),
            raw_issue,
            args,
        ),
        compare("LocalIdP.verify_id_token", lambda: idp.verify_id_token(token), raw_verify, args),
    ]


def run(args: argparse.Namespace) -> None:
    # Raw joserfc warns on every EdDSA call; a service accepting EdDSA filters it.
    warnings.filterwarnings("ignore", category=SecurityWarning)
    results: list[tuple[str, float, float, float]] = []
    for alg in args.algorithms:
        results += [(f"{alg} {n}", lib, raw, r) for n, lib, raw, r in run_algorithm(alg, args)]
    missed = [name for name, _lib, _raw, ratio in results if ratio < GOAL]
    print(f"goal >= {GOAL} x raw: " + (f"MISSED by {', '.join(missed)}" if missed else "met"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=0.1, help="per measurement and side")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--algorithms",
        nargs="+",
        default=["HS256", "RS256", "EdDSA"],
        choices=["HS256", "RS256", "EdDSA"],
    )
    run(parser.parse_args())
