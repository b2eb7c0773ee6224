"""Notebooks: named pages of report cells; markdown cells; chart columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

``notebooks`` (id, unique name, position), ``report_cells.notebook_id``
(the cell's notebook, deleted with it) and the chart's columns
``chart_x``, ``chart_y``, ``chart_y2``. Cells stored before this revision
go to a notebook named "Reports", in their order. Self-contained: it does
not import the models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
EXISTING_CELLS_NOTEBOOK = "Reports"


def upgrade() -> None:
    notebooks = op.create_table(
        "notebooks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("name"),
        **OPTIONS,
    )
    # Nullable until the cells already stored have their notebook.
    op.add_column("report_cells", sa.Column("notebook_id", sa.Integer(), nullable=True))
    op.add_column("report_cells", sa.Column("chart_x", sa.String(64), nullable=True))
    op.add_column("report_cells", sa.Column("chart_y", sa.String(255), nullable=True))
    op.add_column("report_cells", sa.Column("chart_y2", sa.String(255), nullable=True))
    bind = op.get_bind()
    cells = sa.table("report_cells", sa.column("notebook_id", sa.Integer()))
    if bind.execute(sa.select(sa.func.count()).select_from(cells)).scalar():
        now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as stored everywhere
        bind.execute(
            sa.insert(notebooks).values(
                name=EXISTING_CELLS_NOTEBOOK, position=0, created_at=now, updated_at=now
            )
        )
        notebook_id = bind.execute(
            sa.select(notebooks.c.id).where(notebooks.c.name == EXISTING_CELLS_NOTEBOOK)
        ).scalar_one()
        bind.execute(sa.update(cells).values(notebook_id=notebook_id))
    op.alter_column("report_cells", "notebook_id", existing_type=sa.Integer(), nullable=False)
    op.create_foreign_key(None, "report_cells", "notebooks", ["notebook_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    # InnoDB named the key; find it rather than guess.
    for key in sa.inspect(op.get_bind()).get_foreign_keys("report_cells"):
        if key["constrained_columns"] == ["notebook_id"] and key["name"]:
            op.drop_constraint(key["name"], "report_cells", type_="foreignkey")
    for name in ("chart_y2", "chart_y", "chart_x", "notebook_id"):
        op.drop_column("report_cells", name)
    op.drop_table("notebooks")
