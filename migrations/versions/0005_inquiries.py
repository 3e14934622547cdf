"""Inquiries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0005"
down_revision = "0004"
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
