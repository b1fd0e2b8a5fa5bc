"""All providers started and stopped together, and the creator's browser at the authorize page."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlsplit

from .base import ProviderStandIn
from .instagram import InstagramStandIn
from .reddit import RedditStandIn
from .tiktok import TikTokStandIn

BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) StandInBrowser/1.0"


class ProviderStandIns:
    """One stand-in server per provider, each on its own ephemeral 127.0.0.1 port."""

    def __init__(self) -> None:
        self.instagram = InstagramStandIn()
        self.tiktok = TikTokStandIn()
        self.reddit = RedditStandIn()

    @property
    def all(self) -> tuple[ProviderStandIn, ...]:
        return (self.instagram, self.tiktok, self.reddit)

    def __getitem__(self, name: str) -> ProviderStandIn:
        """The stand-in of a provider by the service's name for it, for parametrized tests."""
        return {standin.name: standin for standin in self.all}[name]

    def start(self) -> None:
        try:
            for standin in self.all:
                standin.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for standin in self.all:
            standin.stop()

    def __enter__(self) -> ProviderStandIns:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings(self) -> dict[str, str]:
        """The service's environment for all providers: *_CLIENT_ID, *_CLIENT_SECRET, *_BASE_URL."""
        merged: dict[str, str] = {}
        for standin in self.all:
            merged |= standin.settings()
        return merged


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the Location is what a test wants, not the page behind it


def authorize_redirect(url: str) -> str:
    """Open an authorize URL as the creator's browser would; the Location it redirects to."""
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(url, headers={"User-Agent": BROWSER_USER_AGENT})
    try:
        with opener.open(request, timeout=5) as response:
            raise AssertionError(f"authorize answered {response.status}, not a redirect")
    except urllib.error.HTTPError as answer:
        with answer:
            if answer.code != 302:
                raise AssertionError(f"authorize answered {answer.code}: {answer.read()!r}")
            return str(answer.headers["Location"])


def authorize(url: str) -> tuple[str, str | None]:
    """The approving creator: (code, state) from the redirect, which must carry a code."""
    location = authorize_redirect(url)
    query = dict(parse_qsl(urlsplit(location).query))
    if "code" not in query:
        raise AssertionError(f"authorize did not grant a code: {location}")
    return query["code"], query.get("state")
