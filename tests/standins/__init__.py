"""Local stand-ins for the OAuth providers, speaking their documented HTTP on 127.0.0.1.

with ProviderStandIns() as standins:
    app = make_app(**standins.settings())
    code, state = authorize(authorization_url_from_the_service)
"""

from .base import ProviderStandIn
from .instagram import InstagramStandIn
from .reddit import RedditStandIn
from .suite import BROWSER_USER_AGENT, ProviderStandIns, authorize, authorize_redirect
from .tiktok import TikTokStandIn
from .wire import RecordedRequest

__all__ = [
    "BROWSER_USER_AGENT",
    "InstagramStandIn",
    "ProviderStandIn",
    "ProviderStandIns",
    "RecordedRequest",
    "RedditStandIn",
    "TikTokStandIn",
    "authorize",
    "authorize_redirect",
]
