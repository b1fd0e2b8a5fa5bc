"""Fixtures of the webhook tests: the service as the providers call it, and its creators."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from ..support.webhooks import PUBLIC

COOKIE = "__Secure-next-auth.session-token"  # what NextAuth sets on an https origin


@pytest.fixture
def service(make_app, standins, extra_settings):
    return make_app(**standins.settings(), PUBLIC_BASE_URL=PUBLIC, **extra_settings)


@pytest.fixture
def sign_in(service, add_user, db_session_cookie) -> Callable[[int], FlaskClient]:
    """A signed-in creator's client on the service (the user is created)."""

    def make(user_id: int) -> FlaskClient:
        add_user(user_id)
        client = service.test_client()
        client.set_cookie(COOKIE, db_session_cookie(user_id))
        return client

    return make


@pytest.fixture
def provider(service) -> FlaskClient:
    """The provider's servers calling us: no cookie, no CSRF token."""
    return service.test_client()
