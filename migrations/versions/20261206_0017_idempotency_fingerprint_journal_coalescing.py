"""idempotency fingerprint, journal coalescing

A validation sent with an Idempotency-Key keeps the sha256 of its route, passport and canonical
body, so a retry with another body under the same key is refused instead of answered with the
first validation. Journal rows for refusals anyone can provoke are counted per address and
window (count, last_at, coalesce_key) instead of written one per request.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("validation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("count", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(sa.Column("last_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("coalesce_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_audit_event_coalesce_key"), ["coalesce_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_event_coalesce_key"), type_="unique")
        batch_op.drop_column("coalesce_key")
        batch_op.drop_column("last_at")
        batch_op.drop_column("count")
    with op.batch_alter_table("validation", schema=None) as batch_op:
        batch_op.drop_column("request_hash")
