"""units: each unit's effective adult population, kept instead of summed per request

Revision ID: 9d4e1f6a2b37
Revises: 5b8e2d7c41a9
Create Date: 2026-12-07 09:00:00

The figures (API §6) use a unit's own adult population, else the sum of its children's.
/stats summed that over the unit's siblings' subtrees at every request, which grew with the
tree (a province's siblings are the whole country). The column holds the sum, kept by
store/figures.py whenever units change; this revision adds it and fills it from the stored
tree, level by level from the bottom (a unit's children are always on a lower level).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9d4e1f6a2b37"
down_revision = "5b8e2d7c41a9"
branch_labels = None
depends_on = None

LEVELS_BOTTOM_UP = ("group", "ward", "district", "province")


def upgrade():
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("effective_population", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    for level in LEVELS_BOTTOM_UP:
        bind.execute(
            sa.text(
                "UPDATE units SET effective_population = COALESCE(adult_population, "
                "(SELECT SUM(c.effective_population) FROM units AS c "
                "WHERE c.parent_id = units.id)) WHERE level = :level"
            ),
            {"level": level},
        )


def downgrade():
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("effective_population")
