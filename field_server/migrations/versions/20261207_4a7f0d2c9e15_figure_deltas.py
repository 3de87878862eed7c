"""figure deltas: the shared counter rows of districts and provinces no longer queue writers

Revision ID: 4a7f0d2c9e15
Revises: c8e51a7d3f64
Create Date: 2026-12-07 14:00:00

On PostgreSQL a write adds to the counter rows of a district or a province in place only
when no other transaction is doing so; otherwise it appends its deltas here, for the next
writer to fold (store/figures.py). SQLite adds in place: the table is made there too (one
schema) and stays empty.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "4a7f0d2c9e15"
down_revision = "c8e51a7d3f64"
branch_labels = None
depends_on = None

FIGURES = (
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
    "households",
    "open_conflicts",
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
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_figure_deltas_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figure_deltas")),
    )
    with op.batch_alter_table("figure_deltas", schema=None) as batch_op:
        batch_op.create_index("ix_figure_deltas_unit_id", ["unit_id"], unique=False)


def downgrade():
    # The deltas not folded yet would be lost with the table: fold them first.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        dated = [n for n in FIGURES if n not in ("households", "open_conflicts")]
        for target, keys, names, where in (
            ("unit_day_figures", ("unit_id", "day"), dated, "day IS NOT NULL"),
            ("unit_figures", ("unit_id",), ("households", "open_conflicts"), "day IS NULL"),
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
    with op.batch_alter_table("figure_deltas", schema=None) as batch_op:
        batch_op.drop_index("ix_figure_deltas_unit_id")
    op.drop_table("figure_deltas")
