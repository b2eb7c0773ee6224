"""Unattended modems: the stalled-SIM watchdog and the on_uncertain policy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

A SIM gets the watchdog's state (``stalled_since``, ``stall_reason``,
``watch_since``), its
thresholds (``stall_after`` seconds, ``stall_errors`` sends in a row), the
optional restart of its daemon (``restart_stalled``, ``restarts``,
``restarted_at``) and Gammu's preventive resets (``reset_every``,
``hard_reset_every``). A message gets ``on_uncertain`` (fail | resend); an
attempt's outcome gains ``uncertain``. Gammu's ``sentitems`` gets an index
for "when did this SIM last send".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OUTCOMES_BEFORE = ("pending", "sent", "error", "taken_back")
OUTCOMES_AFTER = (*OUTCOMES_BEFORE, "uncertain")


def upgrade() -> None:
    op.add_column("sims", sa.Column("stalled_since", sa.DateTime(), nullable=True))
    op.add_column("sims", sa.Column("stall_reason", sa.String(255), nullable=True))
    op.add_column("sims", sa.Column("watch_since", sa.DateTime(), nullable=True))
    op.add_column("sims", sa.Column("stall_after", sa.Integer(), nullable=False, server_default="60"))
    op.add_column("sims", sa.Column("stall_errors", sa.SmallInteger(), nullable=False, server_default="3"))
    op.add_column("sims", sa.Column("restart_stalled", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("sims", sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("sims", sa.Column("restarted_at", sa.DateTime(), nullable=True))
    op.add_column("sims", sa.Column("reset_every", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("sims", sa.Column("hard_reset_every", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "messages",
        sa.Column(
            "on_uncertain",
            sa.Enum("fail", "resend", name="onuncertain"),
            nullable=False,
            server_default="fail",
        ),
    )
    op.alter_column(
        "message_attempts",
        "outcome",
        existing_type=sa.Enum(*OUTCOMES_BEFORE, name="attemptoutcome"),
        type_=sa.Enum(*OUTCOMES_AFTER, name="attemptoutcome"),
        existing_nullable=False,
    )
    # On Gammu's table (bridge/sql/gammu-17.sql has it for new databases): the
    # watchdog asks each health pass when a SIM last sent something.
    if "sentitems" in sa.inspect(op.get_bind()).get_table_names():
        op.execute("CREATE INDEX IF NOT EXISTS sentitems_progress ON sentitems (SenderID(64), InsertIntoDB)")


def downgrade() -> None:
    if "sentitems" in sa.inspect(op.get_bind()).get_table_names():
        op.execute("DROP INDEX IF EXISTS sentitems_progress ON sentitems")
    op.execute("UPDATE message_attempts SET outcome = 'error' WHERE outcome = 'uncertain'")
    op.alter_column(
        "message_attempts",
        "outcome",
        existing_type=sa.Enum(*OUTCOMES_AFTER, name="attemptoutcome"),
        type_=sa.Enum(*OUTCOMES_BEFORE, name="attemptoutcome"),
        existing_nullable=False,
    )
    op.drop_column("messages", "on_uncertain")
    for column in (
        "hard_reset_every",
        "reset_every",
        "restarted_at",
        "restarts",
        "restart_stalled",
        "stall_errors",
        "stall_after",
        "watch_since",
        "stall_reason",
        "stalled_since",
    ):
        op.drop_column("sims", column)
