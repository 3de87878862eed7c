"""units: the path index serves prefix searches whatever the database's collation

Revision ID: 6e2b9f41c7d8
Revises: 4a7f0d2c9e15
Create Date: 2026-12-07 16:00:00

A unit's subtree is found by its path's prefix (``path LIKE '/1/2/%'``): every caller's
scope, review queue, export and figure of a subtree. PostgreSQL serves such a LIKE from a
plain btree index only under the C collation; on a database of any other collation
(en_US.UTF-8, an ICU locale) each of those queries read every unit instead (3 ms for the
country's 63,000 units, measured, on every request that names a subtree). On PostgreSQL the
index is built with varchar_pattern_ops, which serves a prefix under any collation; nothing
orders or compares paths by the collation. SQLite is unchanged.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "6e2b9f41c7d8"
down_revision = "4a7f0d2c9e15"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_units_path", table_name="units")
    op.create_index(
        "ix_units_path", "units", ["path"], postgresql_ops={"path": "varchar_pattern_ops"}
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_units_path", table_name="units")
    op.create_index("ix_units_path", "units", ["path"])
