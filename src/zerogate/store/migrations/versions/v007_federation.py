"""007: links between local users and their accounts at upstream OpenID providers (federation)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "007"
down_revision: str | None = "006"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "federated_identities",
        sa.Column("upstream", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_login_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("upstream", "subject", name="pk_federated_identities"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_federated_identities_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_federated_identities_user_id", "federated_identities", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_federated_identities_user_id", table_name="federated_identities")
    op.drop_table("federated_identities")
