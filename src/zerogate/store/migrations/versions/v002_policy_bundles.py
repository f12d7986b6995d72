"""002: content-addressed policy bundles and their activation history."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "002"
down_revision: str | None = "001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "policy_bundles",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_policy_bundles"),
    )
    op.create_table(
        "policy_activations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("bundle_hash", sa.String(64), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_policy_activations"),
        sa.ForeignKeyConstraint(
            ["bundle_hash"],
            ["policy_bundles.hash"],
            name="fk_policy_activations_bundle_hash_policy_bundles",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_policy_activations_bundle_hash", "policy_activations", ["bundle_hash"])


def downgrade() -> None:
    op.drop_index("ix_policy_activations_bundle_hash", table_name="policy_activations")
    op.drop_table("policy_activations")
    op.drop_table("policy_bundles")
