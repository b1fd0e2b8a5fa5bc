"""What a provider call can fail with: the callers' whole vocabulary for provider trouble."""

from __future__ import annotations


class ProviderError(Exception):
    """The provider could not do what was asked."""


class ReauthRequired(ProviderError):
    """The grant is dead: only a new authorization helps.

    Raised only for a provider's documented dead-grant answer (`detail` names it), or for a
    grant that simply ran out (`revoked` False: Instagram's token past its expiry).
    """

    def __init__(self, detail: str, *, revoked: bool = True) -> None:
        super().__init__(detail)
        self.detail = detail
        self.revoked = revoked


class ClientRejected(ProviderError):
    """The provider refused this service's own client credentials: an operator's error,
    never a sign that a creator's grant is dead."""


class ProviderUnavailable(ProviderError):
    """Unreachable, failing or throttling after retries; try again later.

    `outcome_unknown`: a request that changes state (a token POST) went out and no answer came
    back, so the provider may have acted on it (rotated a refresh token) without our knowing.
    `throttled`: the provider refused this client's quota; nothing succeeds for `retry_after`.
    """

    def __init__(
        self,
        message: str,
        retry_after: int = 30,
        *,
        outcome_unknown: bool = False,
        throttled: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        self.throttled = throttled
