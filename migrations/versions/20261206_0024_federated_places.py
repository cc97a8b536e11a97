"""federated places: the national directory's signed documents of places

A hub collects each member's public places, signed by the member (docs/directory.md); a member
receives its neighbours' from the hub. One document per issuer, kept as received.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federated_places",
        sa.Column("iss", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("territory_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("territory_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("iss", name=op.f("pk_federated_places")),
    )


def downgrade() -> None:
    op.drop_table("federated_places")
