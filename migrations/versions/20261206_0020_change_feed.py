"""change feed: triggers tell every server process that trust, status or account data changed

Verification, the revocation bits and the bearer-token cache are kept in memory per process
(app/core/changes.py). What changes them is learnt without a query per request:

- PostgreSQL: each table's statement trigger sends ``NOTIFY passeport_changes, '<topic>'``;
  every process LISTENs on one connection of its own.
- SQLite: each row trigger adds one to the topic's row of ``change_counter``; a process reads
  ``PRAGMA data_version`` (no I/O when nothing was committed) and the counters only when
  another connection committed something.

The passport's access journal coalesces repeated reads: a reader's views of one passport, with
nothing else journaled in between, are one entry with a count and the time of the latest view
(``count``, ``last_at``); what changes something is always its own entry.

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# topic -> tables, with the columns whose update counts (None: any update).
WATCHED: dict[str, list[tuple[str, list[str] | None]]] = {
    "trust": [
        ("territory", None),
        ("signing_key", None),
        ("trusted_issuer", None),
        ("held_trust_list", None),
        ("skill", None),
    ],
    "status": [("status_list", ["bits", "size"])],
    # Not api_token.last_used_at nor account.last_login_at: written in passing, they change
    # nothing a cached principal holds.
    "account": [
        ("api_token", ["revoked_at", "expires_at", "scopes", "account_id", "token_hash"]),
        ("account", ["role", "territory_id", "is_active"]),
        ("structure_membership", None),
    ],
    # What a typed code names (erasure blanks the QR text).
    "credential": [("credential", ["qr_text", "code"])],
}
CHANNEL = "passeport_changes"


def _triggers() -> list[tuple[str, str, str, list[str] | None]]:
    return [
        (topic, table, event, columns)
        for topic, tables in WATCHED.items()
        for table, columns in tables
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def upgrade() -> None:
    with op.batch_alter_table("passport_access_log") as batch:
        batch.add_column(
            sa.Column("count", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch.add_column(sa.Column("last_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "change_counter",
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name=op.f("pk_change_counter")),
    )
    op.bulk_insert(
        sa.table("change_counter", sa.column("topic", sa.String), sa.column("n", sa.BigInteger)),
        [{"topic": topic, "n": 0} for topic in WATCHED],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION passeport_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_ARGV[0]); RETURN NULL; END $$"
        )
        for topic, tables in WATCHED.items():
            for table, columns in tables:
                update = "UPDATE" + (f" OF {', '.join(columns)}" if columns else "")
                op.execute(
                    f"CREATE TRIGGER trg_changed_{table} AFTER INSERT OR {update} OR DELETE"
                    f" OR TRUNCATE ON {table} FOR EACH STATEMENT"
                    f" EXECUTE FUNCTION passeport_changed('{topic}')"
                )
        return
    for topic, table, event, columns in _triggers():
        on = (
            "UPDATE" + (f" OF {', '.join(columns)}" if columns else "")
            if event == "UPDATE"
            else event
        )
        bump = f"UPDATE change_counter SET n = n + 1 WHERE topic = '{topic}'"  # noqa: S608
        op.execute(
            f"CREATE TRIGGER trg_changed_{table}_{event.lower()} AFTER {on} ON {table}"
            f" BEGIN {bump}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for tables in WATCHED.values():
            for table, _ in tables:
                op.execute(f"DROP TRIGGER IF EXISTS trg_changed_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS passeport_changed()")
    else:
        for _, table, event, _ in _triggers():
            op.execute(f"DROP TRIGGER IF EXISTS trg_changed_{table}_{event.lower()}")
    op.drop_table("change_counter")
    with op.batch_alter_table("passport_access_log") as batch:
        batch.drop_column("last_at")
        batch.drop_column("count")
