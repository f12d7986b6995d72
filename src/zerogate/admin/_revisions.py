"""Policy revisions for the console: the activation history and a file-by-file diff.

A revision is a stored bundle, named by its hash; the history lists activations newest first
(the first is what every PDP on the store runs, or is about to). Diffs are unified diffs of
each file that differs, from one revision to another (by default from the active one).
"""

from __future__ import annotations

import difflib
from typing import Any

from zerogate._types import BundleHash
from zerogate.control import Activation, PolicyAdmin

MAX_DIFF_LINES = 4000  # per file: a diff no one can read is cut, and says so


def activation_json(a: Activation) -> dict[str, Any]:
    return {
        "id": a.id,
        "bundle": a.bundle_hash,
        "activated_at": a.activated_at.isoformat(),
        "activated_by": a.activated_by,
    }


async def revision_diff(
    admin: PolicyAdmin, from_hash: BundleHash, to_hash: BundleHash
) -> dict[str, Any]:
    """Every file added, removed or changed from `from_hash` to `to_hash` (NotFound if either
    bundle is not stored)."""
    before = (await admin.load(from_hash)).files
    after = (await admin.load(to_hash)).files
    files = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        lines = list(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )
        cut = len(lines) > MAX_DIFF_LINES
        text = "".join(lines[:MAX_DIFF_LINES]) + ("\n... (cut)\n" if cut else "")
        files.append({"name": name, "change": change, "diff": text})
    return {"from": from_hash, "to": to_hash, "files": files}


__all__ = ["MAX_DIFF_LINES", "activation_json", "revision_diff"]
