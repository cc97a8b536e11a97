"""national stats: each federation member's latest signed figures, kept by the hub

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 17:33:23.790795
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_stats",
        sa.Column("member_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("iss", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["federation_member.id"],
            name=op.f("fk_member_stats_member_id_federation_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_stats")),
    )


def downgrade() -> None:
    op.drop_table("member_stats")
