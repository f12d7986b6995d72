"""008: webhook messages already accepted, shared by every check replica (the replay cache)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "008"
down_revision: str | None = "007"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_replays",
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("route", "digest", name="pk_webhook_replays"),
    )
    op.create_index("ix_webhook_replays_expires_at", "webhook_replays", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_replays_expires_at", table_name="webhook_replays")
    op.drop_table("webhook_replays")
