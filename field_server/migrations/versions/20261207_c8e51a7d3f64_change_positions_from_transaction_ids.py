"""change positions from transaction ids on PostgreSQL: the change_xid_shift table

Revision ID: c8e51a7d3f64
Revises: 9d4e1f6a2b37
Create Date: 2026-12-07 12:00:00

On PostgreSQL a write transaction's change position is now its transaction id plus a shift
(store/changes.py), instead of the next value of the one-row change_counter, which every
writer queued on. The shift is set so that every new position lies above every position
stamped before (the counter's values), so the cursors tablets hold stay valid. SQLite keeps
its counter; the table is made there too (one schema) and stays empty.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c8e51a7d3f64"
down_revision = "9d4e1f6a2b37"
branch_labels = None
depends_on = None

# The highest position stamped so far, in any table tablets pull (and the counter's).
HIGHEST = (
    "SELECT COALESCE(max(m), 0) FROM ("
    "SELECT max(change_seq) FROM units UNION ALL SELECT max(change_seq) FROM assignments "
    "UNION ALL SELECT max(change_seq) FROM households "
    "UNION ALL SELECT max(change_seq) FROM visits "
    "UNION ALL SELECT max(value) FROM change_counter) AS highest(m)"
)


def upgrade():
    op.create_table(
        "change_xid_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shift", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_xid_shift")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    highest = bind.execute(sa.text(HIGHEST)).scalar_one()
    bind.execute(
        sa.text(
            "INSERT INTO change_xid_shift (id, shift) SELECT 1, GREATEST(0, :highest + 1 "
            "- CAST(CAST(pg_current_xact_id() AS text) AS bigint))"
        ),
        {"highest": highest},
    )


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Back to the counter: it must start above every position stamped meanwhile.
        highest = bind.execute(sa.text(HIGHEST)).scalar_one()
        bind.execute(
            sa.text(
                "INSERT INTO change_counter (id, value) VALUES (1, :highest) "
                "ON CONFLICT (id) DO UPDATE SET value = GREATEST(change_counter.value, "
                "excluded.value)"
            ),
            {"highest": highest},
        )
    op.drop_table("change_xid_shift")
