"""observatory: the verification tally and territories' open-data choice

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 16:19:32.853880
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_tally",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "result", "channel", name=op.f("pk_verification_tally")),
    )
    op.create_table(
        "stats_publication",
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_account_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changed_by_account_id"],
            ["account.id"],
            name=op.f("fk_stats_publication_changed_by_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territory.id"],
            name=op.f("fk_stats_publication_territory_id_territory"),
        ),
        sa.PrimaryKeyConstraint("territory_id", name=op.f("pk_stats_publication")),
    )


def downgrade() -> None:
    op.drop_table("stats_publication")
    op.drop_table("verification_tally")
