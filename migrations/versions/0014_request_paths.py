"""Request paths close to the floor: what the status, intake and list paths need in storage.

Reserved so that the work of this round can be written side by side in a fixed order; it changes
nothing until its capability fills it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from migrations.sql import run

revision = "0014"
down_revision = "0013"
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
