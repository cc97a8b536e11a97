"""wallet: credential offers for OpenID4VCI, single-use nonces, and the format of a credential

A credential issued to a wallet (an SD-JWT VC, app/wallet/) is a row of ``credential`` too, so
that it takes a slot of the territory's status list and is revoked like a QR credential; its
``format`` tells them apart. ``credential`` carries change-feed triggers (migration 0020): the
column is added with a plain ``add_column``, which keeps them.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "credential",
        sa.Column(
            "format",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            server_default="pn1",
            nullable=False,
        ),
    )
    op.create_table(
        "wallet_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("passport_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("pin_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("skill_codes", sa.JSON(), nullable=False),
        sa.Column("with_name", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_wallet_offer_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["passport_id"], ["passport.id"], name=op.f("fk_wallet_offer_passport_id_passport")
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territory.id"], name=op.f("fk_wallet_offer_territory_id_territory")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_offer")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_wallet_offer_code_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_wallet_offer_token_hash")),
    )
    op.create_index(
        op.f("ix_wallet_offer_passport_id"), "wallet_offer", ["passport_id"], unique=False
    )
    op.create_index(
        op.f("ix_wallet_offer_territory_id"), "wallet_offer", ["territory_id"], unique=False
    )
    op.create_table(
        "wallet_nonce",
        sa.Column("nonce_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_wallet_nonce")),
    )
    op.create_index(
        op.f("ix_wallet_nonce_expires_at"), "wallet_nonce", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_nonce_expires_at"), table_name="wallet_nonce")
    op.drop_table("wallet_nonce")
    op.drop_index(op.f("ix_wallet_offer_territory_id"), table_name="wallet_offer")
    op.drop_index(op.f("ix_wallet_offer_passport_id"), table_name="wallet_offer")
    op.drop_table("wallet_offer")
    # Not batch_alter_table: on SQLite it would rebuild the table without its change-feed
    # triggers. Both databases drop a column in place (SQLite since 3.35).
    op.execute("ALTER TABLE credential DROP COLUMN format")
