"""Domain errors shared by every service; the HTTP layer maps each to one problem status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a handler or entity raises on purpose."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    """The resource does not exist for this caller (also used for other orgs' ids)."""

    status = 404
    title = "Not found"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    """The request clashes with the current state (wrong state, duplicate, rule not met)."""

    status = 409
    title = "Conflict"


class StaleWrite(Conflict):
    """A conditional write matched no row: someone changed it since it was loaded.

    The HTTP layer answers 412 when the request carried If-Match, 409 otherwise.
    """


class PreconditionFailed(DomainError):
    """An If-Match precondition no longer holds."""

    status = 412
    title = "Precondition failed"


class InvalidInput(DomainError):
    """The request is well-formed but breaks a domain rule on its values."""

    status = 422
    title = "Unprocessable content"
