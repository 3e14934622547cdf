"""Business calendar and SLA timers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0002"
down_revision = "0001"
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
