"""Delivery workers: batched claims with heartbeat leases, endpoint health by time, email deliveries as a resource.

Reserved so that the work of this round can be written side by side in a fixed order; it changes
nothing until its capability fills it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from migrations.sql import run

revision = "0013"
down_revision = "0012"
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
