"""load the skills frameworks (CRCN 2019, DigComp 2.2, Premiers pas 1)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:00:00

Reference data is part of the schema's contract: validations and credentials name skills by code,
so a database at head always holds them. `passeport framework load` reloads the same files (and is
a no-op when they have not changed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.framework.loader import load_frameworks

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    load_frameworks(op.get_bind())


def downgrade() -> None:
    for table in ("skill_mapping", "skill", "framework_area", "framework_level", "framework"):
        if table == "skill":
            # Premiers pas rows point at CRCN rows of the same table.
            op.execute(sa.text("UPDATE skill SET crcn_code = NULL"))
        op.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (fixed names)
