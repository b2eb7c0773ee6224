"""Pacing and quiet hours: per-SIM sending windows, the recipients a SIM has
texted in a period, the slot an attempt was given, a user's send window and
a message's opt-out of it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Only additions: existing SIMs have no pacing (every limit NULL, jitter 0),
existing users no quiet hours, and existing messages follow them (true),
which changes nothing while no user has a window.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
SIM_LIMITS = ("max_per_minute", "max_per_hour", "max_per_day", "max_recipients_per_month")


def upgrade() -> None:
    for name in SIM_LIMITS:
        op.add_column("sims", sa.Column(name, sa.Integer(), nullable=True))
    op.add_column("sims", sa.Column("jitter", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("users", sa.Column("send_window_start", sa.Time(), nullable=True))
    op.add_column("users", sa.Column("send_window_end", sa.Time(), nullable=True))
    op.add_column("users", sa.Column("timezone", sa.String(64), nullable=True))
    op.add_column(
        "messages", sa.Column("quiet_hours", sa.Boolean(), server_default=sa.text("1"), nullable=False)
    )
    op.add_column("message_attempts", sa.Column("send_after", mysql.DATETIME(fsp=6), nullable=True))
    op.create_index("ix_attempts_sim_finished", "message_attempts", ["sim_id", "finished_at"])
    op.create_table(
        "sim_recipients",
        sa.Column("sim_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("sim_id", "period_start", "recipient"),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], ondelete="CASCADE"),
        **OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("sim_recipients")
    op.drop_index("ix_attempts_sim_finished", table_name="message_attempts")
    op.drop_column("message_attempts", "send_after")
    op.drop_column("messages", "quiet_hours")
    for name in ("timezone", "send_window_end", "send_window_start"):
        op.drop_column("users", name)
    for name in ("jitter", *reversed(SIM_LIMITS)):
        op.drop_column("sims", name)
