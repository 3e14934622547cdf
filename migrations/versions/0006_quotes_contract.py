"""Quotes and the contract ledger.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0006"
down_revision = "0005"
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
