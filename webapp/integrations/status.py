"""What a creator may see of an integration: its status and why, and the contract's object.

The one home of the rule that decides `connected` or `expired`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..models import Integration
from ..timeutil import iso_z

# Why an integration reads `expired`: its expiry passed (with failed refreshes, or none), or
# the provider said the grant is dead (answering a call, or by its own webhook), or it refused
# the grant after a renewal whose answer never came (the rotated token was lost, not revoked).
EXPIRED = "expired"
REFRESH_FAILED = "refresh_failed"
ACCESS_REVOKED = "access_revoked"
PROVIDER_REMOVED = "provider_removed"
RENEWAL_INTERRUPTED = "renewal_interrupted"
EXPIRED_REASONS = (EXPIRED, REFRESH_FAILED, ACCESS_REVOKED, PROVIDER_REMOVED, RENEWAL_INTERRUPTED)
# Only a new authorization helps.
DEAD_REASONS = (ACCESS_REVOKED, PROVIDER_REMOVED, RENEWAL_INTERRUPTED)


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    """What a creator may see of an integration: no secrets."""

    id: int
    provider: str
    account_id: str
    account_name: str
    status: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    reason: str | None  # why it is expired (EXPIRED_REASONS); None while connected
    failed_refreshes: int
    renew_by: datetime | None = None  # when its refresh token ends (TikTok): reconnect before


def expired_because(
    expires_at: datetime | None, marked: str | None, failed_refreshes: int, now: datetime
) -> str | None:
    """Why the integration needs its creator at `now`, or None when it works."""
    if marked is not None:
        return marked
    if expires_at is not None and expires_at <= now:
        return REFRESH_FAILED if failed_refreshes else EXPIRED
    return None


def status_at(reason: str | None) -> str:
    """The contract's status: `expired` whenever there is a reason, else `connected`."""
    return "connected" if reason is None else "expired"


# What a creator's status is made of: the columns the status endpoint reads.
STATUS_COLUMNS = (
    Integration.id,
    Integration.provider,
    Integration.account_id,
    Integration.account_name,
    Integration.expires_at,
    Integration.created_at,
    Integration.updated_at,
    Integration.expired_reason,
    Integration.refresh_failures,
    Integration.refresh_expires_at,
)


class _StatusColumns(Protocol):
    """An integration row, or a row of STATUS_COLUMNS: what a status is made of."""

    id: int
    provider: str
    account_id: str
    account_name: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    expired_reason: str | None
    refresh_failures: int
    refresh_expires_at: datetime | None


def to_status(row: _StatusColumns, now: datetime) -> IntegrationStatus:
    """What the creator sees of an integration at `now`."""
    reason = expired_because(row.expires_at, row.expired_reason, row.refresh_failures, now)
    return IntegrationStatus(
        id=row.id,
        provider=row.provider,
        account_id=row.account_id,
        account_name=row.account_name,
        status=status_at(reason),
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        reason=reason,
        failed_refreshes=row.refresh_failures,
        renew_by=row.refresh_expires_at,
    )


def contract_json(item: IntegrationStatus) -> dict[str, Any]:
    """The contract's integration object, keys in the contract's order."""
    return {
        "id": item.id,
        "provider": item.provider,
        "accountId": item.account_id,
        "accountName": item.account_name,
        "status": item.status,
        "expiresAt": iso_z(item.expires_at),
        "createdAt": iso_z(item.created_at),
        "updatedAt": iso_z(item.updated_at),
    }
