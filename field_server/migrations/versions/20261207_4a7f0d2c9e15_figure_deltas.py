"""figure deltas and all-time totals: shared counter rows that queue no writer, and figures
as of today read from one row per unit

Revision ID: 4a7f0d2c9e15
Revises: c8e51a7d3f64
Create Date: 2026-12-07 14:00:00

On PostgreSQL a write adds to the counter rows of a district or a province in place only
when no other transaction is doing so; otherwise it appends its deltas to figure_deltas, for
the next writer to fold (store/figures.py). SQLite adds in place: the table is made there too
(one schema) and stays empty.

unit_figures gains every dated figure summed over all days, and the last day they cover, so
that figures as of a day past it (today's, the usual question) read that one row per unit
instead of a row per day. They are filled here from unit_day_figures.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "4a7f0d2c9e15"
down_revision = "c8e51a7d3f64"
branch_labels = None
depends_on = None

DATED = (
    "households_visited",
    "adults_counted",
    "smartphones",
    "installed",
    "installed_during_campaign",
    "priority_subjects",
    "priority_installed",
    "visits",
    "installed_during",
    "outcome_installed",
    "outcome_partial",
    "outcome_already_installed",
    "outcome_refused",
    "outcome_not_home",
    "outcome_come_back",
    "outcome_no_smartphone",
    "outcome_vacant",
    "outcome_language_barrier",
    "review_pending",
    "review_approved",
    "review_rejected",
    "review_flagged",
)
UNDATED = ("households", "open_conflicts")

# Every name below is one of the constants above: no input reaches this SQL.
FILL = (
    "INSERT INTO unit_figures (unit_id, households, open_conflicts, last_day, "  # noqa: S608
    + ", ".join(DATED)
    + ") SELECT unit_id, 0, 0, max(day), "
    + ", ".join(f"sum({n})" for n in DATED)
    + " FROM unit_day_figures WHERE true GROUP BY unit_id "
    + "ON CONFLICT (unit_id) DO UPDATE SET last_day = excluded.last_day, "
    + ", ".join(f"{n} = excluded.{n}" for n in DATED)
)


def upgrade():
    op.create_table(
        "figure_deltas",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=True),
        sa.Column("last_day", sa.String(length=10), nullable=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in DATED + UNDATED),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_figure_deltas_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figure_deltas")),
    )
    with op.batch_alter_table("figure_deltas", schema=None) as batch_op:
        batch_op.create_index("ix_figure_deltas_unit_id", ["unit_id"], unique=False)
    with op.batch_alter_table("unit_figures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_day", sa.String(length=10), nullable=True))
        for name in DATED:
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            )
    op.execute(FILL)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # The deltas not folded yet would be lost with their table: fold them first.
        for target, keys, names, where in (
            ("unit_day_figures", ("unit_id", "day"), DATED, "day IS NOT NULL"),
            ("unit_figures", ("unit_id",), UNDATED, "day IS NULL"),
        ):
            key_list = ", ".join(keys)
            bind.execute(
                sa.text(
                    f"INSERT INTO {target} ({key_list}, {', '.join(names)}) "  # noqa: S608
                    f"SELECT {key_list}, {', '.join(f'sum({n})' for n in names)} "
                    f"FROM figure_deltas WHERE {where} GROUP BY {key_list} "
                    f"ON CONFLICT ({key_list}) DO UPDATE SET "
                    + ", ".join(f"{n} = {target}.{n} + excluded.{n}" for n in names)
                )
            )
    with op.batch_alter_table("unit_figures", schema=None) as batch_op:
        for name in reversed(DATED):
            batch_op.drop_column(name)
        batch_op.drop_column("last_day")
    with op.batch_alter_table("figure_deltas", schema=None) as batch_op:
        batch_op.drop_index("ix_figure_deltas_unit_id")
    op.drop_table("figure_deltas")
