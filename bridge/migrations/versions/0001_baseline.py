"""Baseline: the bridge's tables as smsbridge 0.1.0 made them.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Equal to 0.1.0's ``sql/bridge.sql`` (frozen in ``tests/data/bridge-0.1.0.sql``),
table by table and constraint by constraint in the same order, so that InnoDB
names the implicit keys (``messages_ibfk_2``, ``login``) the same way in a
database made by ``db init`` now and in one made by 0.1.0. A database of
0.1.0 is stamped with this revision instead of running it. Frozen: like
every revision, it must not import the models, which move on.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Explicit, so a server whose defaults differ (MyISAM, another collation)
# still gets tables that join with Gammu's and take part in transactions.
# Typed as create_table's **kw: a dict[str, str] might, to mypy, also fill its
# bool keyword if_not_exists.
OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
MESSAGE_STATUSES = (
    "queued",
    "dispatched",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "expired",
    "opted_out",
    "cancelled",
)
ATTEMPT_OUTCOMES = ("pending", "sent", "error", "taken_back")


def upgrade() -> None:
    op.create_table(
        "opt_out_events",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **OPTIONS,
    )
    op.create_index("ix_opt_out_events_phone", "opt_out_events", ["phone"])

    op.create_table(
        "opt_outs",
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
        **OPTIONS,
    )

    op.create_table(
        "report_cells",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("chart", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **OPTIONS,
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
        **OPTIONS,
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("key_hash"),
        **OPTIONS,
    )

    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("match_kind", sa.String(8), nullable=False),
        sa.Column("pattern", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("argument", sa.String(2048), nullable=True),
        sa.Column("secret", sa.String(64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        **OPTIONS,
    )
    op.create_index("ix_rules_position", "rules", ["position"])

    op.create_table(
        "send_requests",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "idempotency_key"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        **OPTIONS,
    )

    op.create_table(
        "sims",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("monthly_limit", sa.Integer(), nullable=True),
        sa.Column("billing_day", sa.SmallInteger(), nullable=False),
        sa.Column("device", sa.String(255), nullable=True),
        sa.Column("connection", sa.String(32), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("delivery_report", sa.Boolean(), nullable=False),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("health_changed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL"),
        **OPTIONS,
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(512), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        **OPTIONS,
    )
    op.create_index("ix_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])

    op.create_table(
        "webhooks",
        sa.Column("user_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        **OPTIONS,
    )

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("sim_id", sa.Integer(), nullable=True),
        sa.Column("sim_name", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("parts", sa.SmallInteger(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        **OPTIONS,
    )
    op.create_index("ix_inbound_user", "inbound_messages", ["user_id", "id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("flash", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.Enum(*MESSAGE_STATUSES, name="messagestatus"), nullable=False),
        sa.Column("attempts_allowed", sa.SmallInteger(), nullable=False),
        sa.Column("attempts_made", sa.SmallInteger(), nullable=False),
        sa.Column("parts", sa.SmallInteger(), nullable=True),
        sa.Column("sim_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("send_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("wait_reason", sa.String(255), nullable=True),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.Column("delivery_report", sa.Boolean(), nullable=True),
        sa.Column("delivery_status", sa.Integer(), nullable=True),
        sa.Column("callback_url", sa.String(2048), nullable=True),
        sa.Column("ignore_opt_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["request_id"], ["send_requests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], ondelete="SET NULL"),
        **OPTIONS,
    )
    # Matches dispatch's ORDER BY (priority DESC), so a claim reads only the rows it takes.
    op.create_index("ix_messages_claim", "messages", ["status", sa.text("priority DESC"), "due_at", "id"])
    op.create_index("ix_messages_user_created", "messages", ["user_id", "created_at"])

    op.create_table(
        "sim_usage",
        sa.Column("sim_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sim_id", "period_start"),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], ondelete="CASCADE"),
        **OPTIONS,
    )

    op.create_table(
        "inbound_parts",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("sim_name", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reference", sa.Integer(), nullable=True),
        sa.Column("total", sa.SmallInteger(), nullable=False),
        sa.Column("sequence", sa.SmallInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["message_id"], ["inbound_messages.id"], ondelete="SET NULL"),
        **OPTIONS,
    )
    op.create_index("ix_inbound_parts_inbox_id", "inbound_parts", ["inbox_id"])
    op.create_index(
        "ix_inbound_parts_open", "inbound_parts", ["message_id", "sim_name", "sender", "reference"]
    )

    op.create_table(
        "message_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("sim_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("parts", sa.SmallInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("outcome", sa.Enum(*ATTEMPT_OUTCOMES, name="attemptoutcome"), nullable=False),
        sa.Column("error", sa.String(255), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], ondelete="CASCADE"),
        **OPTIONS,
    )
    op.create_index("ix_attempts_outcome", "message_attempts", ["outcome", "outbox_id"])

    op.create_table(
        "rule_results",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=True),
        sa.Column("inbound_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="SET NULL"),
        **OPTIONS,
    )
    op.create_index("ix_rule_results_inbound_id", "rule_results", ["inbound_id"])


def downgrade() -> None:
    # Below the baseline there is no schema, only data loss: refuse.
    raise NotImplementedError("the baseline cannot be downgraded; drop the tables by hand")
