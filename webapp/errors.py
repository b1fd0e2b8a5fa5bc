"""The one error type of the service, and the errors more than one module raises."""

from __future__ import annotations

from collections.abc import Mapping

# The contract's message when the creator's integrations cannot be read.
FAILED_TO_FETCH = "Failed to fetch integrations"


class ApiError(Exception):
    """An error the client is told about: a contract code, a message and an HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        *,
        retry_after: int | None = None,
        fields: Mapping[str, str] | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.fields = dict(fields or {})  # each bad request field and what is wrong with it
        self.details = dict(details or {})  # more keys of the error object (`reason`, ...)


def unauthorized() -> ApiError:
    return ApiError("UNAUTHORIZED", "Authentication required", 401)


def invalid_user_id() -> ApiError:
    return ApiError("INVALID_USER_ID", "Invalid user ID", 400)


def forbidden() -> ApiError:
    return ApiError("FORBIDDEN", "Cross-site request refused", 403)


def not_found() -> ApiError:
    # The same answer for another user's account and a missing one: ids are not disclosed.
    return ApiError("NOT_FOUND", "Integration not found", 404)


def reauth_required(details: Mapping[str, object] | None = None) -> ApiError:
    return ApiError(
        "REAUTH_REQUIRED",
        "The provider needs you to reconnect this account",
        409,
        details=details,
    )


def insufficient_scope(scope: str) -> ApiError:
    return ApiError("INSUFFICIENT_SCOPE", f"This key does not have the {scope} scope", 403)


def provider_unavailable(retry_after: int) -> ApiError:
    return ApiError(
        "PROVIDER_UNAVAILABLE",
        "The provider is unavailable. Please try again later.",
        502,
        retry_after=retry_after,
    )
