"""A child process for the chaos tests: read-modify-write commits on one store.

``python -m tests.chaos.store_writer URL N`` increments a counter N times, one
transaction each (the counter, a payload that makes each write a few KB, and
an event), and prints the counter after each commit returns: a printed number
is an acknowledged commit.
"""

from __future__ import annotations

import asyncio
import sys

from state import open_state

PAYLOAD = "story " * 400


async def write(url: str, count: int) -> None:
    async with open_state(url) as store:
        for _ in range(count):
            async with store.transaction("count") as tx:
                doc = await tx.get("meta/counter") or {"n": 0}
                doc["n"] += 1
                doc["payload"] = PAYLOAD
                await tx.put("meta/counter", doc)
                await tx.append_event({"kind": "count", "n": doc["n"]})
            sys.stdout.write(f"{doc['n']}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(write(sys.argv[1], int(sys.argv[2])))
