"""HTTP plumbing shared by every API client: session, retry policy, pacing, error mapping."""

from transfer.http.client import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    HttpClient,
    HttpClientOwner,
    HttpStats,
    Response,
    StreamedResponse,
    Timeouts,
)
from transfer.http.error_mapping import (
    error_for_status,
    error_message_from_body,
    is_throttle,
    map_exception,
    parse_retry_after,
)
from transfer.http.pacing import AdaptiveLimiter, RateLimitInfo, int_header
from transfer.http.retry import NO_RETRY, RetryHook, RetryPolicy, Sleep, is_retryable

__all__ = [
    "NO_RETRY",
    "AdaptiveLimiter",
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "HttpClient",
    "HttpClientOwner",
    "HttpStats",
    "RateLimitInfo",
    "Response",
    "RetryHook",
    "RetryPolicy",
    "Sleep",
    "StreamedResponse",
    "Timeouts",
    "error_for_status",
    "error_message_from_body",
    "int_header",
    "is_retryable",
    "is_throttle",
    "map_exception",
    "parse_retry_after",
]
