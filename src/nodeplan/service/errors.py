"""Errors of the service: bad settings (:class:`ServiceError`) and refused requests (:class:`ApiError`).

The app turns an :class:`ApiError` into ``{"error": message}`` with its HTTP status; the message is one
line naming the field and the bad value, as everywhere in nodeplan.
"""

from __future__ import annotations

from nodeplan.exceptions import NodeplanError

__all__ = ["ApiError", "ServiceError"]


class ServiceError(NodeplanError, ValueError):
    """The service cannot start as configured (no admin token, a database seeded from another scenario)."""


class ApiError(ServiceError):
    """A request the service refuses, with its HTTP status (400, 401, 403, 404, 409, 422, 503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
