"""offline mediation: what a mediator recorded on a device while offline, and opening replays

The mediator's page keeps working offline and sends what was recorded later (docs/frontend.md,
"Offline mediation"). A validation or a passport sent from that queue says when the device
recorded it (``recorded_offline_at``); ``created_at`` stays the moment it reached the server. A
passport may now be opened with an Idempotency-Key, kept with the request's fingerprint, so a
replay after a lost answer opens nothing twice.

Plain ``add_column`` and ``create_index``, no batch rebuild (which on SQLite drops a table's
change-feed triggers, migration 0020; these two tables have none today, and stay safe if they
get some).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "validation", sa.Column("recorded_offline_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "passport", sa.Column("recorded_offline_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "passport",
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    op.add_column(
        "passport",
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.create_index(
        "ix_passport_idempotency",
        "passport",
        ["consent_account_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_passport_idempotency", table_name="passport")
    # A batch rebuild on SQLite: neither table has change-feed triggers (0020's WATCHED).
    with op.batch_alter_table("passport") as batch:
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
        batch.drop_column("recorded_offline_at")
    with op.batch_alter_table("validation") as batch:
        batch.drop_column("recorded_offline_at")
