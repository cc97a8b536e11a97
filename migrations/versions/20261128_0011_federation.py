"""federation: the trust store, the held trust list, the status list cache, the hub's lists

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 16:31:45.755134
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("iss", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status_uris", sa.JSON(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_member")),
        sa.UniqueConstraint("iss", name=op.f("uq_federation_member_iss")),
    )
    op.create_table(
        "held_trust_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hub", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_trust_list")),
    )
    op.create_table(
        "published_trust_list",
        sa.Column("sequence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_published_trust_list")),
    )
    op.create_table(
        "status_list_cache",
        sa.Column("uri", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("iss", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_status_list_cache")),
    )
    with op.batch_alter_table("status_list_cache", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_list_cache_iss"), ["iss"], unique=False)

    op.create_table(
        "trusted_issuer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("iss", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("fingerprints", sa.JSON(), nullable=False),
        sa.Column("status_uris", sa.JSON(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by_account_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_issuer")),
        sa.UniqueConstraint("iss", name=op.f("uq_trusted_issuer_iss")),
    )


def downgrade() -> None:
    op.drop_table("trusted_issuer")
    with op.batch_alter_table("status_list_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_list_cache_iss"))

    op.drop_table("status_list_cache")
    op.drop_table("published_trust_list")
    op.drop_table("held_trust_list")
    op.drop_table("federation_member")
