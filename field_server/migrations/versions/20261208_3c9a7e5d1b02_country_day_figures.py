"""country day figures: the whole country's daily series kept as a row per day

Revision ID: 3c9a7e5d1b02
Revises: a1d9e4c7b350
Create Date: 2026-12-08 00:00:00

The national view's daily series summed the day rows of every province (63 x the days of
the campaign) on each request; country_day_figures holds their sums per scheme and day,
kept by every write (store/figures.py). Filled here from the top units' rows and, on
PostgreSQL, their deltas not folded yet.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3c9a7e5d1b02"
down_revision = "a1d9e4c7b350"
branch_labels = None
depends_on = None

FIGURES = ("visits", "installed_during", "installed")
DATED_ROWS = "SELECT unit_id, day, visits, installed_during, installed FROM unit_day_figures"
DELTA_ROWS = (
    "SELECT unit_id, day, visits, installed_during, installed FROM figure_deltas "
    "WHERE day IS NOT NULL"
)


def upgrade():
    op.create_table(
        "country_day_figures",
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("part", sa.BigInteger(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES),
        sa.PrimaryKeyConstraint("scheme", "day", "part", name=op.f("pk_country_day_figures")),
    )
    # The rows read are the constants above: no input reaches this SQL.
    rows = DATED_ROWS
    if op.get_bind().dialect.name == "postgresql":
        rows += " UNION ALL " + DELTA_ROWS
    op.execute(
        "INSERT INTO country_day_figures (scheme, day, part, visits, installed_during, "  # noqa: S608
        "installed) SELECT u.scheme, r.day, 0, sum(r.visits), sum(r.installed_during), "
        f"sum(r.installed) FROM ({rows}) r JOIN units u ON u.id = r.unit_id "
        "WHERE u.parent_id IS NULL GROUP BY u.scheme, r.day"
    )


def downgrade():
    op.drop_table("country_day_figures")
