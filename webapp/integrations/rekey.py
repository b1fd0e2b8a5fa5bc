"""Re-encrypt every stored secret under the first TOKEN_ENCRYPTION_KEYS key, so that an older
key can then be removed from the setting (rotation: add the new key in front, run this)."""

from __future__ import annotations

from sqlalchemy import Text, select, type_coerce, update

from ..crypto import cipher
from ..extensions import db
from ..models import Integration

BATCH = 500
_SECRETS = (Integration.access_token, Integration.refresh_token, Integration.api_key)


def reencrypt_all() -> int:
    """Rotate each integration's secrets, a locked batch at a time; how many rows changed."""
    done, after = 0, 0
    while True:
        rows = db.session.execute(
            select(Integration.id, *(type_coerce(column, Text) for column in _SECRETS))
            .where(Integration.id > after)
            .order_by(Integration.id)
            .limit(BATCH)
            .with_for_update()
        ).all()
        if not rows:
            db.session.rollback()
            return done
        for integration_id, *stored in rows:
            rotated = {
                column.key: cipher().rotate(value)
                for column, value in zip(_SECRETS, stored, strict=True)
                if value is not None
            }
            if rotated:
                db.session.execute(
                    update(Integration)
                    .where(Integration.id == integration_id)
                    .values(**rotated, updated_at=Integration.updated_at)  # not a change to show
                )
                done += 1
        db.session.commit()
        after = rows[-1][0]
