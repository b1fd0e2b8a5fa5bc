"""The one error type of the service; webapp.http renders it."""

from __future__ import annotations


class ApiError(Exception):
    """An error the client is told about: a contract code, a message and an HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        *,
        retry_after: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.field = field  # the request field a VALIDATION_ERROR is about


def unauthorized() -> ApiError:
    return ApiError("UNAUTHORIZED", "Authentication required", 401)


def invalid_user_id() -> ApiError:
    return ApiError("INVALID_USER_ID", "Invalid user ID", 400)
