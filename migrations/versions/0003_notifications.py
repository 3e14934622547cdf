"""Notifications: email and webhook deliveries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0003"
down_revision = "0002"
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
