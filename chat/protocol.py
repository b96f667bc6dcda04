"""The /ws contract (shared/protocol.md) as constants: message types and error codes."""

from __future__ import annotations

PROTOCOL_VERSION = 1
MAX_ID_LENGTH = 64

# Error codes
BAD_REQUEST = "bad_request"
UNKNOWN_TYPE = "unknown_type"
TOO_LARGE = "too_large"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
RATE_LIMITED = "rate_limited"
BACKEND_UNAVAILABLE = "backend_unavailable"
INTERNAL = "internal"

# Close code for an unauthenticated handshake that got as far as accept, and for an open socket whose token
# was revoked, session logged out or user deactivated (re-checked every WS_AUTH_RECHECK_S seconds).
CLOSE_UNAUTHORIZED = 4401
# The server is restarting (SIGTERM): running answers were saved; reconnect and chat:resume.
CLOSE_RESTARTING = 4012


class ProtocolError(Exception):
    """Turned into one `error` frame in one place (the consumer); never closes the connection."""

    def __init__(self, code: str, message: str, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra
