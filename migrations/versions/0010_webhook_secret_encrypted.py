"""Webhook signing secrets encrypted at rest.

- ``webhook_endpoints.secret`` (clear text) becomes ``secret_sealed`` (bytea): every existing secret is
  sealed with AES-256-GCM under the first key of ``WEBHOOK_SECRET_KEYS`` (read with
  ``Settings.from_env()``, so production needs the variable here too), with the endpoint's id (its 16
  bytes) as associated data, in the format of ``api.kit.secretbox``. Then the column is made NOT NULL
  and the clear-text column is dropped.
- Downgrade opens every secret with any key of ``WEBHOOK_SECRET_KEYS`` and writes it back into a
  ``secret text NOT NULL`` column; a secret no configured key opens stops the downgrade (nothing is
  changed) with the endpoint's id and the reason.
- The rows are read and written from Python, so this revision cannot run in offline (``--sql``) mode.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from alembic import context, op

from api.kit import secretbox
from api.settings import Settings

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_WRITE_SEALED = sa.text("UPDATE webhook_endpoints SET secret_sealed = :sealed WHERE id = :id").bindparams(
    sa.bindparam("sealed", type_=sa.LargeBinary)
)
_WRITE_CLEAR = sa.text("UPDATE webhook_endpoints SET secret = :secret WHERE id = :id")


def _keys() -> secretbox.Keyring:
    if context.is_offline_mode():
        raise RuntimeError("revision 0010 re-encrypts stored rows and needs a live database (no --sql)")
    return Settings.from_env().webhook_secret_keys


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def upgrade() -> None:
    keys = _keys()
    bind = op.get_bind()
    op.execute("ALTER TABLE webhook_endpoints ADD COLUMN secret_sealed bytea")
    rows = bind.execute(sa.text("SELECT id, secret FROM webhook_endpoints ORDER BY id")).all()
    sealed = [{"id": row.id, "sealed": secretbox.seal(keys, row.secret, _uuid(row.id).bytes)} for row in rows]
    if sealed:
        bind.execute(_WRITE_SEALED, sealed)
    op.execute("ALTER TABLE webhook_endpoints ALTER COLUMN secret_sealed SET NOT NULL")
    op.execute("ALTER TABLE webhook_endpoints DROP COLUMN secret")


def downgrade() -> None:
    keys = _keys()
    bind = op.get_bind()
    op.execute("ALTER TABLE webhook_endpoints ADD COLUMN secret text")
    rows = bind.execute(sa.text("SELECT id, secret_sealed FROM webhook_endpoints ORDER BY id")).all()
    opened: list[dict[str, object]] = []
    for row in rows:
        try:
            secret = secretbox.unseal(keys, bytes(row.secret_sealed), _uuid(row.id).bytes)
        except secretbox.SealError as exc:
            raise RuntimeError(
                f"webhook endpoint {row.id}: signing secret cannot be decrypted ({exc})"
            ) from None
        opened.append({"id": row.id, "secret": secret})
    if opened:
        bind.execute(_WRITE_CLEAR, opened)
    op.execute("ALTER TABLE webhook_endpoints ALTER COLUMN secret SET NOT NULL")
    op.execute("ALTER TABLE webhook_endpoints DROP COLUMN secret_sealed")
