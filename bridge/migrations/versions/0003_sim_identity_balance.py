"""SIM identity, quarantine, removal and USSD balance checks; SIM events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

New columns on ``sims`` (all nullable: existing SIMs have their identity
recorded on the next sight of their daemon), the ``sim_events`` table that
alerts read, and the ``balance_checks`` history. Frozen: it does not
import the models.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def sim_columns() -> list[sa.Column]:
    return [
        sa.Column("imsi", sa.String(35), nullable=True),
        sa.Column("imei", sa.String(35), nullable=True),
        sa.Column("identity_since", sa.DateTime(), nullable=True),
        sa.Column("new_imsi", sa.String(35), nullable=True),
        sa.Column("new_imei", sa.String(35), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(), nullable=True),
        sa.Column("quarantine_reason", sa.String(255), nullable=True),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("balance_code", sa.String(32), nullable=True),
        sa.Column("balance_every", sa.SmallInteger(), nullable=True),
        sa.Column("balance_pattern", sa.String(255), nullable=True),
        sa.Column("balance_low", sa.Numeric(12, 2), nullable=True),
    ]


def upgrade() -> None:
    for column in sim_columns():
        op.add_column("sims", column)

    op.create_table(
        "sim_events",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("sim_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], ondelete="CASCADE"),
        **OPTIONS,
    )
    op.create_index("ix_sim_events_sim", "sim_events", ["sim_id", "id"])
    op.create_index("ix_sim_events_kind", "sim_events", ["kind", "id"])

    op.create_table(
        "balance_checks",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("sim_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ussd_status", sa.SmallInteger(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=True),
        sa.Column("error", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], ondelete="CASCADE"),
        **OPTIONS,
    )
    op.create_index("ix_balance_checks_sim", "balance_checks", ["sim_id", "id"])
    op.create_index("ix_balance_checks_state", "balance_checks", ["state", "sim_id"])


def downgrade() -> None:
    op.drop_table("balance_checks")
    op.drop_table("sim_events")
    for column in reversed(sim_columns()):
        op.drop_column("sims", column.name)
