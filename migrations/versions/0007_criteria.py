"""Acceptance criteria.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0007"
down_revision = "0006"
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
