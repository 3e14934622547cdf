"""Change requests.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0008"
down_revision = "0007"
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
