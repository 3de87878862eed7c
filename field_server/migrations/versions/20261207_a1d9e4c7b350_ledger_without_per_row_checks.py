"""push ledger: no per-row foreign-key checks, and an index of the open rejections only

Revision ID: a1d9e4c7b350
Revises: 6e2b9f41c7d8
Create Date: 2026-12-07 14:00:00

Every push writes one ledger row (``device_mutations``) per mutation. Each row named its
device, user and ward through foreign keys, and PostgreSQL checks a foreign key with one
query per row and key: 1,500 queries for a push of 500, measured at 18 ms of the ledger's
25 ms insert (against 7 ms without them). The rows they named are the device that sent the
batch (its row is updated in the same transaction), its owner, and a ward read in that
transaction; the server deletes no device, user or unit (they are revoked, deactivated or
renamed), so nothing the checks guarded can happen. The ledger is the one table written
once per mutation whose references are all of that kind: visits and households keep theirs.

The index on (status, ward_id) went into every ledger row, though only GET /rejections
reads it, for the few rows still rejected and not re-applied. It is replaced by an index of
just those rows, in that list's order (newest first), which an applied mutation never
enters.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a1d9e4c7b350"
down_revision = "6e2b9f41c7d8"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'rejected' AND resolved_at IS NULL")
REFERENCES = (
    ("fk_device_mutations_device_id_devices", "devices", "device_id", "device_id"),
    ("fk_device_mutations_user_id_users", "users", "user_id", "id"),
    ("fk_device_mutations_ward_id_units", "units", "ward_id", "id"),
)


def upgrade():
    # Batch mode: SQLite drops a foreign key by rebuilding the table.
    with op.batch_alter_table("device_mutations", schema=None) as batch_op:
        for name, _, _, _ in REFERENCES:
            batch_op.drop_constraint(name, type_="foreignkey")
        batch_op.drop_index("ix_device_mutations_status_ward")
        batch_op.create_index(
            "ix_device_mutations_open_rejections",
            ["received_at", "device_id", "mutation_id"],
            unique=False,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade():
    with op.batch_alter_table("device_mutations", schema=None) as batch_op:
        batch_op.drop_index("ix_device_mutations_open_rejections")
        batch_op.create_index("ix_device_mutations_status_ward", ["status", "ward_id"])
        for name, referred, column, referred_column in REFERENCES:
            batch_op.create_foreign_key(name, referred, [column], [referred_column])
