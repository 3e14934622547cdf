"""Projects and phases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
SELECT 1;
"""

DOWNGRADE = """
SELECT 1;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
