"""Post-launch support.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0009"
down_revision = "0008"
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
