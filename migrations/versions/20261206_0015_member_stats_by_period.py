"""member stats by period: the hub keeps each member's signed figures per fixed public period

The figures a hub held were each member's latest document, of a period the member chose (24
months up to the day). Public figures are now by calendar month, quarter and year, and the hub
sums its members' documents of the same period, so it keeps one per member and period. The rows
held before were of periods that no longer exist publicly: they are dropped, and the next
`passeport federation stats collect` fetches the documents again.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _table(with_period: bool) -> None:
    columns = [
        sa.Column("member_id", sa.Integer(), autoincrement=False, nullable=False),
        *(
            [sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False)]
            if with_period
            else []
        ),
        sa.Column("iss", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    ]
    op.create_table(
        "member_stats",
        *columns,
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["federation_member.id"],
            name=op.f("fk_member_stats_member_id_federation_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "member_id", *(["period"] if with_period else []), name=op.f("pk_member_stats")
        ),
    )


def upgrade() -> None:
    op.drop_table("member_stats")
    _table(with_period=True)


def downgrade() -> None:
    op.drop_table("member_stats")
    _table(with_period=False)
