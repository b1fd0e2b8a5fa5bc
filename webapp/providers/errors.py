"""What a provider call can fail with: the callers' whole vocabulary for provider trouble."""

from __future__ import annotations


class ProviderError(Exception):
    """The provider could not do what was asked."""


class ReauthRequired(ProviderError):
    """The grant is dead (revoked, expired, invalid): only a new authorization helps."""


class ProviderUnavailable(ProviderError):
    """Unreachable, failing or throttling after retries; try again later."""

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after
