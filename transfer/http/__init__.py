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
    RetryHook,
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
from transfer.http.pacing import AdaptiveLimiter, RateLimitInfo
from transfer.http.retry import RetryPolicy, is_retryable

__all__ = [
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
    "StreamedResponse",
    "Timeouts",
    "error_for_status",
    "error_message_from_body",
    "is_retryable",
    "is_throttle",
    "map_exception",
    "parse_retry_after",
]
