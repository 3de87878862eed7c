"""visits: an index for the ward dashboard's canvassers' table

Revision ID: 5b8e2d7c41a9
Revises: e7a3c19d4b20
Create Date: 2026-12-06 23:30:00

A ward's visits by canvasser, with every column the table's figures read (void, review
state, flags, installs during the visit, time), so the grouped read of
store/canvasser_figures.py scans this index alone, in its order, on both databases.

On a SQLite database that holds statistics (an operator ran ANALYZE), the new index gets
its own at once: without them SQLite takes it for a very selective one and would read the
review queue's first page through it, sorting the whole ward, instead of through
ix_visits_queue (measured at 50,000 visits in a ward: 150 ms instead of 8).
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5b8e2d7c41a9"
down_revision = "e7a3c19d4b20"
branch_labels = None
depends_on = None

COLUMNS = [
    "ward_id",
    "canvasser_id",
    "voided",
    "review_status",
    "flags",
    "installed_during",
    "visited_at",
]


def upgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index("ix_visits_ward_canvasser", COLUMNS, unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        analysed = bind.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).first()
        if analysed is not None:
            bind.exec_driver_sql("ANALYZE ix_visits_ward_canvasser")


def downgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_ward_canvasser")
