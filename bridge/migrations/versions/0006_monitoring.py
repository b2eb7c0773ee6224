"""Monitoring: the worker's heartbeat, alerts, their channels and e-mails.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

``worker_passes`` (when each job last finished a pass), ``alerts`` (one row
per spell of trouble; ``open_key`` is unique while open), ``alert_channels``
(e-mail, webhook, SMS), ``alert_emails`` (e-mails stored before they are
sent) and ``messages.avoid_sim_id`` (an alert text never leaves through the
SIM it is about). Self-contained: it does not import the models.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    op.create_table(
        "worker_passes",
        sa.Column("job", sa.String(32), primary_key=True),
        sa.Column("last_pass_at", sa.DateTime(), nullable=False),
        **OPTIONS,
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
        sa.Column("open_key", sa.String(100), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("notified_at", sa.DateTime(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.UniqueConstraint("open_key"),
        **OPTIONS,
    )
    op.create_index("ix_alerts_opened", "alerts", ["opened_at"])
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("smtp_host", sa.String(255), nullable=True),
        sa.Column("smtp_port", sa.Integer(), nullable=True),
        sa.Column("smtp_security", sa.String(8), nullable=True),
        sa.Column("smtp_login", sa.String(255), nullable=True),
        sa.Column("smtp_password", sa.String(255), nullable=True),
        sa.Column("mail_from", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        **OPTIONS,
    )
    op.create_table(
        "alert_emails",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "channel_id", sa.Integer(), sa.ForeignKey("alert_channels.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("alert_id", sa.BigInteger(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(512), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        **OPTIONS,
    )
    op.create_index("ix_alert_emails_due", "alert_emails", ["status", "next_attempt_at"])
    op.add_column("messages", sa.Column("avoid_sim_id", sa.Integer(), nullable=True))
    op.create_foreign_key(None, "messages", "sims", ["avoid_sim_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    # InnoDB named the key; find it rather than guess.
    for key in sa.inspect(op.get_bind()).get_foreign_keys("messages"):
        if key["constrained_columns"] == ["avoid_sim_id"] and key["name"]:
            op.drop_constraint(key["name"], "messages", type_="foreignkey")
    op.drop_column("messages", "avoid_sim_id")
    op.drop_table("alert_emails")
    op.drop_table("alert_channels")
    op.drop_table("alerts")
    op.drop_table("worker_passes")
