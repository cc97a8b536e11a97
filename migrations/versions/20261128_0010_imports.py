"""imports: a credential's skill is imported once per passport

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 16:30:40.354253
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("validation", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_validation_import",
            ["passport_id", "source_issuer", "source_credential_id", "skill_code"],
        )


def downgrade() -> None:
    with op.batch_alter_table("validation", schema=None) as batch_op:
        batch_op.drop_constraint("uq_validation_import", type_="unique")
