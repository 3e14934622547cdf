"""The house in order: what the explicit wiring and the event catalog need in storage.

Reserved so that the work of this round can be written side by side in a fixed order; it changes
nothing until its capability fills it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from migrations.sql import run

revision = "0018"
down_revision = "0017"
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
