"""Security: server-side admin sessions, shared login-failure counters, API
key last use, per-user opt-out lists.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Self-contained (issue #11): only these tables and columns.

- ``admin_sessions``: a session ends when its row goes (logout, new password,
  block), not when its cookie expires.
- ``login_failures``: failed logins per (address, login) and per address, in
  the database so that every web process sees the same count.
- ``api_keys.last_used_at``: shown by `user keys` and the admin.
- ``user_opt_outs`` and ``opt_out_events.user_id``: a user's own opt-out list
  (the global list stays ``opt_outs``, fed by admins and STOP replies).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        **OPTIONS,
    )
    op.create_table(
        "login_failures",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address", "login"),
        **OPTIONS,
    )
    op.create_table(
        "user_opt_outs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "phone"),
        **OPTIONS,
    )
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(), nullable=True))
    op.add_column("opt_out_events", sa.Column("user_id", sa.Integer(), nullable=True))
    op.create_foreign_key(None, "opt_out_events", "users", ["user_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    op.drop_constraint("opt_out_events_ibfk_1", "opt_out_events", type_="foreignkey")
    op.drop_column("opt_out_events", "user_id")
    op.drop_column("api_keys", "last_used_at")
    op.drop_table("user_opt_outs")
    op.drop_table("login_failures")
    op.drop_table("admin_sessions")
