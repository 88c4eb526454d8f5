"""Python client for task sources of the labeling marketplace.

    from marketplace_client import MarketplaceClient, verify_webhook
"""

from marketplace_client._http import RetryPolicy
from marketplace_client.client import MarketplaceClient, PreferenceStream, UploadProgress, UploadReport
from marketplace_client.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    LineError,
    MarketplaceError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    UnsupportedMediaType,
    UploadRejected,
)
from marketplace_client.webhooks import WebhookVerificationError, verify_webhook

__version__ = "0.1.0"
__all__ = [
    "AuthenticationFailed", "BadRequest", "Conflict", "LineError", "MarketplaceClient", "MarketplaceError", "NotFound",
    "PermissionDenied", "PreferenceStream", "RateLimited", "RetryPolicy", "ServerError", "ServiceUnavailable",
    "TransportError", "UnsupportedMediaType", "UploadProgress", "UploadRejected", "UploadReport",
    "WebhookVerificationError", "verify_webhook",
]
