"""stats release: a fixed period's public figures, computed once and stored

Public figures were computed live at each request: a validation recorded later with a date in a
past month changed that month's document, and two versions of one period, subtracted, gave the
late record's counts. Each fixed period's document is now released once, after the period ends
and a grace period, and served as stored (docs/open-data.md, "Releases").

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_release",
        sa.Column("territory_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territory.id"],
            name=op.f("fk_stats_release_territory_id_territory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("territory_id", "period", name=op.f("pk_stats_release")),
    )


def downgrade() -> None:
    op.drop_table("stats_release")
