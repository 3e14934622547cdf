"""Hostile-input hardening: integration scopes for intake duplicates, sealed idempotency responses and what else it needs.

Reserved so that the work of this round can be written side by side in a fixed order; it changes
nothing until its capability fills it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from migrations.sql import run

revision = "0011"
down_revision = "0010"
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
