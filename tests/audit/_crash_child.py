"""The crash test's child: appends under load and reports each seq only after `append` returned.

Run as `python -m tests.audit._crash_child DIR SKEY`. Every acknowledged entry is written to
stdout as `seq n` (one `os.write`, so a line is whole or absent). It stops by itself after
`LIMIT_S` seconds or `LIMIT_ENTRIES` entries, whichever comes first; the test kills it sooner.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from tests.audit._support import ORIGIN, entry
from zerogate.audit import AuditLog, NoteSigner

WORKERS = 32
LIMIT_S = 60.0
LIMIT_ENTRIES = 2_000_000


async def main(directory: Path, skey: str) -> None:
    deadline = time.monotonic() + LIMIT_S
    async with AuditLog.open(
        directory,
        signer=NoteSigner.from_skey(skey),
        origin=ORIGIN,
        checkpoint_interval_s=0.05,
        segment_bytes=256 * 1024,
        max_pending=64,
    ) as log:

        async def worker(w: int) -> None:
            for i in range(LIMIT_ENTRIES // WORKERS):
                if time.monotonic() > deadline:
                    return
                n = w * 1_000_000 + i
                seq = await log.append(entry(n))
                os.write(1, f"{seq} {n}\n".encode())

        await asyncio.gather(*(worker(w) for w in range(WORKERS)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
