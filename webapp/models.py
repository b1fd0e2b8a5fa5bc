"""Typed SQLAlchemy 2.0 models: data only, no queries and no commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .crypto import EncryptedText
from .extensions import Base
from .timeutil import UtcDateTime, utcnow


class User(Base):
    """NextAuth's `users` table (official Postgres adapter layout); the Next.js app may own it."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    email_verified: Mapped[datetime | None] = mapped_column("emailVerified", UtcDateTime)
    image: Mapped[str | None] = mapped_column(String)


class Session(Base):
    """NextAuth's `sessions` table, read for the database session strategy."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column("userId", Integer, nullable=False)
    expires: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    session_token: Mapped[str] = mapped_column("sessionToken", String(255), nullable=False)


class Integration(Base):
    """One connected social account of one user; secrets are encrypted by their column type."""

    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", "account_id"),
        Index("ix_integrations_expires_at", "expires_at"),
        # Provider-side revocations name the provider's account, not our user.
        Index("ix_integrations_provider_account_id", "provider", "account_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    account_id: Mapped[str] = mapped_column(String(255), nullable=False)
    account_name: Mapped[str] = mapped_column(String(255), nullable=False)
    access_token: Mapped[str | None] = mapped_column(EncryptedText)
    refresh_token: Mapped[str | None] = mapped_column(EncryptedText)
    api_key: Mapped[str | None] = mapped_column(EncryptedText)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    scope: Mapped[str | None] = mapped_column(Text)
    # Background refresh bookkeeping: failures in a row, when to try next, what went wrong.
    refresh_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_refresh_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_refresh_error: Mapped[str | None] = mapped_column(String(64))
    # Known to need the creator even before `expires_at`: why (status.EXPIRED_REASONS), the
    # provider's own word for it, and when we learnt it. Cleared by a reconnect or refresh.
    expired_reason: Mapped[str | None] = mapped_column(String(32))
    expired_detail: Mapped[str | None] = mapped_column(String(64))
    expired_marked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the provider last confirmed the grant works (connect, refresh, `verify`).
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the creator gave the current grant (connect or reconnect; None before revision 0005).
    granted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The last time a platform backend forced a refresh or check (credentials.FORCE_EVERY), and
    # what came of it: within that window the same answer is given without the provider.
    forced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    forced_outcome: Mapped[str | None] = mapped_column(String(16))
    # When the provider issued the current access token (connect, refresh): Instagram renews
    # only a token a day old. None before revision 20261201_0006.
    token_obtained_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the refresh token stops working (TikTok's refresh_expires_in); None: until revoked.
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When a token request of this grant went out and no answer came back: the provider may
    # have rotated the refresh token meanwhile. Cleared by the next answered one.
    renewal_unanswered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class AccountAlias(Base):
    """Another id a provider gave for an integration's account (Instagram names one account
    three ways); a provider's callback may name the account by any of them."""

    __tablename__ = "account_aliases"
    __table_args__ = (
        UniqueConstraint("integration_id", "alias"),
        Index("ix_account_aliases_provider_alias", "provider", "alias"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False
    )
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    alias: Mapped[str] = mapped_column(String(255), nullable=False)


class OAuthState(Base):
    """A pending authorization: single-use, bound to a user and provider, short-lived.

    Only a hash of the state is kept, so a database read cannot complete someone's flow.
    """

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)


class DeletionRequest(Base):
    """A provider's data deletion request (Meta's callback), kept so its status can be shown.

    Only a hash of the signed request is kept: enough to answer a redelivery with the same
    confirmation code, nothing that names the person.
    """

    __tablename__ = "deletion_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    confirmation_code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    integrations_deleted: Mapped[int] = mapped_column(Integer, nullable=False)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Notice(Base):
    """A message the page shows a creator once, for a change they did not make on the page."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key: Mapped[str] = mapped_column(String(32), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)


class OutboxEvent(Base):
    """An event for the platform, written in the same transaction as the change it reports.

    `deliver-events` sends them, in order per integration, signed as Standard Webhooks; the
    body is the exact JSON sent, with no secret in it (after a data deletion, without the
    account's id and name: events.forget_sent_account).
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        # Also how /metrics finds the pending events, however many delivered ones are kept.
        Index("ix_outbox_events_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    integration_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # events.PENDING...
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutboxTotal(Base):
    """How many events of a type reached a final status (delivered, failed, gone), counted in
    the transaction that recorded it: /metrics reads these rows, never the whole outbox."""

    __tablename__ = "outbox_totals"

    type: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    total: Mapped[int] = mapped_column(Integer, nullable=False)


class ApiKey(Base):
    """A service key of one of the platform's backends. Only a hash of the key is kept: the key
    itself is shown once, when it is made."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)  # shown in listings
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scopes: Mapped[str] = mapped_column(Text, nullable=False)  # space-separated
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
