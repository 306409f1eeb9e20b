"""One OS process hammering one throttle key, for the multi-process throttle test.

Run as ``python -m tests.backends._throttle_worker DB_URL LIMIT HITS``: builds a
:class:`SQLAlchemyThrottle` on ``DB_URL`` (the table may not exist yet), prints
``ready``, waits for a line on stdin (so every process starts together), fires
``HITS`` concurrent hits at one key and prints how many were allowed.
"""

from __future__ import annotations

import asyncio
import sys

from pywire_auth.throttles.sql import SQLAlchemyThrottle

KEY = "login:email:victim@example.com"


async def _hammer(url: str, limit: int, hits: int) -> int:
    throttle = SQLAlchemyThrottle(url)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        hammering = (throttle.hit(KEY, limit=limit, window=600) for _ in range(hits))
        answers = await asyncio.gather(*hammering)
        return sum(answers)
    finally:
        await throttle.close()


def _main(argv: list[str]) -> None:
    allowed = asyncio.run(_hammer(argv[1], int(argv[2]), int(argv[3])))
    print(f"allowed {allowed}", flush=True)


if __name__ == "__main__":
    _main(sys.argv)
