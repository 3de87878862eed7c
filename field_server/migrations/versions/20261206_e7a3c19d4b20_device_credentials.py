"""device credentials: a hash of each device's secret (API v1.1)

Revision ID: e7a3c19d4b20
Revises: c4f1a0b7e912
Create Date: 2026-12-06 20:10:00

Devices registered before this revision keep a null hash: the first secret their current
owner presents is taken (docs/api-auth.md, "Device credentials").
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e7a3c19d4b20"
down_revision = "c4f1a0b7e912"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_hash", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("secret_hash")
