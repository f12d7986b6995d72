"""Where the master key comes from: `store.secret_key`, or a key file in the data directory.

One machine (`zerogate up`, SQLite) needs nothing configured: a key file is made on first start,
readable by its owner only. Several nodes sharing PostgreSQL must all be given the same
`store.secret_key`, or each would seal with its own and fail to open the others' secrets.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from zerogate.config import Settings
from zerogate.store import Sealer, new_master_key, parse_master_keys

KEY_FILE = "master.key"
log = logging.getLogger("zerogate.store")


def sealer_for(settings: Settings) -> Sealer:
    """The sealer for this deployment; raises ConfigError (`store_secret_key_invalid`)."""
    if settings.store.secret_key:
        return parse_master_keys(str(settings.store.secret_key))
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _create(path)
        if not settings.store_url.startswith("sqlite"):
            log.warning(
                "store.secret_key is not set: sealing with %s; every node must share one key", path
            )
    return parse_master_keys(path.read_text(encoding="ascii").strip())


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(new_master_key() + "\n")
