"""Errors as values with a stable code.

The domain raises these; the HTTP layer renders every one of them in the single JSON error
shape of the API contract. `code` never changes with the language; the human message is looked
up by code in `bayaffairs.i18n` at render time, with `params` filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the service answers on purpose."""

    status: ClassVar[int] = 400
    code: str = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> None:
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})
        self.params = params
        super().__init__(self.code)


class InvalidInput(DomainError):
    """Malformed or invalid fields; `details["fields"]` maps field names to messages."""

    status = 400
    code = "invalid_request"

    def __init__(
        self,
        fields: Mapping[str, Any] | None = None,
        code: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(code, details={"fields": dict(fields)} if fields else None, **params)


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    status = 410
    code = "gone"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        """The message names the seconds (its template says `{retry_after}`)."""
        super().__init__(details={"retry_after": retry_after}, retry_after=retry_after)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A backing service (database, cache, partner) is down; nothing was written."""

    status = 503
    code = "service_unavailable"


class PartnerError(DomainError):
    """A partner system answered with an error or not at all."""

    status = 502
    code = "partner_error"
