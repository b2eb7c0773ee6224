"""An admin's choice of SIM for a message (issue 12, the send form).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

``messages.only_sim_id``: dispatch hands the message to this SIM only (NULL:
any SIM the user may use). Self-contained: it does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("only_sim_id", sa.Integer(), nullable=True))
    op.create_foreign_key(None, "messages", "sims", ["only_sim_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    # InnoDB named the key; find it rather than guess.
    for key in sa.inspect(op.get_bind()).get_foreign_keys("messages"):
        if key["constrained_columns"] == ["only_sim_id"] and key["name"]:
            op.drop_constraint(key["name"], "messages", type_="foreignkey")
    op.drop_column("messages", "only_sim_id")
