"""The results cache as sqlite files written before Alembic hold it: meta and records (such files are stamped here)."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("meta", sa.Column("name", sa.Text, primary_key=True), sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "records",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("pair", sa.Text, nullable=False, server_default=""),
        sa.Column("hardware", sa.Text, nullable=False),
        sa.Column("software", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("stored_at", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("records_pair", "records", ["kind", "pair"])
